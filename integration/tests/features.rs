//! `oxirun features`: valid JSON on stdout, nothing on stderr, exit 0 - and every advertised
//! capability is real: each mount option is accepted in a real container, each namespace can
//! be created, the hook kinds are the six of the spec.

use std::path::Path;

use oxirun_integration::{json, oxirun_bin, Container, Value};

fn features() -> Value {
    let out = std::process::Command::new(oxirun_bin())
        .arg("features")
        .output()
        .expect("run features");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("features prints JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn features_is_json_with_the_required_fields() {
    let f = features();
    assert!(
        f["ociVersionMin"].is_string() && f["ociVersionMax"].is_string(),
        "{f}"
    );
    assert_eq!(
        strings(&f["hooks"]),
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    assert!(!strings(&f["mountOptions"]).is_empty());
    assert!(f["linux"]["seccomp"]["enabled"].is_boolean());
}

/// Runs a container with one extra mount (`/oxi-opt`) using `opt`; Err(details) if rejected.
fn try_option(opt: &str) -> Result<(), String> {
    let mut c = Container::new(&format!("fopt-{}", opt.replace(['_'], "")));
    let src = c.dir.join("src");
    std::fs::create_dir(&src).unwrap();
    let m = if opt == "bind" || opt == "rbind" {
        json!({"destination": "/oxi-opt", "type": "bind", "source": src, "options": [opt]})
    } else if opt == "idmap" || opt == "ridmap" {
        // Only meaningful on a bind mount, with mappings (or a user namespace's).
        let ids = json!([{"containerID": 0, "hostID": 1000, "size": 65536}]);
        json!({"destination": "/oxi-opt", "type": "bind", "source": src, "options": ["rbind", opt],
               "uidMappings": ids, "gidMappings": ids})
    } else {
        json!({"destination": "/oxi-opt", "type": "tmpfs", "source": "tmpfs", "options": [opt]})
    };
    c.add_mount(m)
        .sh("grep -c ' /oxi-opt ' /proc/self/mountinfo");
    let out = c.run(&[]);
    if out.success() && out.stdout.trim() != "0" {
        Ok(())
    } else {
        Err(format!("{opt}: {out:?}"))
    }
}

#[test]
fn every_advertised_mount_option_works() {
    let opts = strings(&features()["mountOptions"]);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = opts
            .chunks(opts.len().div_ceil(6))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|o| try_option(o).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "advertised mount options rejected in a real container:\n{}",
        failures.join("\n")
    );
}

fn ns_file(kind: &str) -> &str {
    match kind {
        "mount" => "mnt",
        "network" => "net",
        other => other,
    }
}

#[test]
fn every_advertised_namespace_can_be_created() {
    let kinds = strings(&features()["linux"]["namespaces"]);
    let mut c = Container::new("fns");
    c.namespaces(&kinds.iter().map(String::as_str).collect::<Vec<_>>());
    if kinds.iter().any(|k| k == "user") {
        let map = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
        c.set("/linux/uidMappings", map.clone())
            .set("/linux/gidMappings", map);
    }
    let files: Vec<&str> = kinds.iter().map(|k| ns_file(k)).collect();
    let script = files
        .iter()
        .map(|f| format!("readlink /proc/self/ns/{f}"))
        .collect::<Vec<_>>()
        .join("; ");
    let out = c.inside(&script);
    let inside: Vec<&str> = out.lines().collect();
    assert_eq!(inside.len(), files.len(), "{out}");
    for (f, got) in files.iter().zip(inside) {
        let host = std::fs::read_link(Path::new("/proc/self/ns").join(f)).unwrap();
        assert_ne!(
            host.to_string_lossy(),
            got,
            "namespace {f} is the host's: advertised but not created"
        );
    }
}

#[test]
fn net_devices_advertised_as_they_work() {
    // config_linux.rs::net_device_moved_in_and_renamed shows linux.netDevices working; a
    // client (containerd, CRI-O) only uses it when `features` says so.
    let f = features();
    assert_eq!(
        f["linux"]["netDevices"]["enabled"],
        json!(true),
        "{}",
        f["linux"]
    );
}
