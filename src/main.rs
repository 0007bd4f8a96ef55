//! The binary. It is entered as C `main` (`#![no_main]`): the Rust runtime's own start-up
//! reads /proc/self/maps to find the main thread's stack guard and maps a signal stack for
//! its stack-overflow message - about ten syscalls on each of the two execs of every
//! `create`/`run`/`exec`, for a message. Arguments and environment still come from std
//! (glibc passes them to std's init hook); `process::exit` still flushes stdout.
// Test builds keep the harness's own main (it has no tests; without this it would run us).
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    oxirun::sys::process::ignore_sigpipe();
    std::process::exit(oxirun::cli::main())
}
