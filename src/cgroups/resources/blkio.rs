//! Block I/O: v1 `blkio.*` (CFQ `blkio.weight` or BFQ `blkio.bfq.weight`, per-device weights,
//! throttles) and v2 `io.bfq.weight` / `io.weight` (converted like runc) / `io.max`.
//! `leafWeight` exists only with CFQ (v1); it is ignored on v2, like runc.

use std::path::Path;

use anyhow::Result;
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::convert::blkio_to_io_weight;
use super::{field_err, Place, Target};

/// (OCI field, v1 file, v2 io.max key) for each throttle list.
const THROTTLES: [(&str, &str, &str); 4] = [
    (
        "blockIO.throttleReadBpsDevice",
        "blkio.throttle.read_bps_device",
        "rbps",
    ),
    (
        "blockIO.throttleWriteBpsDevice",
        "blkio.throttle.write_bps_device",
        "wbps",
    ),
    (
        "blockIO.throttleReadIOPSDevice",
        "blkio.throttle.read_iops_device",
        "riops",
    ),
    (
        "blockIO.throttleWriteIOPSDevice",
        "blkio.throttle.write_iops_device",
        "wiops",
    ),
];

fn throttles(b: &LinuxBlockIo) -> [&Option<Vec<LinuxThrottleDevice>>; 4] {
    [
        b.throttle_read_bps_device(),
        b.throttle_write_bps_device(),
        b.throttle_read_iops_device(),
        b.throttle_write_iops_device(),
    ]
}

fn is_empty(b: &LinuxBlockIo) -> bool {
    b.weight().is_none()
        && b.leaf_weight().is_none()
        && b.weight_device().as_ref().is_none_or(|v| v.is_empty())
        && throttles(b)
            .iter()
            .all(|t| t.as_ref().is_none_or(|v| v.is_empty()))
}

fn check_weight(field: &str, w: u16) -> Result<()> {
    if !(10..=1000).contains(&w) {
        return Err(field_err!(
            field,
            "invalid value {w} (valid range is 10-1000)"
        ));
    }
    Ok(())
}

fn check_device(field: &str, major: i64, minor: i64) -> Result<()> {
    if major < 0 || minor < 0 {
        return Err(field_err!(field, "invalid device {major}:{minor}"));
    }
    if !Path::new(&format!("/sys/dev/block/{major}:{minor}")).exists() {
        return Err(field_err!(
            field,
            "no block device {major}:{minor} on this host"
        ));
    }
    Ok(())
}

/// The v1 weight files: CFQ's if present, else BFQ's. (weight, weight_device)
fn v1_weight_files(t: &Target, d: &Path) -> Option<(&'static str, &'static str)> {
    if t.has_file(d, "blkio.weight") {
        Some(("blkio.weight", "blkio.weight_device"))
    } else if t.has_file(d, "blkio.bfq.weight") {
        Some(("blkio.bfq.weight", "blkio.bfq.weight_device"))
    } else {
        None
    }
}

pub fn validate(t: &Target, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight() {
        check_weight("blockIO.weight", w)?;
    }
    if let Some(w) = b.leaf_weight() {
        check_weight("blockIO.leafWeight", w)?;
    }
    for wd in b.weight_device().iter().flatten() {
        check_device("blockIO.weightDevice", wd.major(), wd.minor())?;
        if let Some(w) = wd.weight() {
            check_weight("blockIO.weightDevice.weight", w)?;
        }
        if let Some(w) = wd.leaf_weight() {
            check_weight("blockIO.weightDevice.leafWeight", w)?;
        }
    }
    for ((field, _, _), list) in THROTTLES.iter().zip(throttles(b)) {
        for td in list.iter().flatten() {
            check_device(field, td.major(), td.minor())?;
        }
    }
    if is_empty(b) {
        return Ok(());
    }
    let place = t.place("blkio", "io").ok_or_else(|| {
        field_err!(
            "blockIO",
            "the blkio (v1) / io (v2) cgroup controller is not available"
        )
    })?;
    match place {
        Place::V1(d) => {
            let weights =
                b.weight().is_some() || b.weight_device().as_ref().is_some_and(|v| !v.is_empty());
            if weights && v1_weight_files(t, d).is_none() {
                return Err(field_err!(
                    "blockIO.weight",
                    "not supported by this kernel's I/O scheduler (no blkio.weight or blkio.bfq.weight)"
                ));
            }
            if b.leaf_weight().is_some() && !t.has_file(d, "blkio.leaf_weight") {
                return Err(field_err!(
                    "blockIO.leafWeight",
                    "not supported by this kernel (no blkio.leaf_weight, CFQ only)"
                ));
            }
            for ((field, file, _), list) in THROTTLES.iter().zip(throttles(b)) {
                if list.as_ref().is_some_and(|v| !v.is_empty()) && !t.has_file(d, file) {
                    return Err(field_err!(
                        field,
                        "not supported by this kernel (no {file})"
                    ));
                }
            }
        }
        Place::V2(_) => {}
    }
    Ok(())
}

pub fn apply(t: &Target, b: &LinuxBlockIo) -> Result<()> {
    if is_empty(b) {
        return Ok(());
    }
    let place = t.place("blkio", "io").ok_or_else(|| {
        field_err!(
            "blockIO",
            "the blkio (v1) / io (v2) cgroup controller is not available"
        )
    })?;
    match place {
        Place::V1(d) => apply_v1(t, d, b),
        Place::V2(d) => apply_v2(d, b),
    }
}

fn apply_v1(t: &Target, d: &Path, b: &LinuxBlockIo) -> Result<()> {
    let files = v1_weight_files(t, d);
    if let (Some(w), Some((wf, _))) = (b.weight(), files) {
        super::write(d, wf, &w.to_string(), "blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight() {
        super::write(d, "blkio.leaf_weight", &w.to_string(), "blockIO.leafWeight")?;
    }
    for wd in b.weight_device().iter().flatten() {
        if let (Some(w), Some((_, wdf))) = (wd.weight(), files) {
            let v = format!("{}:{} {}", wd.major(), wd.minor(), w);
            super::write(d, wdf, &v, "blockIO.weightDevice")?;
        }
        if let Some(w) = wd.leaf_weight() {
            let v = format!("{}:{} {}", wd.major(), wd.minor(), w);
            super::write(
                d,
                "blkio.leaf_weight_device",
                &v,
                "blockIO.weightDevice.leafWeight",
            )?;
        }
    }
    for ((field, file, _), list) in THROTTLES.iter().zip(throttles(b)) {
        for td in list.iter().flatten() {
            let v = format!("{}:{} {}", td.major(), td.minor(), td.rate());
            super::write(d, file, &v, field)?;
        }
    }
    Ok(())
}

/// One `io.max` line: "maj:min key=value" (rate 0 = "max").
pub fn io_max_line(major: i64, minor: i64, key: &str, rate: u64) -> String {
    let v = if rate == 0 {
        "max".to_string()
    } else {
        rate.to_string()
    };
    format!("{major}:{minor} {key}={v}")
}

fn apply_v2(d: &Path, b: &LinuxBlockIo) -> Result<()> {
    let bfq = d.join("io.bfq.weight").exists();
    if let Some(w) = b.weight() {
        if bfq {
            super::write(d, "io.bfq.weight", &w.to_string(), "blockIO.weight")?;
        } else {
            let v = blkio_to_io_weight(w as u64).to_string();
            super::write(d, "io.weight", &v, "blockIO.weight")?;
        }
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            let (file, v) = if bfq {
                ("io.bfq.weight", w as u64)
            } else {
                ("io.weight", blkio_to_io_weight(w as u64))
            };
            let line = format!("{}:{} {}", wd.major(), wd.minor(), v);
            super::write(d, file, &line, "blockIO.weightDevice")?;
        }
    }
    for ((field, _, key), list) in THROTTLES.iter().zip(throttles(b)) {
        for td in list.iter().flatten() {
            let line = io_max_line(td.major(), td.minor(), key, td.rate());
            super::write(d, "io.max", &line, field)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_max_lines() {
        assert_eq!(io_max_line(8, 0, "rbps", 1048576), "8:0 rbps=1048576");
        assert_eq!(io_max_line(8, 16, "wiops", 0), "8:16 wiops=max");
    }
}
