//! How long compiling the Docker/podman default seccomp profile takes (issue: "well under a
//! millisecond"), and how big the program is. Numbers only, never a pass/fail gate.
//!
//! `cargo bench --bench seccomp_compile` (env `OXIRUN_BENCH_ITERS`, default 2000).

use std::time::Instant;

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/seccomp/tests/data/docker-default.json"
    );
    let text = std::fs::read_to_string(path).expect("read the docker default profile");
    let value: serde_json::Value = serde_json::from_str(&text).expect("profile JSON");
    let seccomp_value = value.pointer("/linux/seccomp").cloned().unwrap_or(value);
    let seccomp: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_value(seccomp_value).expect("a LinuxSeccomp object");
    let names: usize = seccomp
        .syscalls()
        .iter()
        .flatten()
        .map(|s| s.names().len())
        .sum();
    let iters: usize = std::env::var("OXIRUN_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let first = Instant::now();
    let program = oxirun_seccomp::compile(&seccomp).expect("the profile compiles");
    let first = first.elapsed();
    let mut times: Vec<f64> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            let p = oxirun_seccomp::compile(&seccomp).expect("compiles");
            std::hint::black_box(p);
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let pct = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!("seccomp: Docker default profile, {names} syscall names, {iters} compiles");
    println!(
        "  program: {} BPF instructions (kernel limit 4096)",
        program.instructions().len()
    );
    println!(
        "  first compile in this process: {:.1} us",
        first.as_secs_f64() * 1e6
    );
    println!(
        "  median {:.1} us   p90 {:.1} us   min {:.1} us",
        pct(0.5),
        pct(0.9),
        times[0]
    );
}
