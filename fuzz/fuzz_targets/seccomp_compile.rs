//! bytes -> serde_json `LinuxSeccomp` -> `oxirun_seccomp::compile`: never panics, and a program
//! that compiles fits the kernel's limit (BPF_MAXINSNS = 4096 instructions).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(seccomp) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else {
        return;
    };
    if let Ok(p) = oxirun_seccomp::compile(&seccomp) {
        let n = p.instructions().len();
        assert!(n > 0, "empty program");
        assert!(
            n <= oxirun_seccomp::BPF_MAXINSNS as usize && n <= 4096,
            "compiled to {n} instructions (> 4096)"
        );
    }
});
