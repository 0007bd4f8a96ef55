//! Device rules: checked, normalised, extended with runc's default allowed devices, written
//! to the v1 `devices` hierarchy, or compiled to a BPF program on v2 (`devices_bpf`).
//!
//! Semantics (both versions): the container starts from deny-all; rules apply in order, a
//! later rule overriding an earlier one; a rule for every device (`type` "a" or absent, no
//! major/minor) with full access resets everything to allow-all or deny-all. runc's defaults
//! (mknod of anything; null, zero, full, random, urandom, tty, console, ptmx, /dev/pts/*) are
//! appended last, so a container with the usual deny-all rule can still use them.

use anyhow::Result;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::{field_err, Place, Target};

pub const ACC_MKNOD: u8 = 1;
pub const ACC_READ: u8 = 2;
pub const ACC_WRITE: u8 = 4;
pub const ACC_ALL: u8 = 7;

/// A checked device rule. `kind`: 'a' (all), 'b' or 'c'. None = wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    const fn allow(kind: char, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            allow: true,
            kind,
            major,
            minor,
            access,
        }
    }

    /// Matches every device with every access.
    pub fn is_total(&self) -> bool {
        self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == ACC_ALL
    }

    /// The v1 `devices.allow`/`devices.deny` line: "c 1:3 rwm", "a *:* rwm".
    pub fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |n| n.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            access_str(self.access)
        )
    }
}

pub fn access_str(a: u8) -> String {
    let mut s = String::new();
    if a & ACC_READ != 0 {
        s.push('r');
    }
    if a & ACC_WRITE != 0 {
        s.push('w');
    }
    if a & ACC_MKNOD != 0 {
        s.push('m');
    }
    s
}

/// runc's default allowed devices.
pub const DEFAULT_ALLOWED: &[Rule] = &[
    Rule::allow('c', None, None, ACC_MKNOD),
    Rule::allow('b', None, None, ACC_MKNOD),
    Rule::allow('c', Some(1), Some(3), ACC_ALL), // /dev/null
    Rule::allow('c', Some(1), Some(8), ACC_ALL), // /dev/random
    Rule::allow('c', Some(1), Some(7), ACC_ALL), // /dev/full
    Rule::allow('c', Some(5), Some(0), ACC_ALL), // /dev/tty
    Rule::allow('c', Some(1), Some(5), ACC_ALL), // /dev/zero
    Rule::allow('c', Some(1), Some(9), ACC_ALL), // /dev/urandom
    Rule::allow('c', Some(5), Some(1), ACC_ALL), // /dev/console
    Rule::allow('c', Some(136), None, ACC_ALL),  // /dev/pts/*
    Rule::allow('c', Some(5), Some(2), ACC_ALL), // /dev/ptmx
];

fn num(field: &str, what: &str, v: Option<i64>) -> Result<Option<u32>> {
    match v {
        None => Ok(None),
        Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(field_err!(field, "invalid {what} {n}")),
    }
}

/// Check one OCI rule and turn it into a [`Rule`].
pub fn parse(i: usize, d: &LinuxDeviceCgroup) -> Result<Rule> {
    let field = format!("devices[{i}]");
    let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => 'a',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::P => {
            return Err(field_err!(
                field,
                "device type \"p\" (fifo) cannot be controlled by the device cgroup (use a, b or c)"
            ))
        }
    };
    let major = num(&field, "major", d.major())?;
    let minor = num(&field, "minor", d.minor())?;
    let access_s = d.access().as_deref().unwrap_or("");
    let mut access = 0u8;
    for ch in access_s.chars() {
        access |= match ch {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            other => {
                return Err(field_err!(
                    field,
                    "invalid access {access_s:?}: unknown character {other:?} (use r, w, m)"
                ))
            }
        };
    }
    if access_s.is_empty() {
        access = ACC_ALL;
    }
    if kind == 'a' && (major.is_some() || minor.is_some()) {
        // The kernel ignores numbers on "a" rules; runc treats it as all devices.
        return Ok(Rule {
            allow: d.allow(),
            kind,
            major: None,
            minor: None,
            access,
        });
    }
    Ok(Rule {
        allow: d.allow(),
        kind,
        major,
        minor,
        access,
    })
}

/// The full rule list: checked OCI rules then runc's defaults.
pub fn rules(devs: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    let mut out = Vec::with_capacity(devs.len() + DEFAULT_ALLOWED.len());
    for (i, d) in devs.iter().enumerate() {
        out.push(parse(i, d)?);
    }
    out.extend_from_slice(DEFAULT_ALLOWED);
    Ok(out)
}

/// Reduce to (default allow?, the rules after the last total rule).
pub fn reduce(rules: &[Rule]) -> (bool, Vec<Rule>) {
    let mut default_allow = false;
    let mut rest = Vec::new();
    for r in rules {
        if r.is_total() {
            default_allow = r.allow;
            rest.clear();
        } else {
            rest.push(*r);
        }
    }
    (default_allow, rest)
}

pub fn validate(t: &Target, devs: &[LinuxDeviceCgroup]) -> Result<()> {
    rules(devs)?;
    if t.place("devices", "").is_none() && t.cg.unified_dir().is_none() {
        return Err(field_err!(
            "devices",
            "no devices cgroup controller and no cgroup v2"
        ));
    }
    Ok(())
}

pub fn apply(t: &Target, devs: &[LinuxDeviceCgroup]) -> Result<()> {
    let rules = rules(devs)?;
    if !t.pure_v2 {
        if let Some(d) = t.cg.v1_dir("devices") {
            return apply_v1(d, &rules);
        }
    }
    match t.cg.unified_dir() {
        Some(d) => super::devices_bpf::apply(Place::V2(d).dir(), &rules),
        None => Err(field_err!(
            "devices",
            "no devices cgroup controller and no cgroup v2"
        )),
    }
}

/// v1: deny everything, then replay the rules in order (a total rule is written as "a").
fn apply_v1(d: &std::path::Path, rules: &[Rule]) -> Result<()> {
    super::write(d, "devices.deny", "a", "devices")?;
    for (i, r) in rules.iter().enumerate() {
        let file = if r.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let line = if r.is_total() {
            "a".to_string()
        } else {
            r.v1_line()
        };
        super::write(d, file, &line, &format!("devices[{i}] ({line})"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(json: &str) -> LinuxDeviceCgroup {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn parses_and_formats() {
        let r = parse(
            0,
            &dev(r#"{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}"#),
        )
        .unwrap();
        assert_eq!(r.v1_line(), "c 1:3 rw");
        let r = parse(0, &dev(r#"{"allow":false,"access":"rwm"}"#)).unwrap();
        assert!(r.is_total() && !r.allow);
        let r = parse(0, &dev(r#"{"allow":true,"type":"b","major":8}"#)).unwrap();
        assert_eq!(r.v1_line(), "b 8:* rwm");
    }

    #[test]
    fn rejects_bad_rules() {
        let e = parse(
            2,
            &dev(r#"{"allow":true,"type":"c","major":-5,"access":"r"}"#),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("devices[2]") && e.to_string().contains("major"),
            "{e}"
        );
        let e = parse(0, &dev(r#"{"allow":true,"type":"c","access":"rx"}"#)).unwrap_err();
        assert!(e.to_string().contains("invalid access"), "{e}");
        assert!(parse(0, &dev(r#"{"allow":true,"type":"p"}"#)).is_err());
        assert!(serde_json::from_str::<LinuxDeviceCgroup>(r#"{"allow":true,"type":"x"}"#).is_err());
    }

    #[test]
    fn defaults_are_appended_and_reduce_resets() {
        let all = rules(&[
            dev(r#"{"allow":true,"type":"c","major":10,"minor":229,"access":"rw"}"#),
            dev(r#"{"allow":false,"access":"rwm"}"#),
            dev(r#"{"allow":true,"type":"c","major":4,"minor":1,"access":"r"}"#),
        ])
        .unwrap();
        assert_eq!(all.len(), 3 + DEFAULT_ALLOWED.len());
        let (allow, rest) = reduce(&all);
        assert!(!allow);
        assert_eq!(rest.len(), 1 + DEFAULT_ALLOWED.len());
        assert_eq!(rest[0].v1_line(), "c 4:1 r");
        let (allow, rest) = reduce(&rules(&[dev(r#"{"allow":true,"access":"rwm"}"#)]).unwrap());
        assert!(allow);
        assert_eq!(rest.len(), DEFAULT_ALLOWED.len());
    }
}
