//! The setup steps, as a table. Each step plans from the host as it is; the
//! engine shows, confirms and applies. The same planning code serves the
//! dry run and the real run.

use super::{Action, Options, PendingWrite, PlannedStep, Status};
use crate::daemon_json;
use crate::edit::{Edit, EditError};
use crate::host::{Cmd, Host};
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
        plan: |h, o, _| super::criu_step::plan(h, o),
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
        plan: super::restart_step::plan,
    },
];

/// Plan a file edit: read, run the pure editor, diff. `edit` returns the new
/// text and its notes, or the editor's error with a possible repair.
fn plan_file(
    host: &Host,
    id: &'static str,
    host_path: &str,
    edit: &dyn Fn(&str) -> std::result::Result<Edit, EditError>,
    validate: super::Validate,
) -> PlannedStep {
    let mut s = PlannedStep::new(id);
    s.path = Some(host_path.to_string());
    let old = match host.fs.read(host_path, crate::rootfs::CONFIG_LIMIT) {
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
        // Nothing to do: an absent file the editor has nothing to add to stays absent.
        Ok(Edit { text: new, notes }) if notes.is_empty() || (old.is_some() && new == old_text) => {
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
            s.action = Some(Action::Write(PendingWrite {
                path: host_path.to_string(),
                old,
                new: new.into_bytes(),
                validate,
            }));
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

fn validate_runc_conf(_: &Host, opts: &Options, _: &str, bytes: &[u8]) -> Result<()> {
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
    let path = opts
        .docker
        .as_ref()
        .map_or(DAEMON_JSON, |d| d.config_file.as_str());
    let mut s = plan_file(
        host,
        "daemon-json",
        path,
        &|old| daemon_json::ensure_experimental(old, &inputs, opts.repair_daemon),
        validate_daemon_json,
    );
    if let Some(src) = opts
        .docker
        .as_ref()
        .and_then(|d| d.experimental_flag.as_ref())
    {
        if s.status == Status::Ok {
            s.message = format!(
                "dockerd already runs with --experimental (from {src}): daemon.json left alone (the key in both places would stop dockerd from starting)"
            );
        } else if s.status == Status::Failed {
            s.message
                .push_str(&format!(" (the --experimental flag comes from {src})"));
        }
    }
    s
}

fn validate_daemon_json(host: &Host, opts: &Options, tmp: &str, bytes: &[u8]) -> Result<()> {
    let text = std::str::from_utf8(bytes)?;
    let v = daemon_json::experimental_value(text)?;
    match (opts.daemon.experimental_flag, v) {
        (true, None) | (false, Some(serde_json::Value::Bool(true))) => {}
        (_, v) => bail!("the new daemon.json has \"experimental\": {v:?}"),
    }
    // Where this dockerd can (>= 23.0), let it judge the candidate with its live flags.
    let Some(d) = opts.docker.as_ref().filter(|_| host.live) else {
        return Ok(());
    };
    let Some(dockerd) = &d.dockerd else {
        return Ok(());
    };
    let mut cmd = Cmd::new(dockerd, &["--validate", "--config-file"]).arg(tmp);
    for f in d.flags_for_validate() {
        cmd = cmd.arg(f);
    }
    let out = host.run(&cmd)?;
    let said = format!("{}{}", out.stdout, out.stderr);
    if said.contains("unknown flag: --validate") {
        return Ok(()); // docker < 23.0 cannot validate; the restart step verifies.
    }
    if !out.success() {
        bail!(
            "dockerd --validate rejects the new daemon.json, so it was not written: {}",
            out.tail(5)
        );
    }
    Ok(())
}

/// Parse the `--criu-option` values given on the command line.
pub fn parse_criu_options(specs: &[String]) -> std::result::Result<Vec<CriuOption>, String> {
    specs.iter().map(|s| CriuOption::parse(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{RecordingRunner, Term};

    #[test]
    fn with_the_flag_an_absent_daemon_json_stays_absent() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(
            Some(d.path().to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap();
        let mut opts = Options::default();
        opts.daemon.experimental_flag = true;
        let s = plan_daemon_json(&h, &opts, &[]);
        assert_eq!(s.status, Status::Ok, "{}", s.message);
        assert!(s.action.is_none(), "nothing may be written");
        // Without the flag the file is created.
        let s = plan_daemon_json(&h, &Options::default(), &[]);
        assert_eq!(s.status, Status::Changed);
    }

    #[test]
    fn restart_is_not_planned_under_root() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(
            Some(d.path().to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap();
        let opts = Options::default();
        let mut changed = PlannedStep::new("daemon-json");
        changed.status = Status::Changed;
        let plan = |b: &[PlannedStep]| super::super::restart_step::plan(&h, &opts, b);
        assert_eq!(plan(&[]).status, Status::Ok);
        assert_eq!(plan(&[changed]).status, Status::Skipped);
        assert!(
            h.runner.run(&Cmd::new("true", &[])).is_err(),
            "nothing was run"
        );
    }
}
