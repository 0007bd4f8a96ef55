//! `launch::sync::Msg::decode` on arbitrary packets; a decoded message re-encodes to a packet
//! that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxirun::launch::sync::{Msg, MAX_MSG};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Msg::decode(data) else {
        return;
    };
    let enc = m.encode();
    assert!(
        enc.len() <= MAX_MSG,
        "encoded {} bytes > MAX_MSG",
        enc.len()
    );
    let fits = match &m {
        Msg::Error(s) => s.len() < MAX_MSG,
        _ => true,
    };
    if fits {
        assert_eq!(
            Msg::decode(&enc).expect("re-decode"),
            m,
            "round trip of {data:?}"
        );
    }
});
