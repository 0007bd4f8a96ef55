//! The command line: NUL-separated arguments (arbitrary bytes, so non-UTF-8 too) through
//! `oxirun::cli::args::normalize` and then clap's parser via `oxirun::cli::Cli::try_parse_from`.

#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use clap::Parser;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
use oxirun::cli::args;

fuzz_target!(|data: &[u8]| {
    let mut argv: Vec<OsString> = vec!["oxirun".into()];
    if !data.is_empty() {
        argv.extend(
            data.split(|b| *b == 0)
                .map(|a| OsString::from_vec(a.to_vec())),
        );
    }
    let n = argv.len();
    let out = args::normalize(argv.clone());
    assert!(
        out.len() <= n,
        "normalize added arguments: {argv:?} -> {out:?}"
    );
    assert_eq!(out.first(), argv.first(), "normalize changed argv[0]");
    match oxirun::cli::Cli::try_parse_from(out) {
        Ok(cli) => {
            let _ = format!("{cli:?}");
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = e.kind();
        }
    }
});
