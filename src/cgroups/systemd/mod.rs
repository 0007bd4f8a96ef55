//! The systemd cgroup driver (`--systemd-cgroup`): the container's init goes into a
//! transient unit that systemd creates (`StartTransientUnit`), with the resources systemd
//! knows as unit properties; everything else is written to the unit's cgroup files by the
//! cgroupfs code, as runc's systemd driver does. Pure cgroup v2, hybrid and v1 hosts
//! (where the v1 controllers systemd does not manage get their directories from us, as
//! runc's legacy driver does).
//!
//! | file | owns |
//! |---|---|
//! | `slice` | `slice:prefix:name` rules, the unit name, its cgroup directory |
//! | `props` | resources and `org.systemd.property.*` annotations as unit properties |
//! | `mod` (here) | talking to systemd: connect, start/stop/update a unit, wait for jobs |
//!
//! As root the driver talks to systemd's private socket (`/run/systemd/private`, no bus
//! daemon needed, as go-systemd does for runc), else to the system bus; rootless, to the
//! user's bus.

pub mod props;
pub mod slice;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use crate::dbus::{Conn, Value};

pub use slice::UnitPath;

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
const PRIVATE: &str = "/run/systemd/private";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";

/// A connection to systemd's manager, subscribed to job signals.
pub struct Systemd {
    conn: Conn,
}

/// Where systemd's manager is reachable: (socket, through a bus daemon).
fn candidates(rootless: bool) -> Vec<(PathBuf, bool)> {
    let env_path = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|a| crate::dbus::conn::address_path(&a))
    };
    let mut out = Vec::new();
    if rootless {
        if let Some(p) = env_path("DBUS_SESSION_BUS_ADDRESS") {
            out.push((p, true));
        }
        if let Ok(d) = std::env::var("XDG_RUNTIME_DIR") {
            out.push((Path::new(&d).join("bus"), true));
        }
        return out;
    }
    out.push((PathBuf::from(PRIVATE), false));
    out.push((
        env_path("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or(SYSTEM_BUS.into()),
        true,
    ));
    out
}

impl Systemd {
    /// Connect (see the module docs for where); one line naming the cause when systemd is
    /// not there.
    pub fn connect(rootless: bool) -> Result<Systemd> {
        let what = if rootless {
            "the user's systemd is not reachable (no $DBUS_SESSION_BUS_ADDRESS or $XDG_RUNTIME_DIR/bus)"
        } else {
            "systemd is not running (no /run/systemd/private or system bus socket)"
        };
        if !rootless && !Path::new("/run/systemd/system").is_dir() {
            bail!("--systemd-cgroup: {what}: /run/systemd/system does not exist");
        }
        let uid = nix::unistd::geteuid().as_raw();
        let mut errs = Vec::new();
        for (path, bus) in candidates(rootless) {
            match Conn::open(&path, uid, bus) {
                Ok(conn) => {
                    let mut sd = Systemd { conn };
                    sd.subscribe()?;
                    crate::debug!("systemd: connected through {}", path.display());
                    return Ok(sd);
                }
                Err(e) => errs.push(format!("{}: {e}", path.display())),
            }
        }
        if errs.is_empty() {
            errs.push("no socket to try".into());
        }
        bail!("--systemd-cgroup: {what}: {}", errs.join("; "))
    }

    fn subscribe(&mut self) -> Result<()> {
        if self.conn.bus {
            let rule = "type='signal',sender='org.freedesktop.systemd1',\
                        interface='org.freedesktop.systemd1.Manager',member='JobRemoved'";
            self.conn
                .call(
                    "org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus",
                    "AddMatch",
                    &[Value::str(rule)],
                )
                .map_err(|e| anyhow!("systemd: {e}"))?;
        }
        self.manager("Subscribe", &[]).map(|_| ())
    }

    fn manager(&mut self, member: &str, args: &[Value]) -> Result<crate::dbus::Message> {
        self.conn
            .call(DEST, PATH, MANAGER, member, args)
            .map_err(|e| anyhow!("systemd: {e}"))
    }

    /// Wait for the `JobRemoved` of `job`; its result must be `done`.
    fn wait_job(&mut self, job: &str, what: &str) -> Result<()> {
        let result = self
            .conn
            .wait_signal(JOB_TIMEOUT, |m| {
                let is_job = m.member.as_deref() == Some("JobRemoved")
                    && m.body.get(1).and_then(Value::as_str) == Some(job);
                is_job.then(|| {
                    m.body
                        .get(3)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                })
            })
            .map_err(|e| anyhow!("systemd: {what}: waiting for job {job}: {e}"))?;
        if result != "done" {
            bail!("systemd: {what}: job {job} ended with result {result:?}");
        }
        Ok(())
    }

    /// Create the transient unit of `u` holding `pid` (none for a slice) with `props`.
    /// Returns false when the unit already existed (left as it is, as runc does: the caller
    /// moves the process into its cgroup, and the unit is not ours to stop).
    pub fn start(&mut self, u: &UnitPath, pid: Option<i32>, mut props: Vec<Value>) -> Result<bool> {
        let mut base = vec![
            props::prop(
                "Description",
                Value::str(&format!("oxirun container {}", u.unit)),
            ),
            props::prop("DefaultDependencies", Value::Bool(false)),
        ];
        if u.is_slice() {
            base.push(props::prop(
                "Wants",
                Value::Array("s".into(), vec![Value::str(&u.slice)]),
            ));
        } else {
            base.push(props::prop("Slice", Value::str(&u.slice)));
            base.push(props::prop("Delegate", Value::Bool(true)));
        }
        if let Some(pid) = pid {
            base.push(props::prop(
                "PIDs",
                Value::Array("u".into(), vec![Value::U32(pid as u32)]),
            ));
        }
        base.append(&mut props);
        let what = format!("start unit {}", u.unit);
        let reply = self.manager(
            "StartTransientUnit",
            &[
                Value::str(&u.unit),
                Value::str("replace"),
                Value::Array("(sv)".into(), base),
                Value::Array("(sa(sv))".into(), vec![]),
            ],
        );
        let job = match reply {
            Ok(r) => r.first_str().unwrap_or_default().to_string(),
            Err(e) if format!("{e:#}").contains("org.freedesktop.systemd1.UnitExists") => {
                crate::debug!("systemd: unit {} exists already: joining it", u.unit);
                return Ok(false);
            }
            Err(e) => bail!("{what}: {e:#}"),
        };
        if let Err(e) = self.wait_job(&job, &what) {
            self.stop(&u.unit);
            return Err(e);
        }
        crate::debug!("systemd: unit {} started", u.unit);
        Ok(true)
    }

    /// The manager's own cgroup (`ControlGroup`): empty for the system manager, the
    /// `user@<uid>.service` cgroup for a user's. Its units' cgroups live below it.
    pub fn control_group(&mut self) -> Result<String> {
        let reply = self
            .conn
            .call(
                DEST,
                PATH,
                "org.freedesktop.DBus.Properties",
                "Get",
                &[Value::str(MANAGER), Value::str("ControlGroup")],
            )
            .map_err(|e| anyhow!("systemd: get ControlGroup: {e}"))?;
        match reply.body.first() {
            Some(Value::Variant(v)) => Ok(v.as_str().unwrap_or_default().to_string()),
            other => bail!("systemd: ControlGroup: unexpected reply {other:?}"),
        }
    }

    /// Set properties of a running unit (runtime only, as runc).
    pub fn set(&mut self, unit: &str, props: Vec<Value>) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        self.manager(
            "SetUnitProperties",
            &[
                Value::str(unit),
                Value::Bool(true),
                Value::Array("(sv)".into(), props),
            ],
        )
        .map(|_| ())
        .map_err(|e| anyhow!("update unit {unit}: {e:#}"))
    }

    /// Stop the unit (waiting for the job) and forget it even if it failed. Best effort: a
    /// unit already gone is fine.
    pub fn stop(&mut self, unit: &str) {
        match self.manager("StopUnit", &[Value::str(unit), Value::str("replace")]) {
            Ok(r) => {
                let job = r.first_str().unwrap_or_default().to_string();
                if let Err(e) = self.wait_job(&job, &format!("stop unit {unit}")) {
                    crate::debug!("systemd: {e:#}");
                }
            }
            Err(e) => crate::debug!("systemd: stop unit {unit}: {e:#}"),
        }
        let _ = self.manager("ResetFailedUnit", &[Value::str(unit)]);
    }
}

/// The unit's cgroup directory on every hierarchy the host mounts, as runc's drivers place
/// it: the one cgroup2 mount on a pure v2 host; on a v1 or hybrid host every v1 hierarchy
/// (systemd makes the unit's directory on `name=systemd` and the controllers it manages; the
/// caller makes the rest and moves the init there, as runc's legacy driver does).
pub fn cgroup_dirs(u: &UnitPath, rootless: bool) -> Result<Vec<(String, PathBuf)>> {
    let layout = super::Layout::current().map_err(|e| anyhow!(e))?;
    let pure_v2 = layout.mode() == super::Mode::Unified;
    if rootless && !pure_v2 {
        // A user's manager gets no delegation on v1 (runc refuses too).
        bail!("--systemd-cgroup: rootless needs a pure cgroup v2 host");
    }
    if !pure_v2 && !layout.hierarchies.iter().any(|h| h.name == "name=systemd") {
        bail!("--systemd-cgroup: this host mounts no systemd cgroup hierarchy (neither pure cgroup v2 nor name=systemd)");
    }
    Ok(layout
        .hierarchies
        .iter()
        .map(|h| (h.name.clone(), h.mount_point.join(&u.cgroup)))
        .collect())
}

/// Check that `pid` is in the unit's cgroup on the hierarchy systemd tracks units by (the
/// `name=systemd` one where it exists, else the unified one), from `/proc/<pid>/cgroup`.
pub fn check_placed(pid: i32, u: &UnitPath) -> Result<()> {
    let text = crate::sys::read_small(format!("/proc/{pid}/cgroup"))
        .map_err(|e| anyhow!("/proc/{pid}/cgroup: {e}"))?;
    let lines = super::mountinfo::parse_self_cgroup(&text);
    let tracked = lines
        .iter()
        .find(|(_, names, _)| names == "name=systemd")
        .or_else(|| {
            lines
                .iter()
                .find(|(id, names, _)| *id == 0 && names.is_empty())
        });
    let want = Path::new("/").join(&u.cgroup);
    match tracked {
        Some((_, _, path)) if Path::new(path) == want => Ok(()),
        _ => bail!(
            "systemd: unit {} started, but the init is in cgroup {:?}, not {}",
            u.unit,
            text.trim_end(),
            want.display()
        ),
    }
}
