//! The container process, observed from inside: hostname, uid/gid/additional groups, umask,
//! cwd, exact environment, rlimits, the five capability sets and no_new_privs.

use oxirun_integration::checks::{cap_mask, parse_mask, status_field};
use oxirun_integration::container::CANARY_ENV;
use oxirun_integration::Container;

#[test]
fn hostname_is_set() {
    let mut c = Container::new("hostname");
    c.hostname("oxi-box");
    assert_eq!(c.inside("hostname").trim(), "oxi-box");
}

#[test]
fn user_group_and_additional_groups() {
    let mut c = Container::new("user");
    c.user(1000, 1000, &[10, 65534]);
    let out = c.inside("grep -E '^(Uid|Gid|Groups):' /proc/self/status; id -un; id -gn");
    assert_eq!(
        status_field(&out, "Uid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "Gid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    let mut groups: Vec<&str> = status_field(&out, "Groups")
        .unwrap()
        .split_whitespace()
        .collect();
    groups.sort();
    assert_eq!(groups, ["10", "65534"], "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[lines.len() - 2..], ["tester", "tester"], "{out}");
}

#[test]
fn root_user_has_no_extra_groups() {
    let mut c = Container::new("rootuser");
    c.user(0, 0, &[]);
    let out = c.inside("grep -E '^(Uid|Gid|Groups):' /proc/self/status");
    assert_eq!(status_field(&out, "Uid"), Some("0\t0\t0\t0"), "{out}");
    assert_eq!(
        status_field(&out, "Groups"),
        Some(""),
        "host groups leaked: {out}"
    );
}

#[test]
fn umask_is_applied() {
    let mut c = Container::new("umask");
    c.umask(0o027);
    assert_eq!(c.inside("umask").trim(), "0027");
}

#[test]
fn cwd_is_applied() {
    let mut c = Container::new("cwd");
    c.cwd("/etc");
    assert_eq!(c.inside("pwd").trim(), "/etc");
}

#[test]
fn env_is_exactly_process_env() {
    let mut c = Container::new("env");
    let env = ["PATH=/bin:/sbin", "HOME=/root", "FOO=bar baz", "OXI_EMPTY="];
    c.env(&env).args(&["env"]);
    let out = c.run(&[]);
    out.ok("run env");
    let mut got: Vec<&str> = out.stdout.lines().collect();
    got.sort();
    let mut want = env.to_vec();
    want.sort();
    assert_eq!(got, want, "container env");
    assert!(!out.stdout.contains(CANARY_ENV.0), "host env leaked");
}

#[test]
fn rlimits_are_applied() {
    let mut c = Container::new("rlimits");
    c.rlimits(&[
        ("RLIMIT_NOFILE", 1000, 2000),
        ("RLIMIT_MEMLOCK", 1 << 20, 4 << 20),
        ("RLIMIT_NPROC", 500, 600),
    ]);
    let out = c.inside("cat /proc/self/limits; echo n=$(ulimit -n)");
    let row = |name: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {out}"));
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(String::from)
            .collect()
    };
    assert_eq!(row("Max open files"), ["1000", "2000"]);
    assert_eq!(row("Max locked memory"), ["1048576", "4194304"]);
    assert_eq!(row("Max processes"), ["500", "600"]);
    assert!(out.contains("n=1000"), "{out}");
}

fn caps_of(out: &str) -> [u64; 5] {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .map(|k| parse_mask(status_field(out, k).unwrap_or_else(|| panic!("{k} missing: {out}"))))
}

#[test]
fn caps_for_root_match_config() {
    let mut c = Container::new("capsroot");
    let set = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    c.user(0, 0, &[]).caps(&set, &set, &set, &[], &[]);
    let out = c.inside("grep ^Cap /proc/self/status");
    let [inh, prm, eff, bnd, amb] = caps_of(&out);
    let m = cap_mask(&set);
    assert_eq!((prm, eff, bnd), (m, m, m), "{out}");
    assert_eq!((inh, amb), (0, 0), "{out}");
}

#[test]
fn caps_for_non_root_with_ambient() {
    let mut c = Container::new("capsuser");
    c.user(1000, 1000, &[]).caps(
        &[
            "CAP_KILL",
            "CAP_CHOWN",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETUID",
        ],
        &["CAP_KILL", "CAP_CHOWN"],
        &["CAP_KILL", "CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
        &["CAP_KILL", "CAP_CHOWN"],
        &["CAP_KILL"],
    );
    let out = c.inside("grep ^Cap /proc/self/status");
    let [inh, prm, eff, bnd, amb] = caps_of(&out);
    // After execve of a file without file caps as non-root, only ambient caps survive in P/E.
    assert_eq!(
        bnd,
        cap_mask(&[
            "CAP_KILL",
            "CAP_CHOWN",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETUID"
        ]),
        "{out}"
    );
    assert_eq!(inh, cap_mask(&["CAP_KILL", "CAP_CHOWN"]), "{out}");
    assert_eq!(amb, cap_mask(&["CAP_KILL"]), "{out}");
    assert_eq!(prm, cap_mask(&["CAP_KILL"]), "{out}");
    assert_eq!(eff, cap_mask(&["CAP_KILL"]), "{out}");
}

#[test]
fn caps_empty_means_none() {
    let mut c = Container::new("capsnone");
    c.user(0, 0, &[]).caps(&[], &[], &[], &[], &[]);
    let out = c.inside("grep ^Cap /proc/self/status");
    assert_eq!(caps_of(&out), [0; 5], "{out}");
}

#[test]
fn no_new_privs_on_and_off() {
    for (on, want) in [(true, "1"), (false, "0")] {
        let mut c = Container::new("nnp");
        c.no_new_privs(on);
        let out = c.inside("grep NoNewPrivs /proc/self/status");
        assert_eq!(
            status_field(&out, "NoNewPrivs"),
            Some(want),
            "nnp={on}: {out}"
        );
    }
}

#[test]
fn args_are_passed_verbatim() {
    let mut c = Container::new("argv");
    c.args(&[
        "sh",
        "-c",
        "for a in \"$@\"; do echo \"[$a]\"; done",
        "x",
        "a b",
        "",
        "*",
    ]);
    let out = c.run(&[]);
    out.ok("run");
    assert_eq!(out.stdout, "[a b]\n[]\n[*]\n");
}

#[test]
fn rlimit_above_host_hard_limit_fails() {
    // Root here lacks CAP_SYS_RESOURCE: a hard limit above our own cannot be set.
    let mut host = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut host) },
        0
    );
    let mut c = Container::new("rlimhigh");
    let too_high = host.rlim_max + 1000;
    c.sh("ulimit -Hn")
        .rlimits(&[("RLIMIT_NOFILE", 1024, too_high)]);
    let out = c.run(&[]);
    if out.success() {
        // Only acceptable if this machine does allow raising it (CAP_SYS_RESOURCE).
        assert_eq!(out.stdout.trim(), too_high.to_string(), "{out:#?}");
    } else {
        assert_eq!(out.code, 1, "{out:#?}");
        assert!(
            out.stderr.to_lowercase().contains("rlimit"),
            "error should name the rlimit: {out:#?}"
        );
        oxirun_integration::checks::assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
}
