//! The state directory `<root>/<id>/`: claimed by `mkdir` (EEXIST = taken), locked with
//! `flock` by mutating commands, `state.json` written atomically (temp file, rename).
//!
//! No fsync: the rename already makes every reader see the old or the new file whole, even if
//! we are killed mid-write; fsync only adds durability across a power loss, after which the
//! containers the state describes are gone anyway (and the root normally lives on a tmpfs,
//! /run). It cost two synchronous disk writes, ~1 ms of wall time, per `run` on ext4.
//!
//! Files inside: `state.json` (what later commands need), `exec.sock` (the exec gate: present
//! while the container is `created`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::cgroups::Cgroup;

/// Name of the exec gate socket inside the state directory.
pub const EXEC_SOCK: &str = "exec.sock";
const STATE_FILE: &str = "state.json";
const MAX_STATE_BYTES: u64 = 32 << 20;

/// What oxirun persists about a container.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// Host pid of the init; 0 until it exists.
    pub pid: i32,
    /// The init's start time (field 22 of /proc/<pid>/stat), to detect pid reuse.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub cgroup: Cgroup,
    #[serde(default)]
    pub systemd_cgroup: bool,
    #[serde(default)]
    pub rootless: bool,
    /// The transient unit systemd made for the container (`--systemd-cgroup`), which
    /// `delete` stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// A container without a mount namespace of its own: the mount id of its rootfs bind in
    /// the runtime's mount table, which `delete` detaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_rootfs_mount: Option<u64>,
    /// The config the container was created from (hooks, namespaces for exec...).
    pub config: oci_spec::runtime::Spec,
}

/// A container's state directory, locked while this value lives (when opened locked).
pub struct StateDir {
    pub dir: PathBuf,
    lock: Flock<File>,
}

impl AsRawFd for StateDir {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.lock.as_raw_fd()
    }
}

fn lock(dir: &Path) -> Result<Flock<File>> {
    let f = File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| anyhow!("lock {}: {e}", dir.display()))
}

/// Create the state root (0700) if needed.
pub fn ensure_root(root: &Path) -> Result<()> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
    {
        Ok(()) => Ok(()),
        Err(e) => Err(anyhow!("state root {}: {e}", root.display())),
    }
}

impl StateDir {
    /// Claim `<root>/<id>` for a new container.
    pub fn claim(root: &Path, id: &str) -> Result<StateDir> {
        ensure_root(root)?;
        let dir = root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                bail!("container with given ID already exists: {id}")
            }
            Err(e) => bail!("state dir {}: {e}", dir.display()),
        }
        let lock = lock(&dir)?;
        Ok(StateDir { dir, lock })
    }

    /// Open and lock an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        crate::bundle::validate_id(id)?;
        let dir = root.join(id);
        match lock(&dir) {
            Ok(lock) => Ok(StateDir { dir, lock }),
            Err(_) if !dir.exists() => bail!("container {id} does not exist"),
            Err(e) => Err(e),
        }
    }

    pub fn exec_sock(&self) -> PathBuf {
        self.dir.join(EXEC_SOCK)
    }

    /// Atomically replace state.json.
    pub fn save(&self, state: &State) -> Result<()> {
        let data = serde_json::to_vec(state).context("encode state")?;
        let tmp = self.dir.join(".state.json.tmp");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(&data)
            .with_context(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, self.dir.join(STATE_FILE))
            .with_context(|| format!("rename {}", tmp.display()))?;
        Ok(())
    }

    pub fn load(&self) -> Result<State> {
        load_from(&self.dir)
    }

    /// Whether state.json still names the init recorded in `st` (same pid and start time),
    /// read without decoding the rest of the file.
    pub fn same_init(&self, st: &State) -> bool {
        #[derive(Deserialize)]
        struct Head {
            pid: i32,
            pid_start: u64,
            created: String,
        }
        let Ok(buf) = fs::read(self.dir.join(STATE_FILE)) else {
            return false;
        };
        serde_json::from_slice::<Head>(&buf).is_ok_and(|h| {
            h.pid == st.pid && h.pid_start == st.pid_start && h.created == st.created
        })
    }

    /// Remove the whole directory (the lock goes with it): the files we know of, then the
    /// directory (a few syscalls); anything else found in it is removed recursively.
    pub fn remove(self) -> Result<()> {
        for name in [STATE_FILE, EXEC_SOCK, ".state.json.tmp"] {
            let _ = fs::remove_file(self.dir.join(name));
        }
        if fs::remove_dir(&self.dir).is_ok() {
            return Ok(());
        }
        match fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow!("remove {}: {e}", self.dir.display())),
        }
    }
}

/// Read a container's state without locking (for `state`, `list`).
pub fn load(root: &Path, id: &str) -> Result<State> {
    crate::bundle::validate_id(id)?;
    let dir = root.join(id);
    if !dir.is_dir() {
        bail!("container {id} does not exist");
    }
    load_from(&dir).map_err(|e| {
        if dir.join(STATE_FILE).exists() {
            e
        } else {
            anyhow!("container {id} does not exist")
        }
    })
}

fn load_from(dir: &Path) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let f = File::open(&path).with_context(|| format!("read {}", path.display()))?;
    // Room for a usual state file in one read (Take hides the size hint from read_to_end).
    let mut buf = Vec::with_capacity(16 * 1024);
    f.take(MAX_STATE_BYTES)
        .read_to_end(&mut buf)
        .with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&buf).map_err(|e| anyhow!("{}: corrupt state: {e}", path.display()))
}

/// Ids of every container directory under `root`, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("state root {}: {e}", root.display()),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}
