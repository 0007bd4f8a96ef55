//! Pure conversions and parsers shared by the v1 and v2 writers (unit-tested below):
//! cgroup v1 <-> v2 value mappings as runc does them, cpu/mem lists, hugepage sizes.

use std::collections::BTreeSet;

/// cgroup v1 `cpu.shares` [2, 262144] (default 1024) -> v2 `cpu.weight` [1, 10000]
/// (default 100). runc's current mapping: a quadratic in log2(shares) that sends 2 -> 1,
/// 1024 -> 100 and 262144 -> 10000 exactly; 0 means "unset".
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    (10f64.powf(exponent).ceil() as u64).clamp(1, 10_000)
}

/// The inverse of [`shares_to_weight`] (for reporting a v2 weight as shares): the smallest
/// shares value whose weight is at least `weight`.
pub fn weight_to_shares(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    let (mut lo, mut hi) = (2u64, 262_144u64);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if shares_to_weight(mid) >= weight {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// v1 `blkio.weight` [10, 1000] -> v2 `io.weight` [1, 10000] (runc's linear map); 0 = unset.
pub fn blkio_to_io_weight(w: u64) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (w.saturating_sub(10)) * 9999 / 990
}

/// v2 `io.weight` -> v1 `blkio.weight` (inverse of [`blkio_to_io_weight`]); 0 = unset.
pub fn io_to_blkio_weight(w: u64) -> u64 {
    if w == 0 {
        return 0;
    }
    10 + (w.saturating_sub(1)) * 990 / 9999
}

/// OCI `memory.swap` (memory+swap, v1 semantics) -> v2 `memory.swap.max` (swap only).
/// Returns -1 for "max", 0 for "unset".
pub fn swap_to_v2(swap: i64, memory: i64) -> Result<i64, String> {
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        return Err("unable to set swap limit without memory limit".into());
    }
    if memory < 0 {
        return Err(format!("invalid memory value: {memory}"));
    }
    if swap < memory {
        return Err("memory+swap limit should be >= memory limit".into());
    }
    Ok(swap - memory)
}

/// "max" for -1 (and any negative), the number otherwise.
pub fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Parse a kernel list ("0-3,5,7-8"); None when malformed.
pub fn parse_list(s: &str) -> Option<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    let s = s.trim();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.trim().parse().ok()?;
                let b: u32 = b.trim().parse().ok()?;
                if a > b || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(part.parse().ok()?);
            }
        }
    }
    Some(out)
}

/// The kernel's name of a hugepage size from /sys/kernel/mm/hugepages ("hugepages-2048kB")
/// as used in hugetlb file names ("2MB").
pub fn hugepage_dir_to_name(dir: &str) -> Option<String> {
    let kb: u64 = dir
        .strip_prefix("hugepages-")?
        .strip_suffix("kB")?
        .parse()
        .ok()?;
    Some(if kb >= 1 << 20 && kb % (1 << 20) == 0 {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb % (1 << 10) == 0 {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    })
}

/// Normalise an OCI pageSize ("2MB", "2MiB", "1GB", "64KB") to the kernel's spelling; None if
/// it is not `<number><KB|MB|GB>` (binary units, as the spec means them).
pub fn normalize_page_size(s: &str) -> Option<String> {
    let s = s.trim();
    let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let kb = match s[digits..].to_ascii_uppercase().as_str() {
        "KB" | "KIB" | "K" => n,
        "MB" | "MIB" | "M" => n << 10,
        "GB" | "GIB" | "G" => n << 20,
        _ => return None,
    };
    if kb == 0 {
        return None;
    }
    hugepage_dir_to_name(&format!("hugepages-{kb}kB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_weight_fixed_points() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1_000_000), 10_000);
        let mut last = 0;
        for s in [3, 10, 100, 512, 2048, 4096, 100_000] {
            let w = shares_to_weight(s);
            assert!(w >= last && (1..=10_000).contains(&w), "{s} -> {w}");
            last = w;
        }
        assert_eq!(weight_to_shares(100), 1024.min(weight_to_shares(100)));
        assert_eq!(shares_to_weight(weight_to_shares(100)), 100);
        assert_eq!(weight_to_shares(1), 2);
    }

    #[test]
    fn blkio_io_weight() {
        assert_eq!(blkio_to_io_weight(0), 0);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 1 + 490 * 9999 / 990);
        assert_eq!(io_to_blkio_weight(1), 10);
        assert_eq!(io_to_blkio_weight(10_000), 1000);
        for w in [10, 100, 500, 1000] {
            let back = io_to_blkio_weight(blkio_to_io_weight(w));
            assert!(back.abs_diff(w) <= 1, "{w} -> {back}");
        }
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_to_v2(0, -1), Ok(-1));
        assert_eq!(swap_to_v2(-1, 100), Ok(-1));
        assert_eq!(swap_to_v2(0, 100), Ok(0));
        assert_eq!(swap_to_v2(300, 100), Ok(200));
        assert_eq!(swap_to_v2(100, 100), Ok(0));
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(50, 0).is_err());
    }

    #[test]
    fn lists() {
        let l = parse_list("0-2,5").unwrap();
        assert_eq!(l.into_iter().collect::<Vec<_>>(), vec![0, 1, 2, 5]);
        assert!(parse_list("").unwrap().is_empty());
        assert!(parse_list("3-1").is_none());
        assert!(parse_list("a").is_none());
        assert!(parse_list("-1").is_none());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(
            hugepage_dir_to_name("hugepages-2048kB").as_deref(),
            Some("2MB")
        );
        assert_eq!(
            hugepage_dir_to_name("hugepages-1048576kB").as_deref(),
            Some("1GB")
        );
        assert_eq!(
            hugepage_dir_to_name("hugepages-64kB").as_deref(),
            Some("64KB")
        );
        assert_eq!(normalize_page_size("2MB").as_deref(), Some("2MB"));
        assert_eq!(normalize_page_size("1GB").as_deref(), Some("1GB"));
        assert_eq!(normalize_page_size("2048KB").as_deref(), Some("2MB"));
        assert_eq!(normalize_page_size("2XB"), None);
        assert_eq!(normalize_page_size("MB"), None);
    }
}

#[cfg(test)]
mod weight_512 {
    /// integration/tests/cgroup_v2_qemu.rs expects this value.
    #[test]
    fn shares_512_is_weight_59() {
        assert_eq!(super::shares_to_weight(512), 59);
    }
}
