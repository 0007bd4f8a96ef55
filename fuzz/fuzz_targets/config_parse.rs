//! config.json bytes -> `bundle::parse_config` -> `bundle::validate` (against a temp bundle with
//! an empty `rootfs/`) -> `bundle::compile_seccomp`. Errors are fine; panics, hangs and OOM are not.
#![no_main]

use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn bundle() -> &'static PathBuf {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("oxirun-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(d.join("rootfs")).expect("mkdir temp bundle");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = oxirun::bundle::parse_config(data) else {
        return;
    };
    if oxirun::bundle::validate(&spec, bundle()).is_ok() {
        let _ = oxirun::bundle::compile_seccomp(&spec);
    }
});
