//! `linux.personality`: the execution domain of the container process (`personality(2)`).
//! Only the two domains the spec names exist; the spec defines no flag values yet, so any
//! flag is refused rather than ignored.

use anyhow::{anyhow, bail, Result};
use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

/// `PER_LINUX` and `PER_LINUX32` from <linux/personality.h>.
pub const PER_LINUX: u32 = 0x0000;
pub const PER_LINUX32: u32 = 0x0008;

/// Refuse flags: none is defined by the runtime-spec.
pub fn validate(p: &LinuxPersonality) -> Result<()> {
    if let Some(flag) = p.flags().as_ref().and_then(|f| f.first()) {
        bail!("linux.personality.flags: unsupported flag {flag:?} (no flags are defined)");
    }
    Ok(())
}

/// The persona value for the domain.
pub fn persona(p: &LinuxPersonality) -> u32 {
    match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    }
}

/// Set the calling process's personality; it survives execve.
pub fn apply(p: &LinuxPersonality) -> Result<()> {
    crate::sys::attrs::personality(persona(p))
        .map(|_| ())
        .map_err(|e| anyhow!("linux.personality: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxPersonalityBuilder;

    #[test]
    fn domains_and_flags() {
        let p = LinuxPersonalityBuilder::default()
            .domain(LinuxPersonalityDomain::PerLinux32)
            .build()
            .unwrap();
        assert_eq!(persona(&p), 8);
        assert!(validate(&p).is_ok());
        let p = LinuxPersonalityBuilder::default()
            .domain(LinuxPersonalityDomain::PerLinux)
            .flags(vec!["ADDR_NO_RANDOMIZE".to_string()])
            .build()
            .unwrap();
        assert_eq!(persona(&p), 0);
        let e = validate(&p).unwrap_err().to_string();
        assert!(e.starts_with("linux.personality.flags"), "{e}");
    }

    #[test]
    fn unknown_domain_is_a_parse_error() {
        let r: Result<LinuxPersonality, _> = serde_json::from_str(r#"{"domain": "LINUX64"}"#);
        assert!(r.is_err());
    }
}
