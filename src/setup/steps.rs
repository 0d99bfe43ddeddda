//! The setup steps, as a table. Each step plans from the facts, the flags
//! and the steps before it: pure functions, no host. The same planning
//! code serves the dry run and the real run.

use super::facts::Facts;
use super::plan::{Action, Flags, PendingWrite, PlannedStep, Status, StepId, Validation};
use crate::daemon_json::{self, DaemonInputs};
use crate::edit::{Edit, EditError};
use crate::host::{Cmd, Host};
use crate::observe::FileFact;
use crate::runc_conf;
use anyhow::{Result, bail};

/// A setup step: its id and its planner.
pub struct StepDef {
    pub id: StepId,
    pub plan: fn(&Facts, &Flags, &[PlannedStep]) -> PlannedStep,
}

/// The steps in the order they run.
pub const STEPS: &[StepDef] = &[
    StepDef {
        id: StepId::CriuInstall,
        plan: |f, o, _| super::criu_step::plan(f, o),
    },
    StepDef {
        id: StepId::RuncConf,
        plan: plan_runc_conf,
    },
    StepDef {
        id: StepId::DaemonJson,
        plan: plan_daemon_json,
    },
    StepDef {
        id: StepId::DockerRestart,
        plan: super::restart_step::plan,
    },
];

/// Plan a file edit: run the pure editor on the bytes observed, diff.
fn plan_file(
    id: StepId,
    file: &FileFact,
    edit: &dyn Fn(&str) -> std::result::Result<Edit, EditError>,
    validation: Validation,
) -> PlannedStep {
    let host_path = file.host_path.as_str();
    let mut s = PlannedStep::new(id);
    s.path = Some(host_path.to_string());
    let old = match &file.content {
        Ok(o) => o.clone(),
        Err(e) => return s.failed(format!("{e}. The file was left untouched")),
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
                validation,
            }));
            s
        }
    }
}

fn plan_runc_conf(facts: &Facts, flags: &Flags, _: &[PlannedStep]) -> PlannedStep {
    let want = flags.runc_options();
    plan_file(
        StepId::RuncConf,
        &facts.runc_conf,
        &|old| runc_conf::ensure_options(old, &want, flags.repair_runc),
        Validation::RuncConf(want.clone()),
    )
}

fn plan_daemon_json(facts: &Facts, flags: &Flags, _: &[PlannedStep]) -> PlannedStep {
    let inputs = DaemonInputs {
        experimental_flag: facts.experimental_flag().is_some(),
    };
    let dockerd = facts
        .docker
        .as_ref()
        .filter(|_| facts.live)
        .and_then(|d| Some((d.dockerd.clone()?, d.flags_for_validate())));
    let mut s = plan_file(
        StepId::DaemonJson,
        &facts.daemon_json,
        &|old| daemon_json::ensure_experimental(old, &inputs, flags.repair_daemon),
        Validation::DaemonJson {
            experimental_flag: inputs.experimental_flag,
            dockerd,
        },
    );
    if let Some(src) = facts.experimental_flag() {
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

/// Validate a candidate file (its temp file's path, its bytes) before it
/// replaces the old one. Apply-time: `dockerd --validate` runs here.
pub fn validate(host: &Host, v: &Validation, tmp: &str, bytes: &[u8]) -> Result<()> {
    match v {
        Validation::None => Ok(()),
        Validation::RuncConf(want) => runc_conf::check_in_effect(want, bytes),
        Validation::DaemonJson {
            experimental_flag,
            dockerd,
        } => {
            let text = std::str::from_utf8(bytes)?;
            let v = daemon_json::experimental_value(text)?;
            match (experimental_flag, v) {
                (true, None) | (false, Some(serde_json::Value::Bool(true))) => {}
                (_, v) => bail!("the new daemon.json has \"experimental\": {v:?}"),
            }
            // Where this dockerd can (>= 23.0), let it judge the candidate with its live flags.
            let Some((dockerd, flags)) = dockerd else {
                return Ok(());
            };
            let mut cmd = Cmd::new(dockerd, &["--validate", "--config-file"]).arg(tmp);
            for f in flags {
                cmd = cmd.arg(f.clone());
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
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::distro::Distro;
    use crate::observe::CriuCheck;

    /// Facts of an image root with the given files.
    pub fn facts(runc: Option<&str>, daemon: Option<&str>) -> Facts {
        let file = |p: &str, c: Option<&str>| FileFact {
            host_path: p.into(),
            content: Ok(c.map(|t| t.as_bytes().to_vec())),
        };
        Facts {
            live: false,
            root: Some("/img".into()),
            distro: Distro::unknown(),
            kernel: None,
            criu: None,
            criu_check: CriuCheck::NotRun("x".into()),
            apt: None,
            libc: None,
            source: None,
            ours: Vec::new(),
            docker: None,
            engine: None,
            api: None,
            docker_notes: Vec::new(),
            runc_conf: file("/etc/criu/runc.conf", runc),
            daemon_json: file("/etc/docker/daemon.json", daemon),
        }
    }

    #[test]
    fn the_table_is_in_order_with_unique_ids() {
        let ids: Vec<&str> = STEPS.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["criu-install", "runc-conf", "daemon-json", "docker-restart"]
        );
        // The JSON id is the same word.
        assert_eq!(
            serde_json::to_value(StepId::DockerRestart).unwrap(),
            "docker-restart"
        );
    }

    #[test]
    fn with_the_flag_an_absent_daemon_json_stays_absent() {
        let mut f = facts(None, None);
        let s = plan_daemon_json(&f, &Flags::default(), &[]);
        assert_eq!(s.status, Status::Changed, "without the flag it is created");
        f.docker = Some(crate::docker::Daemon {
            pid: Some(1),
            argv: vec!["dockerd".into(), "--experimental".into()],
            config_file: "/etc/docker/daemon.json".into(),
            experimental_flag: Some("the dockerd command line".into()),
            kind: crate::docker::Kind::Rootful,
            init: crate::docker::Init::Systemd,
            dockerd: None,
        });
        let s = plan_daemon_json(&f, &Flags::default(), &[]);
        assert_eq!(s.status, Status::Ok, "{}", s.message);
        assert!(s.action.is_none(), "nothing may be written");
    }

    #[test]
    fn an_unreadable_file_fails_its_step_and_names_it() {
        let mut f = facts(None, None);
        f.runc_conf.content =
            Err("/etc/criu/runc.conf is a FIFO (named pipe), not a regular file".into());
        let s = plan_runc_conf(&f, &Flags::default(), &[]);
        assert_eq!(s.status, Status::Failed);
        assert!(s.message.contains("FIFO"), "{}", s.message);
        assert!(s.action.is_none());
    }

    #[test]
    fn the_plan_carries_the_bytes_it_was_made_from() {
        let f = facts(Some("# mine\n"), None);
        let s = plan_runc_conf(&f, &Flags::default(), &[]);
        match s.action {
            Some(Action::Write(w)) => {
                assert_eq!(w.old.as_deref(), Some(&b"# mine\n"[..]));
                assert_eq!(w.new, b"# mine\ntcp-established\n");
            }
            other => panic!("{other:?}"),
        }
    }
}
