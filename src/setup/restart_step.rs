//! The `docker-restart` step: make the live dockerd read daemon.json, verify
//! experimental is on, and never leave docker stopped.

use super::facts::Facts;
use super::plan::{Action, Flags, PlannedStep, Restart, Status, StepId, find};
use crate::docker::{self, Init, Kind};
use crate::fsio;
use crate::host::{Cmd, Host};
use crate::progress::Progress;
use anyhow::{Result, bail};
use std::time::Duration;

fn command_line(cmd: &[&str]) -> String {
    cmd.join(" ")
}

/// The docker-restart step (and the header) where no docker engine is
/// installed; the doctor says `docker is not installed` too.
pub const NOT_INSTALLED: &str =
    "docker is not installed: nothing to restart; install docker, then re-run dockpoint setup";

/// Plan the restart from the facts and the daemon-json step: pure.
pub fn plan(f: &Facts, flags: &Flags, before: &[PlannedStep]) -> PlannedStep {
    let mut s = PlannedStep::new(StepId::DockerRestart);
    let dj = find(before, StepId::DaemonJson);
    let changes = dj.is_some_and(|p| p.status == Status::Changed);
    let file_ok = dj.is_some_and(|p| p.status == Status::Ok);
    if dj.is_some_and(|p| p.status == Status::Failed) {
        s.status = Status::Skipped;
        s.message = "daemon.json is not ready (see daemon-json): docker was not restarted".into();
        return s;
    }
    if !f.live {
        s.status = if changes { Status::Skipped } else { Status::Ok };
        s.message = if changes {
            "--root: not a live system; docker reads daemon.json when it next starts".into()
        } else {
            "daemon.json unchanged: no restart needed".into()
        };
        return s;
    }
    let Some(d) = f
        .docker
        .as_ref()
        .filter(|d| crate::observe::docker_installed(d))
    else {
        s.status = Status::Skipped;
        s.message = NOT_INSTALLED.into();
        return s;
    };
    if let Some(note) = d.describe_kind() {
        s.message = format!("{note}. ");
    }
    let engine = f.engine.as_ref();
    let platform = engine.and_then(|e| e.platform.clone()).unwrap_or_default();
    if platform.contains("Docker Desktop") {
        s.status = Status::Manual;
        s.message.push_str(&format!(
            "this is {platform}: Docker Desktop runs its engine in a VM without CRIU, so docker checkpoint is not supported there; use a Linux host with docker engine"
        ));
        return s;
    }
    let answer = engine.map_or_else(
        || Err("no engine API here".to_string()),
        |e| e.experimental.clone(),
    );
    let exp = match answer {
        Ok(e) => e,
        Err(why) => {
            s.status = if changes || file_ok {
                Status::Ok
            } else {
                Status::Skipped
            };
            if d.pid.is_none() {
                s.message.push_str(&format!(
                    "dockerd is installed but not running: nothing to restart; it reads daemon.json when it starts ({why})"
                ));
            } else {
                s.message.push_str(&format!(
                    "docker does not answer ({why}); it reads daemon.json when it starts"
                ));
            }
            return s;
        }
    };
    if exp {
        s.status = Status::Ok;
        s.message
            .push_str("experimental is on (Docker-Experimental: true): no restart needed");
        return s;
    }
    if !changes && !file_ok {
        s.status = Status::Skipped;
        s.message
            .push_str("daemon.json is not ready (see daemon-json): docker was not restarted");
        return s;
    }
    let why = if changes {
        "so that it reads the new daemon.json (experimental is not reloadable; `systemctl daemon-reload` does not apply it)"
    } else {
        "because daemon.json turns experimental on but the running docker has it off (Docker-Experimental: false)"
    };
    let containers = engine.map(|e| e.running.clone()).unwrap_or_default();
    let live_restore = engine.is_some_and(|e| e.live_restore);
    let will = impact(&containers, live_restore, false);
    let cmd = match (d.kind, d.restart_command()) {
        (Kind::Snap, _) => Some(vec!["snap", "restart", "docker"]),
        (_, c) => c,
    };
    let Some(cmd) = cmd else {
        s.status = Status::Manual;
        s.message.push_str(&format!(
            "restart docker {why}: dockerd (pid {}) is not managed by systemd, SysV init or OpenRC, so restart it the way it was started: stop it (kill -TERM {}), start it again as `{}`, then check: docker version --format '{{{{.Server.Experimental}}}}' prints true. {will}",
            d.pid.map_or("?".into(), |p| p.to_string()),
            d.pid.map_or("<pid>".into(), |p| p.to_string()),
            d.argv.join(" ")
        ));
        return s;
    };
    if flags.no_restart {
        s.status = Status::Skipped;
        s.message.push_str(&format!(
            "--no-restart: restart docker yourself {why}: {} ({will})",
            command_line(&cmd)
        ));
        return s;
    }
    s.status = Status::Changed;
    s.message.push_str(&format!(
        "restart docker with `{}` {why}; {will}",
        command_line(&cmd)
    ));
    let Some(api) = f.api.clone() else {
        s.status = Status::Skipped;
        s.message
            .push_str("no engine API to check the restart with: docker was not restarted");
        return s;
    };
    s.action = Some(Action::Restart(Restart {
        command: cmd,
        init: d.init,
        api,
        wait: Duration::from_secs(60),
        impact: impact(&containers, live_restore, true),
    }));
    s
}

/// What the restart does (or, `done`, did) to the running containers.
fn impact(containers: &[String], live_restore: bool, done: bool) -> String {
    let names = containers.join(", ");
    match (containers.is_empty(), live_restore, done) {
        (true, _, false) => "no containers are running".into(),
        (true, _, true) => "no containers were running".into(),
        (false, true, false) => {
            format!("live-restore is on: running containers ({names}) keep running")
        }
        (false, true, true) => {
            format!("live-restore is on: the running containers ({names}) kept running")
        }
        (false, false, false) => format!(
            "this stops the running containers: {names} (live-restore is off; only those with restart policy always/unless-stopped come back)"
        ),
        (false, false, true) => format!(
            "it stopped the running containers: {names} (only those with restart policy always/unless-stopped came back)"
        ),
    }
}

fn restart_and_verify(host: &Host, r: &Restart, progress: &Progress) -> Result<()> {
    let (api, cmd) = (&r.api, &r.command);
    progress.phase(&format!("running {}", command_line(cmd)));
    let out = host.run(&Cmd::new(cmd[0], &cmd[1..]).timeout(Duration::from_secs(120)))?;
    if !out.success() {
        bail!(
            "`{}` failed (exit {}):\n{}",
            command_line(cmd),
            out.status
                .map_or_else(|| "by a signal".to_string(), |c| c.to_string()),
            out.tail(10)
        );
    }
    let exp = docker::wait_for_api(api, r.wait, &|left| {
        progress.phase(&format!("waiting for the docker API: {left}s left"))
    })?;
    if !exp {
        bail!("docker is back, but experimental is still off (Docker-Experimental: false)");
    }
    Ok(())
}

pub fn apply(host: &Host, f: &Facts, s: &mut PlannedStep, r: Restart, before: &[PlannedStep]) {
    let Some(d) = &f.docker else { return };
    let dj = find(before, StepId::DaemonJson);
    if dj.is_some_and(|p| p.status == Status::Failed) {
        s.status = Status::Skipped;
        s.message =
            "daemon.json was not written (see daemon-json): docker was not restarted".into();
        return;
    }
    let progress = Progress::start(&host.term, "docker-restart");
    let first = restart_and_verify(host, &r, &progress);
    let Err(err) = first else {
        progress.finish("docker is back with experimental on");
        s.status = Status::Changed;
        s.message = format!(
            "restarted docker with `{}`; experimental is on (Docker-Experimental: true); {}",
            command_line(&r.command),
            r.impact
        );
        return;
    };
    // Roll back: the previous daemon.json, a clean start counter, a restart.
    let log = docker::log_tail(host, d, 30);
    let mut done = Vec::new();
    if let Some(w) = dj.and_then(|p| p.written.clone()) {
        match fsio::restore(host, &w.path, &w.new, w.old.as_deref()) {
            Ok(what) => done.push(what),
            Err(e) => done.push(format!("could NOT restore {}: {e:#}", w.path)),
        }
    }
    let snap = d.kind == Kind::Snap;
    if r.init == Init::Systemd {
        let unit = if snap {
            "snap.docker.dockerd"
        } else {
            "docker"
        };
        let _ = host.run(&Cmd::new("systemctl", &["reset-failed", unit]));
    }
    if done.is_empty() {
        done.push(
            "daemon.json was not changed by this run, so there was nothing to restore".into(),
        );
    }
    progress.phase("rolling back");
    let again = host
        .run(&Cmd::new(r.command[0], &r.command[1..]).timeout(Duration::from_secs(120)))
        .ok()
        .filter(|o| o.success())
        .and_then(|_| docker::wait_for_api(&r.api, r.wait, &|_| {}).ok());
    s.status = Status::Failed;
    let state = match again {
        Some(_) => format!("{}; docker is running again", done.join("; ")),
        None => format!(
            "{}; docker did NOT come back: start it with `{}` and read {}",
            done.join("; "),
            command_line(&r.command),
            match (snap, r.init) {
                (true, _) => "`snap logs docker.dockerd` (journalctl -u snap.docker.dockerd)",
                (false, Init::Systemd) => "`journalctl -u docker`",
                (false, _) => "/var/log/docker.log",
            }
        ),
    };
    progress.finish("rolled back");
    s.message =
        format!("{err:#}\nRolled back: {state}.\nThe daemon's log before the rollback:\n{log}");
}
