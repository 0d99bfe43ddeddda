//! The setup steps, as a table. Each step plans from the host as it is; the
//! engine shows, confirms and applies. The same planning code serves the
//! dry run and the real run.

use super::{Options, PendingWrite, PlannedStep, Status};
use crate::daemon_json;
use crate::edit::{Edit, EditError};
use crate::fsio;
use crate::host::Host;
use crate::runc_conf::{self, CriuOption};
use anyhow::{Result, bail};

pub const RUNC_CONF: &str = "/etc/criu/runc.conf";
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";

/// A setup step: a stable id and its planner.
pub struct StepDef {
    pub id: &'static str,
    pub plan: fn(&Host, &Options, &[PlannedStep]) -> PlannedStep,
}

/// The steps in the order they run.
pub const STEPS: &[StepDef] = &[
    StepDef {
        id: "criu-install",
        plan: plan_criu_install,
    },
    StepDef {
        id: "runc-conf",
        plan: plan_runc_conf,
    },
    StepDef {
        id: "daemon-json",
        plan: plan_daemon_json,
    },
    StepDef {
        id: "docker-restart",
        plan: plan_docker_restart,
    },
];

/// Where CRIU may be installed, relative to the root.
const CRIU_PATHS: &[&str] = &[
    "/usr/sbin/criu",
    "/usr/bin/criu",
    "/sbin/criu",
    "/usr/local/sbin/criu",
    "/usr/local/bin/criu",
];

fn plan_criu_install(host: &Host, opts: &Options, _: &[PlannedStep]) -> PlannedStep {
    let mut s = PlannedStep::new("criu-install");
    if let Some(found) = CRIU_PATHS.iter().find(|p| host.path(p).is_file()) {
        s.status = Status::Ok;
        s.message = format!("CRIU is installed at {found}");
        return s;
    }
    if opts.no_install {
        s.status = Status::Skipped;
        s.message = "--no-install: CRIU is not installed and was left to you".into();
        return s;
    }
    let how = match opts.distro_family {
        crate::distro::Family::Debian => "apt-get install criu",
        crate::distro::Family::Fedora => "dnf install criu",
        crate::distro::Family::Suse => "zypper install criu",
        crate::distro::Family::Arch => "pacman -S criu",
        crate::distro::Family::Alpine | crate::distro::Family::Other => {
            "see https://criu.org/Installation"
        }
    };
    if !host.live {
        s.status = Status::Skipped;
        s.message = format!(
            "--root: installing packages needs a live system; CRIU is not in the root (in the image: {how})"
        );
        return s;
    }
    s.status = Status::Manual;
    s.message =
        format!("CRIU is not installed; install it: {how} (CRIU >= 4.2 on kernels >= 6.16)");
    s
}

/// Plan a file edit: read, run the pure editor, diff. `edit` returns the new
/// text and its notes, or the editor's error with a possible repair.
fn plan_file(
    host: &Host,
    id: &'static str,
    host_path: &str,
    edit: &dyn Fn(&str) -> std::result::Result<Edit, EditError>,
    validate: fn(&[u8], &Options) -> Result<()>,
) -> PlannedStep {
    let mut s = PlannedStep::new(id);
    s.path = Some(host_path.to_string());
    let path = match fsio::resolve_in_root(&host.root, &host.path(host_path)) {
        Ok(p) => p,
        Err(e) => return s.failed(format!("{e:#}")),
    };
    let old = match fsio::read_optional(&path) {
        Ok(o) => o,
        Err(e) => return s.failed(format!("{e:#}")),
    };
    let old_text = match &old {
        None => String::new(),
        Some(b) => match String::from_utf8(b.clone()) {
            Ok(t) => t,
            Err(_) => {
                return s.failed(format!(
                    "{host_path} is not UTF-8 text; fix it by hand (nothing was changed)"
                ));
            }
        },
    };
    match edit(&old_text) {
        Err(err) => {
            s.repair = err.repair.clone();
            let next = match &err.repair {
                Some(r) => {
                    format!("; to let dockpoint {r}, confirm when asked or re-run with --repair")
                }
                None => "; fix it by hand and re-run".into(),
            };
            s.failed(format!(
                "{host_path} {err}. The file was left untouched{next}"
            ))
        }
        Ok(Edit { text: new, .. }) if old.is_some() && new == old_text => {
            s.status = Status::Ok;
            s.message = "already configured".into();
            s
        }
        Ok(Edit { text: new, notes }) => {
            s.status = Status::Changed;
            s.message = if old.is_none() {
                format!("create {host_path}: {}", notes.join("; "))
            } else {
                notes.join("; ")
            };
            s.diff = Some(super::unified_diff(
                host_path,
                old.is_some(),
                &old_text,
                &new,
            ));
            s.write = Some(PendingWrite {
                path,
                new: new.into_bytes(),
                validate,
            });
            s
        }
    }
}

fn plan_runc_conf(host: &Host, opts: &Options, _: &[PlannedStep]) -> PlannedStep {
    let want = opts.runc_options();
    plan_file(
        host,
        "runc-conf",
        RUNC_CONF,
        &|old| runc_conf::ensure_options(old, &want, opts.repair_runc),
        validate_runc_conf,
    )
}

fn validate_runc_conf(bytes: &[u8], opts: &Options) -> Result<()> {
    let text = std::str::from_utf8(bytes)?;
    for opt in opts.runc_options() {
        let eff = runc_conf::effective(text, &opt.name)?;
        let ok = match &opt.value {
            None => eff.is_some(),
            Some(v) => eff.as_ref() == Some(v),
        };
        if !ok {
            bail!("`{opt}` is not in effect in the new runc.conf");
        }
    }
    Ok(())
}

fn plan_daemon_json(host: &Host, opts: &Options, _: &[PlannedStep]) -> PlannedStep {
    let inputs = opts.daemon.clone();
    let mut s = plan_file(
        host,
        "daemon-json",
        DAEMON_JSON,
        &|old| daemon_json::ensure_experimental(old, &inputs, opts.repair_daemon),
        validate_daemon_json,
    );
    if s.status == Status::Ok && opts.daemon.experimental_flag {
        s.message = "dockerd runs with --experimental; daemon.json left alone".into();
    }
    s
}

fn validate_daemon_json(bytes: &[u8], opts: &Options) -> Result<()> {
    let text = std::str::from_utf8(bytes)?;
    let v = daemon_json::experimental_value(text)?;
    match (opts.daemon.experimental_flag, v) {
        (true, None) | (false, Some(serde_json::Value::Bool(true))) => Ok(()),
        (_, v) => bail!("the new daemon.json has \"experimental\": {v:?}"),
    }
}

fn plan_docker_restart(host: &Host, opts: &Options, before: &[PlannedStep]) -> PlannedStep {
    let mut s = PlannedStep::new("docker-restart");
    let daemon_changes = before
        .iter()
        .any(|p| p.id == "daemon-json" && p.status == Status::Changed);
    if !daemon_changes {
        s.status = Status::Ok;
        s.message = "daemon.json unchanged: no restart needed".into();
    } else if !host.live {
        s.status = Status::Skipped;
        s.message =
            "--root: not a live system; docker reads daemon.json when it next starts".into();
    } else if opts.no_restart {
        s.status = Status::Skipped;
        s.message = "--no-restart: restart docker yourself to apply daemon.json: systemctl restart docker (not daemon-reload: experimental is not reloadable)".into();
    } else {
        s.status = Status::Manual;
        s.message = "restart docker to apply daemon.json: systemctl restart docker (or service docker restart); it stops running containers unless live-restore is on".into();
    }
    s
}

/// Parse the `--criu-option` values given on the command line.
pub fn parse_criu_options(specs: &[String]) -> std::result::Result<Vec<CriuOption>, String> {
    specs.iter().map(|s| CriuOption::parse(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{RecordingRunner, Term};

    fn host(root: &std::path::Path) -> Host {
        Host::new(
            Some(root.to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
    }

    #[test]
    fn restart_is_only_planned_when_daemon_json_changes() {
        let d = tempfile::tempdir().unwrap();
        let h = host(d.path());
        let opts = Options::default();
        let mut changed = PlannedStep::new("daemon-json");
        changed.status = Status::Changed;
        assert_eq!(plan_docker_restart(&h, &opts, &[]).status, Status::Ok);
        assert_eq!(
            plan_docker_restart(&h, &opts, &[changed]).status,
            Status::Skipped
        );
    }

    #[test]
    fn criu_found_under_root() {
        let d = tempfile::tempdir().unwrap();
        let h = host(d.path());
        let opts = Options {
            no_install: true,
            ..Options::default()
        };
        assert_eq!(plan_criu_install(&h, &opts, &[]).status, Status::Skipped);
        std::fs::create_dir_all(d.path().join("usr/sbin")).unwrap();
        std::fs::write(d.path().join("usr/sbin/criu"), "").unwrap();
        assert_eq!(plan_criu_install(&h, &opts, &[]).status, Status::Ok);
    }
}
