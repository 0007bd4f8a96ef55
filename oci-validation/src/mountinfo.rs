//! A parser for `/proc/self/mountinfo` (proc(5)).

/// One mountinfo line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    /// The root of the mount within its filesystem (for bind mounts: the source sub-path).
    pub root: String,
    pub mount_point: String,
    /// Per-mount options (ro, nosuid, nodev, noexec, relatime...).
    pub options: Vec<String>,
    /// Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (mode=, size=, ...).
    pub super_options: Vec<String>,
}

impl Mount {
    pub fn has_option(&self, o: &str) -> bool {
        self.options.iter().any(|x| x == o)
    }

    /// The propagation type: `shared`, `slave`, `unbindable` or `private`.
    pub fn propagation(&self) -> &'static str {
        let has = |p: &str| self.optional.iter().any(|o| o.starts_with(p));
        if has("shared:") {
            "shared"
        } else if has("master:") {
            "slave"
        } else if has("unbindable") {
            "unbindable"
        } else {
            "private"
        }
    }
}

/// Undoes the octal escapes (`\040` for space...) the kernel uses in paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the whole file; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let f: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if f.len() < 6 || r.len() < 3 {
        return None;
    }
    let split = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
    Some(Mount {
        id: f[0].parse().ok()?,
        parent: f[1].parse().ok()?,
        root: unescape(f[3]),
        mount_point: unescape(f[4]),
        options: split(f[5]),
        optional: f[6..].iter().map(|s| s.to_string()).collect(),
        fstype: r[0].to_string(),
        source: unescape(r[1]),
        super_options: split(r[2]),
    })
}

/// The topmost mount at exactly `path` (the last one listed: later mounts cover earlier ones).
pub fn at<'a>(mounts: &'a [Mount], path: &str) -> Option<(usize, &'a Mount)> {
    mounts
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.mount_point == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line() {
        let t = "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue\n";
        let m = parse(t);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mount_point, "/mnt 2");
        assert_eq!(m[0].root, "/mnt1");
        assert!(m[0].has_option("noatime"));
        assert_eq!(m[0].propagation(), "shared");
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[0].super_options, vec!["rw", "errors=continue"]);
    }
}
