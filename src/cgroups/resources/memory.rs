//! Memory: v1 `memory.*` files, v2 `memory.max` / `memory.swap.max` / `memory.low`.
//!
//! v1 writes limit and memsw in the order the kernel accepts (memsw >= limit at every step,
//! as runc does). v2 has no kernel/kernelTCP/swappiness/oom_control/use_hierarchy files: those
//! fields are ignored there, like runc. `checkBeforeUpdate` (v2) refuses a limit below the
//! current usage on update; v1 refuses it in the kernel (EBUSY), reported the same way.

use std::io;

use anyhow::Result;
use oci_spec::runtime::LinuxMemory;

use super::convert::{max_or, swap_to_v2};
use super::{field_err, files, Place, Target};

fn place<'a>(t: &Target<'a>) -> Result<Place<'a>> {
    t.place("memory", "memory")
        .ok_or_else(|| field_err!("memory", "the memory cgroup controller is not available"))
}

pub fn validate(t: &Target, m: &LinuxMemory) -> Result<()> {
    for (name, v) in [
        ("memory.limit", m.limit()),
        ("memory.reservation", m.reservation()),
        ("memory.swap", m.swap()),
        ("memory.kernel", m.kernel()),
        ("memory.kernelTCP", m.kernel_tcp()),
    ] {
        if let Some(v) = v {
            if v < -1 {
                return Err(field_err!(
                    name,
                    "invalid value {v} (bytes, or -1 for unlimited)"
                ));
            }
        }
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(field_err!(
                "memory.swappiness",
                "invalid value {s} (valid range is 0-100)"
            ));
        }
    }
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    if swap > 0 && limit > 0 && swap < limit {
        return Err(field_err!(
            "memory.swap",
            "memory+swap limit ({swap}) should be greater than or equal to memory limit ({limit})"
        ));
    }
    if m.limit().is_none()
        && m.reservation().is_none()
        && m.swap().is_none()
        && m.kernel().is_none()
        && m.kernel_tcp().is_none()
        && m.swappiness().is_none()
        && m.disable_oom_killer().is_none()
        && m.use_hierarchy().is_none()
    {
        return Ok(());
    }
    match place(t)? {
        Place::V1(d) => {
            if swap != 0 && !t.has_file(d, "memory.memsw.limit_in_bytes") {
                return Err(field_err!(
                    "memory.swap",
                    "swap accounting is not enabled in this kernel (no memory.memsw.limit_in_bytes)"
                ));
            }
            if m.use_hierarchy() == Some(false) && t.update {
                // Only a fresh cgroup may change it; the kernel also refuses on update.
                return Err(field_err!(
                    "memory.useHierarchy",
                    "cannot be changed on a running container"
                ));
            }
        }
        Place::V2(d) => {
            swap_to_v2(swap, limit).map_err(|e| field_err!("memory.swap", "{e}"))?;
            if swap != 0 && !t.has_file(d, "memory.swap.max") && !t.pure_v2 {
                return Err(field_err!("memory.swap", "no memory.swap.max on this host"));
            }
            if t.update && m.check_before_update() == Some(true) && limit > 0 {
                let cur: i64 = files::read(d, "memory.current")?.parse().unwrap_or(0);
                if limit < cur {
                    return Err(field_err!(
                        "memory.limit",
                        "rejecting memory limit {limit} below current usage {cur}"
                    ));
                }
            }
        }
    }
    Ok(())
}

pub fn apply(t: &Target, m: &LinuxMemory) -> Result<()> {
    if m.limit().is_none()
        && m.reservation().is_none()
        && m.swap().is_none()
        && m.kernel().is_none()
        && m.kernel_tcp().is_none()
        && m.swappiness().is_none()
        && m.disable_oom_killer().is_none()
        && m.use_hierarchy().is_none()
    {
        return Ok(());
    }
    match place(t)? {
        Place::V1(d) => apply_v1(d, m),
        Place::V2(d) => apply_v2(d, m),
    }
}

fn busy_to_usage(d: &std::path::Path, e: io::Error, field: &str, v: i64) -> anyhow::Error {
    if e.raw_os_error() == Some(libc::EBUSY) {
        let usage = files::read(d, "memory.usage_in_bytes").unwrap_or_default();
        return field_err!(
            field,
            "cannot set limit {v} below the container's current memory usage ({usage} bytes)"
        );
    }
    files::err(d, "", &e).context(format!("linux.resources.{field}"))
}

fn write_v1(d: &std::path::Path, file: &str, v: i64, field: &str) -> Result<()> {
    files::write_raw(d, file, &v.to_string()).map_err(|e| {
        if e.raw_os_error() == Some(libc::EBUSY) {
            busy_to_usage(d, e, field, v)
        } else {
            field_err!(field, "{}: {}: {}", d.display(), file, files::errstr(&e))
        }
    })
}

fn apply_v1(d: &std::path::Path, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    let has_memsw = d.join("memory.memsw.limit_in_bytes").exists();
    if limit == -1 && swap == 0 && has_memsw {
        swap = -1;
    }
    let set_limit = |v: i64| -> Result<()> {
        if v != 0 {
            write_v1(d, "memory.limit_in_bytes", v, "memory.limit")?;
        }
        Ok(())
    };
    let set_swap = |v: i64| -> Result<()> {
        if v != 0 {
            write_v1(d, "memory.memsw.limit_in_bytes", v, "memory.swap")?;
        }
        Ok(())
    };
    // memsw must stay >= limit after every write: raise memsw first when it grows.
    let mut swap_first = false;
    if limit != 0 && swap != 0 {
        let cur: u64 = super::files::read(d, "memory.limit_in_bytes")?
            .parse()
            .unwrap_or(u64::MAX);
        swap_first = swap == -1 || cur < swap as u64;
    }
    if swap_first {
        set_swap(swap)?;
        set_limit(limit)?;
    } else {
        set_limit(limit)?;
        set_swap(swap)?;
    }
    if let Some(r) = m.reservation() {
        write_v1(d, "memory.soft_limit_in_bytes", r, "memory.reservation")?;
    }
    if let Some(k) = m.kernel() {
        // Deprecated since 5.4 and refused by recent kernels (EOPNOTSUPP): ignored like runc.
        if d.join("memory.kmem.limit_in_bytes").exists() {
            match files::write_raw(d, "memory.kmem.limit_in_bytes", &k.to_string()) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EOPNOTSUPP) | Some(libc::EINVAL)
                    ) => {}
                Err(e) => return Err(busy_to_usage(d, e, "memory.kernel", k)),
            }
        }
    }
    if let Some(k) = m.kernel_tcp() {
        if d.join("memory.kmem.tcp.limit_in_bytes").exists() {
            write_v1(d, "memory.kmem.tcp.limit_in_bytes", k, "memory.kernelTCP")?;
        } else {
            return Err(field_err!(
                "memory.kernelTCP",
                "not supported by this kernel"
            ));
        }
    }
    if let Some(s) = m.swappiness() {
        super::write(d, "memory.swappiness", &s.to_string(), "memory.swappiness")?;
    }
    if let Some(off) = m.disable_oom_killer() {
        super::write(
            d,
            "memory.oom_control",
            if off { "1" } else { "0" },
            "memory.disableOOMKiller",
        )?;
    }
    if let Some(h) = m.use_hierarchy() {
        let want = if h { "1" } else { "0" };
        // Recent kernels have it fixed at 1 and refuse writes of 0; write only a change.
        if files::read(d, "memory.use_hierarchy")? != want {
            super::write(d, "memory.use_hierarchy", want, "memory.useHierarchy")?;
        }
    }
    Ok(())
}

fn apply_v2(d: &std::path::Path, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let swap =
        swap_to_v2(m.swap().unwrap_or(0), limit).map_err(|e| field_err!("memory.swap", "{e}"))?;
    if swap != 0 && (d.join("memory.swap.max").exists() || swap != -1) {
        super::write(d, "memory.swap.max", &max_or(swap), "memory.swap")?;
    }
    if limit != 0 {
        super::write(d, "memory.max", &max_or(limit), "memory.limit")?;
    }
    if let Some(r) = m.reservation() {
        super::write(d, "memory.low", &max_or(r), "memory.reservation")?;
    }
    Ok(())
}
