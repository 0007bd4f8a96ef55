//! Arbitrary bytes as `<root>/<id>/state.json` through `oxirun::state::load` (what `state`, `list`,
//! `kill`, `delete` read): errors are fine, panics are not.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const ID: &str = "fuzz";

fn root() -> &'static PathBuf {
    static R: OnceLock<PathBuf> = OnceLock::new();
    R.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("oxirun-fuzz-state-{}", std::process::id()));
        std::fs::create_dir_all(d.join(ID)).expect("mkdir temp state root");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    std::fs::write(root.join(ID).join("state.json"), data).expect("write state.json");
    if let Ok(st) = oxirun::state::load(root, ID) {
        // What later commands do with a loaded state must not panic either.
        let _ = serde_json::to_vec(&st);
    }
    let _ = oxirun::state::list_ids(root);
});
