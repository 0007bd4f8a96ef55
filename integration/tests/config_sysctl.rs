//! `linux.sysctl` from inside (namespaced keys take effect, the host keeps its values), the
//! refused keys, and a bind mount over a /proc/sys file never redirects the write to the host
//! (CVE-2025-52881).

use oxirun_integration::confcheck::create_fails;
use oxirun_integration::{json, Container};

fn host(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn namespaced_sysctls_inside_host_unchanged() {
    let (fwd, shm) = (host("net.ipv4.ip_forward"), host("kernel.shmmni"));
    assert_ne!(shm, "2345");
    let mut c = Container::new("sysctl");
    c.set(
        "/linux/sysctl",
        json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "2345"}),
    );
    let out = c.inside("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    assert_eq!(out, "1\n2345\n");
    assert_eq!(host("net.ipv4.ip_forward"), fwd, "host ip_forward changed");
    assert_eq!(host("kernel.shmmni"), shm, "host shmmni changed");
}

#[test]
fn non_namespaced_sysctl_refused() {
    let before = host("kernel.panic");
    let mut c = Container::new("sysctlpanic");
    c.set("/linux/sysctl", json!({"kernel.panic": "17"}))
        .sh("true");
    create_fails(&mut c, &["linux.sysctl", "kernel.panic"]);
    assert_eq!(host("kernel.panic"), before);
}

#[test]
fn net_sysctl_without_net_namespace_refused() {
    let before = host("net.ipv4.ip_forward");
    let mut c = Container::new("sysctlnonet");
    let ns = c.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "network");
    c.set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}))
        .sh("true");
    create_fails(&mut c, &["linux.sysctl", "net.ipv4.ip_forward"]);
    assert_eq!(host("net.ipv4.ip_forward"), before, "host changed");
}

#[test]
fn cve_2025_52881_bind_over_proc_sys_file_does_not_redirect_sysctl() {
    let before = host("net.ipv4.ip_forward");
    let mut c = Container::new("sysctl52881");
    let f = c.dir.join("host-file");
    std::fs::write(&f, "original\n").unwrap();
    c.add_mount(
        json!({"destination": "/proc/sys/net/ipv4/ip_forward", "type": "bind",
                       "source": f, "options": ["bind", "rw"]}),
    )
    .set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}))
    .sh("cat /proc/sys/net/ipv4/ip_forward");
    let out = c.run(&[]);
    eprintln!("outcome: {out:?}");
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "original\n",
        "the sysctl was written into the bind-mounted host file: {out:#?}"
    );
    assert_eq!(host("net.ipv4.ip_forward"), before, "host sysctl changed");
    if out.code != 0 {
        assert_eq!(out.code, 1, "{out:#?}");
        oxirun_integration::checks::assert_nothing_left(&c.root, &c.id, &c.bundle);
    }
}
