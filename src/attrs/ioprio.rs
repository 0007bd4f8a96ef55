//! `process.ioPriority`: the I/O scheduling class and level of the container process, set
//! with `ioprio_set(2)` on the init and inherited by everything it forks.

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{IOPriorityClass, LinuxIOPriority};

const IOPRIO_CLASS_SHIFT: u16 = 13;

/// Check the level is within 0 (highest) ..= 7 (lowest).
pub fn validate(p: &LinuxIOPriority) -> Result<()> {
    if !(0..=7).contains(&p.priority()) {
        bail!(
            "process.ioPriority.priority: {} is out of range (0-7)",
            p.priority()
        );
    }
    Ok(())
}

/// The kernel's ioprio value: class in the top bits, level below.
pub fn value(p: &LinuxIOPriority) -> u16 {
    let class: u16 = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    (class << IOPRIO_CLASS_SHIFT) | (p.priority() as u16 & 0x7)
}

/// Set the calling process's I/O priority.
pub fn apply(p: &LinuxIOPriority) -> Result<()> {
    crate::sys::attrs::ioprio_set_self(value(p))
        .map_err(|e| anyhow!("process.ioPriority: ioprio_set: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIOPriorityBuilder;

    fn prio(class: IOPriorityClass, priority: i64) -> LinuxIOPriority {
        LinuxIOPriorityBuilder::default()
            .class(class)
            .priority(priority)
            .build()
            .unwrap()
    }

    #[test]
    fn values_and_ranges() {
        assert_eq!(
            value(&prio(IOPriorityClass::IoprioClassRt, 3)),
            (1 << 13) | 3
        );
        assert_eq!(
            value(&prio(IOPriorityClass::IoprioClassBe, 7)),
            (2 << 13) | 7
        );
        assert_eq!(value(&prio(IOPriorityClass::IoprioClassIdle, 0)), 3 << 13);
        assert!(validate(&prio(IOPriorityClass::IoprioClassBe, 0)).is_ok());
        assert!(validate(&prio(IOPriorityClass::IoprioClassBe, 8)).is_err());
        let e = validate(&prio(IOPriorityClass::IoprioClassRt, -1)).unwrap_err();
        assert!(e.to_string().starts_with("process.ioPriority.priority"));
    }
}
