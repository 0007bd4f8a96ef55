//! Records the git commit for `oxirun --version` (runc prints `commit: <hash>`).
fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=OXIRUN_COMMIT={commit}");
    // The binary starts at `sys::entry`'s `oxirun_entry`, which runs before the C library
    // (and hands over to glibc's `_start`); `-u` makes sure its object is linked.
    println!("cargo:rustc-link-arg-bin=oxirun=-Wl,-e,oxirun_entry");
    println!("cargo:rustc-link-arg-bin=oxirun=-Wl,-u,oxirun_entry");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
