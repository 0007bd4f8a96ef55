//! The kernel's "list" syntax for CPU and memory-node sets: comma-separated numbers and
//! inclusive ranges, e.g. `0-3,7`. Used by `execCPUAffinity` and `memoryPolicy.nodes`.

/// Parse a list into a bitmask of `u64` words; every index must be below `limit`.
/// An empty string is an empty set.
pub fn parse(list: &str, limit: u32) -> Result<Vec<u64>, String> {
    let mut mask = vec![0u64; limit.div_ceil(64) as usize];
    if list.is_empty() {
        return Ok(Vec::new());
    }
    for item in list.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (number(a, list)?, number(b, list)?),
            None => {
                let n = number(item, list)?;
                (n, n)
            }
        };
        if lo > hi {
            return Err(format!("{list:?}: range {item} is reversed"));
        }
        if hi >= limit {
            return Err(format!(
                "{list:?}: {hi} is out of range (max {})",
                limit - 1
            ));
        }
        for i in lo..=hi {
            mask[(i / 64) as usize] |= 1 << (i % 64);
        }
    }
    while mask.last() == Some(&0) {
        mask.pop();
    }
    Ok(mask)
}

fn number(s: &str, list: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{list:?}: {s:?} is not a number (expected e.g. \"0-3,7\")"
        ));
    }
    s.parse()
        .map_err(|_| format!("{list:?}: {s} is out of range"))
}

/// The indices set in `mask`, in order.
pub fn indices(mask: &[u64]) -> impl Iterator<Item = u32> + '_ {
    mask.iter().enumerate().flat_map(|(w, bits)| {
        (0..64u32)
            .filter(move |b| bits & (1 << b) != 0)
            .map(move |b| w as u32 * 64 + b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        assert_eq!(parse("0", 1024).unwrap(), vec![1]);
        assert_eq!(parse("0-3,7", 1024).unwrap(), vec![0b1000_1111]);
        assert_eq!(parse("1,1,0-1", 1024).unwrap(), vec![0b11]);
        let m = parse("64,130-131", 1024).unwrap();
        assert_eq!(indices(&m).collect::<Vec<_>>(), vec![64, 130, 131]);
        assert!(parse("", 1024).unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_lists() {
        for bad in [
            "a", "1-", "-1", "1,,2", "3-1", " 1", "1 ", "0x1", "1-2-3", ",",
        ] {
            assert!(parse(bad, 1024).is_err(), "{bad:?} accepted");
        }
        assert!(parse("1024", 1024).unwrap_err().contains("out of range"));
        assert!(parse("99999999999", 1024).is_err());
        assert!(parse("3-1", 1024).unwrap_err().contains("reversed"));
    }
}
