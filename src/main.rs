//! The binary. Its ELF entry point is `oxirun_entry` (`sys::entry`, linked with `-e` by
//! build.rs), which may re-execute from a protected copy before glibc starts and otherwise
//! hands over to glibc's `_start`. It is then entered as C `main` (`#![no_main]`): the Rust
//! runtime's own start-up reads /proc/self/maps to find the main thread's stack guard and maps
//! a signal stack for its stack-overflow message - about ten syscalls per exec, for a message.
//! Arguments and environment still come from std (glibc passes them to std's init hook);
//! `process::exit` still flushes stdout. (No test harness is built for this file:
//! `test = false` in Cargo.toml.)
#![no_main]

#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    oxirun::sys::process::ignore_sigpipe();
    std::process::exit(oxirun::cli::main())
}
