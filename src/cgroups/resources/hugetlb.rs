//! Hugetlb: v1 `hugetlb.<size>.limit_in_bytes`, v2 `hugetlb.<size>.max`, and the reservation
//! variants (`.rsvd.limit_in_bytes` / `.rsvd.max`) written too where the kernel has them, so
//! that a limit also holds for reserved (mmap'ed, not yet faulted) pages.

use anyhow::Result;
use oci_spec::runtime::LinuxHugepageLimit;

use super::convert::{hugepage_dir_to_name, normalize_page_size};
use super::{field_err, Place, Target};

/// Hugepage sizes this host supports, in the kernel's spelling ("2MB", "1GB").
pub fn host_sizes() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| hugepage_dir_to_name(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

pub fn validate(t: &Target, limits: &[LinuxHugepageLimit]) -> Result<()> {
    if limits.is_empty() {
        return Ok(());
    }
    let sizes = host_sizes();
    for l in limits {
        let field = format!("hugepageLimits[{}]", l.page_size());
        let name = normalize_page_size(l.page_size()).ok_or_else(|| {
            field_err!(field, "invalid pageSize {:?} (e.g. \"2MB\")", l.page_size())
        })?;
        if !sizes.contains(&name) {
            return Err(field_err!(
                field,
                "hugepage size {name} is not supported by this host (supported: {})",
                sizes.join(", ")
            ));
        }
        if l.limit() < 0 {
            return Err(field_err!(field, "invalid limit {}", l.limit()));
        }
    }
    if t.place("hugetlb", "hugetlb").is_none() {
        return Err(field_err!(
            "hugepageLimits",
            "the hugetlb cgroup controller is not available for this container"
        ));
    }
    Ok(())
}

pub fn apply(t: &Target, limits: &[LinuxHugepageLimit]) -> Result<()> {
    if limits.is_empty() {
        return Ok(());
    }
    let place = t.place("hugetlb", "hugetlb").ok_or_else(|| {
        field_err!(
            "hugepageLimits",
            "the hugetlb cgroup controller is not available"
        )
    })?;
    for l in limits {
        let field = format!("hugepageLimits[{}]", l.page_size());
        let name = normalize_page_size(l.page_size())
            .ok_or_else(|| field_err!(field, "invalid pageSize {:?}", l.page_size()))?;
        let (limit, rsvd) = match place {
            Place::V1(_) => (
                format!("hugetlb.{name}.limit_in_bytes"),
                format!("hugetlb.{name}.rsvd.limit_in_bytes"),
            ),
            Place::V2(_) => (
                format!("hugetlb.{name}.max"),
                format!("hugetlb.{name}.rsvd.max"),
            ),
        };
        let d = place.dir();
        let v = l.limit().to_string();
        if d.join(&rsvd).exists() {
            super::write(d, &rsvd, &v, &field)?;
        }
        super::write(d, &limit, &v, &field)?;
    }
    Ok(())
}
