//! The unit properties a container's `linux.resources` and `org.systemd.property.*`
//! annotations become (as runc's systemd driver sets them). Pure.

use std::collections::BTreeMap;

use oci_spec::runtime::LinuxResources;

use super::super::resources::convert;
use crate::dbus::Value;

/// One `(sv)` property.
pub fn prop(name: &str, v: Value) -> Value {
    Value::Struct(vec![Value::str(name), Value::var(v)])
}

/// A cpu/memory-node list ("0-2,4") as systemd's bitmask byte array (bit n of byte n/8).
pub fn bitmask(list: &str) -> Result<Vec<u8>, String> {
    let set = convert::parse_list(list).ok_or_else(|| format!("invalid list {list:?}"))?;
    let Some(&max) = set.iter().max() else {
        return Ok(Vec::new());
    };
    if max >= 1 << 16 {
        return Err(format!("list {list:?}: index {max} too large"));
    }
    let mut out = vec![0u8; max as usize / 8 + 1];
    for n in set {
        out[n as usize / 8] |= 1 << (n % 8);
    }
    Ok(out)
}

fn limit(v: i64) -> u64 {
    if v < 0 {
        u64::MAX
    } else {
        v as u64
    }
}

/// The properties systemd manages for `r` (the rest is written to the cgroup files).
/// On a v1 or hybrid host (`v1`) the names are v1's, as runc's legacy driver sets them
/// (`MemoryLimit`, `CPUShares`, `BlockIOWeight`; no `MemoryLow`/`MemorySwapMax`, which
/// systemd cannot apply there), so the value systemd writes is the one the file gets.
pub fn resources(r: &LinuxResources, v1: bool) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit().filter(|l| *l != 0) {
            let name = if v1 { "MemoryLimit" } else { "MemoryMax" };
            out.push(prop(name, Value::U64(limit(l))));
        }
    }
    if let Some(m) = r.memory().as_ref().filter(|_| !v1) {
        if let Some(l) = m.reservation().filter(|l| *l != 0) {
            out.push(prop("MemoryLow", Value::U64(limit(l))));
        }
        if let Some(s) = m.swap().filter(|s| *s != 0) {
            let v2 = convert::swap_to_v2(s, m.limit().unwrap_or(0))?;
            if v2 != 0 {
                out.push(prop("MemorySwapMax", Value::U64(limit(v2))));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            // On v2 the mapping the cgroup files get too (runc >= 1.3, crun), so systemd and
            // the file agree; runc 1.1's systemd driver used a linear one (1024 -> 39).
            out.push(match v1 {
                true => prop("CPUShares", Value::U64(s)),
                false => prop("CPUWeight", Value::U64(convert::shares_to_weight(s))),
            });
        }
        let period = c.period().filter(|p| *p != 0);
        if let Some(p) = period {
            out.push(prop("CPUQuotaPeriodUSec", Value::U64(p)));
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            let per_sec = if q < 0 {
                u64::MAX
            } else {
                // systemd keeps a percentage: round up to 10 ms per second, as runc does.
                let us = (q as u64) * 1_000_000 / period.unwrap_or(100_000);
                us.div_ceil(10_000) * 10_000
            };
            out.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
        }
        for (name, list) in [("AllowedCPUs", c.cpus()), ("AllowedMemoryNodes", c.mems())] {
            if let Some(l) = list.as_deref().filter(|l| !l.is_empty()) {
                let bytes = bitmask(l).map_err(|e| format!("linux.resources.cpu: {e}"))?;
                out.push(prop(
                    name,
                    Value::Array("y".into(), bytes.into_iter().map(Value::Byte).collect()),
                ));
            }
        }
    }
    if let Some(p) = r.pids() {
        if p.limit() != 0 {
            out.push(prop("TasksMax", Value::U64(limit(p.limit()))));
        }
    }
    if let Some(w) = r
        .block_io()
        .as_ref()
        .and_then(|b| b.weight())
        .filter(|w| *w != 0)
    {
        out.push(match v1 {
            true => prop("BlockIOWeight", Value::U64(w as u64)),
            false => prop(
                "IOWeight",
                Value::U64(convert::blkio_to_io_weight(w as u64)),
            ),
        });
    }
    Ok(out)
}

/// Every `org.systemd.property.<Name>` annotation as a property.
pub fn annotations(a: &BTreeMap<String, String>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (k, v) in a {
        let Some(name) = k.strip_prefix("org.systemd.property.") else {
            continue;
        };
        let bad = |why: &str| format!("annotation {k}={v:?}: {why}");
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("not a systemd property name"));
        }
        let value = literal(v).map_err(|e| bad(&e))?;
        // runc: a `...Sec` property is given in seconds and set as `...USec`.
        if let Some(stem) = name.strip_suffix("Sec").filter(|_| !name.ends_with("USec")) {
            let secs = match &value {
                Value::I32(n) if *n >= 0 => *n as u64,
                Value::I64(n) if *n >= 0 => *n as u64,
                Value::U64(n) => *n,
                Value::U32(n) => *n as u64,
                _ => return Err(bad("a ...Sec property takes a number of seconds")),
            };
            let us = secs
                .checked_mul(1_000_000)
                .ok_or_else(|| bad("too large"))?;
            out.push(prop(&format!("{stem}USec"), Value::U64(us)));
            continue;
        }
        out.push(prop(name, value));
    }
    Ok(out)
}

/// A GVariant-style literal: `true`/`false`, an integer, `uint64 N` (and `int64`, `uint32`,
/// `int32`, `byte`), a quoted string (`"..."` or `'...'`) or `@s "..."`.
pub fn literal(s: &str) -> Result<Value, String> {
    let s = s.trim();
    match s {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let num = |t: &str| -> Result<i128, String> {
        t.trim()
            .parse::<i128>()
            .map_err(|_| format!("{t:?} is not an integer"))
    };
    let range = |n: i128, lo: i128, hi: i128| -> Result<i128, String> {
        if n < lo || n > hi {
            Err(format!("{n} out of range"))
        } else {
            Ok(n)
        }
    };
    if s.starts_with('"') || s.starts_with('\'') {
        return quoted(s);
    }
    if let Some((ty, rest)) = s.split_once(' ') {
        let rest = rest.trim();
        return match ty {
            "uint64" => Ok(Value::U64(range(num(rest)?, 0, u64::MAX as i128)? as u64)),
            "int64" => Ok(Value::I64(
                range(num(rest)?, i64::MIN as i128, i64::MAX as i128)? as i64,
            )),
            "uint32" => Ok(Value::U32(range(num(rest)?, 0, u32::MAX as i128)? as u32)),
            "int32" => Ok(Value::I32(
                range(num(rest)?, i32::MIN as i128, i32::MAX as i128)? as i32,
            )),
            "byte" => Ok(Value::Byte(range(num(rest)?, 0, 255)? as u8)),
            "@s" => quoted(rest),
            _ => Err(format!("unsupported value {s:?}")),
        };
    }
    if let Ok(n) = s.parse::<i128>() {
        // GVariant's default for a bare integer is int32, int64 when it does not fit.
        return if let Ok(n) = i32::try_from(n) {
            Ok(Value::I32(n))
        } else {
            i64::try_from(n)
                .map(Value::I64)
                .map_err(|_| format!("{n} out of range"))
        };
    }
    Err(format!(
        "unsupported value {s:?} (true, false, integers, uint64 N and friends, quoted strings)"
    ))
}

fn quoted(s: &str) -> Result<Value, String> {
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'');
    let inner = q
        .and_then(|q| s[1..].strip_suffix(q))
        .ok_or_else(|| format!("unterminated string {s:?}"))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c) => out.push(c),
                None => return Err(format!("dangling escape in {s:?}")),
            }
        } else if Some(c) == q {
            return Err(format!("unescaped quote in {s:?}"));
        } else {
            out.push(c);
        }
    }
    Ok(Value::Str(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmasks() {
        assert_eq!(bitmask("0").unwrap(), [1]);
        assert_eq!(bitmask("0-2,9").unwrap(), [0b111, 0b10]);
        assert!(bitmask("x").is_err());
    }

    #[test]
    fn resources_become_properties() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":33554432,"reservation":16777216,"swap":50331648},
                "cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0","mems":"0"},
                "pids":{"limit":42},"blockIO":{"weight":500}}"#,
        )
        .unwrap();
        let names = |v1| -> Vec<String> {
            resources(&r, v1)
                .unwrap()
                .iter()
                .map(|v| match v {
                    Value::Struct(f) => format!("{}={:?}", f[0].as_str().unwrap(), f[1]),
                    _ => unreachable!(),
                })
                .collect()
        };
        let want = [
            "MemoryMax=Variant(U64(33554432))",
            "MemoryLow=Variant(U64(16777216))",
            "MemorySwapMax=Variant(U64(16777216))",
            "CPUWeight=Variant(U64(100))",
            "CPUQuotaPeriodUSec=Variant(U64(100000))",
            "CPUQuotaPerSecUSec=Variant(U64(500000))",
            "AllowedCPUs=Variant(Array(\"y\", [Byte(1)]))",
            "AllowedMemoryNodes=Variant(Array(\"y\", [Byte(1)]))",
            "TasksMax=Variant(U64(42))",
            "IOWeight=Variant(U64(4950))",
        ];
        assert_eq!(names(false), want);
        // v1/hybrid: runc's legacy names; MemoryLow/MemorySwapMax only go to the files.
        let want_v1 = [
            "MemoryLimit=Variant(U64(33554432))",
            "CPUShares=Variant(U64(1024))",
            "CPUQuotaPeriodUSec=Variant(U64(100000))",
            "CPUQuotaPerSecUSec=Variant(U64(500000))",
            "AllowedCPUs=Variant(Array(\"y\", [Byte(1)]))",
            "AllowedMemoryNodes=Variant(Array(\"y\", [Byte(1)]))",
            "TasksMax=Variant(U64(42))",
            "BlockIOWeight=Variant(U64(500))",
        ];
        assert_eq!(names(true), want_v1);
        let unlimited: LinuxResources =
            serde_json::from_str(r#"{"memory":{"limit":-1},"pids":{"limit":-1}}"#).unwrap();
        assert_eq!(
            resources(&unlimited, false).unwrap(),
            [
                prop("MemoryMax", Value::U64(u64::MAX)),
                prop("TasksMax", Value::U64(u64::MAX))
            ]
        );
    }

    #[test]
    fn literals() {
        assert_eq!(literal("true").unwrap(), Value::Bool(true));
        assert_eq!(literal("42").unwrap(), Value::I32(42));
        assert_eq!(literal("uint64 42").unwrap(), Value::U64(42));
        assert_eq!(literal("int32 -1").unwrap(), Value::I32(-1));
        assert_eq!(literal("\"a b\"").unwrap(), Value::str("a b"));
        assert_eq!(literal("'it\\'s'").unwrap(), Value::str("it's"));
        for bad in [
            "[1, 2]",
            "uint64 -1",
            "\"open",
            "foo",
            "uint8 3",
            "byte 256",
        ] {
            assert!(literal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn annotations_become_properties() {
        let mut a = BTreeMap::new();
        a.insert(
            "org.systemd.property.CollectMode".into(),
            "'inactive-or-failed'".into(),
        );
        a.insert(
            "org.systemd.property.TimeoutStopSec".into(),
            "uint64 5".into(),
        );
        a.insert("other".into(), "ignored".into());
        assert_eq!(
            annotations(&a).unwrap(),
            [
                prop("CollectMode", Value::str("inactive-or-failed")),
                prop("TimeoutStopUSec", Value::U64(5_000_000)),
            ]
        );
        a.insert("org.systemd.property.Bad".into(), "[1]".into());
        let e = annotations(&a).unwrap_err();
        assert!(e.contains("org.systemd.property.Bad"), "{e}");
    }
}
