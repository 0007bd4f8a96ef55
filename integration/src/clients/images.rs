//! The busybox test rootfs as the engines import it: a plain tarball (`podman import`,
//! `docker import`) or a docker-archive (`docker save` layout, for `ctr images import`) with
//! an image config of our choosing (e.g. the CRI sandbox image's command).

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

/// A tar of the busybox test rootfs.
pub fn rootfs_tar(out: &Path) {
    let base = crate::rootfs::base();
    let st = Command::new("tar")
        .arg("-C")
        .arg(base)
        .args(["--exclude=./.oxirun-it-complete", "-cf"])
        .arg(out)
        .arg(".")
        .status()
        .expect("spawn tar");
    assert!(st.success(), "tar of the rootfs failed");
}

fn sha256_file(p: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(p)
        .output()
        .expect("spawn sha256sum");
    assert!(o.status.success(), "sha256sum failed");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// A docker-archive of the busybox rootfs, tagged `tag`, written to `out`; `Cmd` is `sh`.
pub fn docker_archive(work: &Path, tag: &str, out: &Path) {
    docker_archive_with(work, tag, out, json!({"Cmd": ["sh"]}));
}

/// A docker-archive of the busybox rootfs whose image config is `config` (merged over a PATH
/// environment), tagged `tag`, written to `out`.
pub fn docker_archive_with(work: &Path, tag: &str, out: &Path, config: Value) {
    let d = work.join("docker-archive");
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    rootfs_tar(&d.join("layer.tar"));
    let diff = sha256_file(&d.join("layer.tar"));
    let mut cfg = json!({"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]});
    if let (Value::Object(c), Value::Object(extra)) = (&mut cfg, config) {
        c.extend(extra);
    }
    let image = json!({
        "architecture": "amd64", "os": "linux", "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]}
    });
    fs::write(d.join("config.json"), image.to_string()).unwrap();
    let manifest = json!([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]);
    fs::write(d.join("manifest.json"), manifest.to_string()).unwrap();
    let st = Command::new("tar")
        .arg("-C")
        .arg(&d)
        .arg("-cf")
        .arg(out)
        .args(["manifest.json", "config.json", "layer.tar"])
        .status()
        .expect("spawn tar");
    assert!(st.success(), "tar of the docker archive failed");
    let _ = fs::remove_dir_all(&d);
}
