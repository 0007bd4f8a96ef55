//! `dbus::wire::parse` (what the systemd driver reads from the bus) on arbitrary bytes: never a
//! panic, and the length it agrees to parse is the one `message_len` reported.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxirun::dbus::wire;

fuzz_target!(|data: &[u8]| {
    let parsed = wire::parse(data);
    if let (Ok(m), Some(head)) = (&parsed, data.get(..16)) {
        let n = wire::message_len(head.try_into().unwrap()).expect("parsed, so the header is valid");
        assert!(n <= data.len());
        for v in &m.body {
            let _ = v.signature();
        }
    }
});
