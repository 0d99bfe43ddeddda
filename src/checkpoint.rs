//! `dockpoint checkpoint CONTAINER [NAME]`: the preflight (the doctor's
//! checks for this host's docker and CRIU, and for this container), then the
//! checkpoint through the Engine API, with containerd's GC race retried, the
//! CRIU log kept and explained on failure, and the facts a later restore is
//! gated on recorded beside it.
//!
//! Observe (the observer and the container's facts, once), plan (the
//! preflight's verdict: a pure function of the doctor's report), apply (one
//! API call, retried only on the GC race).

use crate::cli::{CheckpointArgs, Format};
use crate::docker::api::{Api, ApiError};
use crate::doctor::{self, CheckResult, Selection, Status};
use crate::exit::Exit;
use crate::host::{Host, SystemRunner, Term};
use crate::observe::Observer;
use crate::ui;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The doctor's checks the preflight runs (prefixes): the host's docker and
/// CRIU, runc.conf, and every container check.
pub const PREFLIGHT: &[&str] = &[
    "docker.api",
    "docker.experimental",
    "criu.installed",
    "criu.version",
    "criu.check",
    "runc-conf",
    "container",
    "host.checkpoint-leftovers",
];

/// Where dockpoint records what a checkpoint was made with.
pub const RECORDS: &str = "/var/lib/dockpoint/checkpoints";

/// docker's rule for checkpoint names (one path component since moby#53377).
pub fn valid_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if name.len() >= 2 && first_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "checkpoint name {name:?}: use letters, digits, `_`, `.` and `-`, starting with a letter or digit, at least 2 characters (docker's rule)"
        ))
    }
}

/// The default name: a sortable UTC time.
pub fn default_name(now: jiff::Timestamp) -> String {
    format!("cp-{}", now.strftime("%Y%m%dT%H%M%SZ"))
}

/// containerd's GC race (moby#42900): the same bytes are already in the
/// content store.
pub fn is_gc_race(message: &str) -> bool {
    message.contains("already exists") && message.contains("content sha256:")
}

/// How long to wait before each retry on the GC race (CRIU's own CI retries
/// three times).
pub const GC_RETRY: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// The CRIU log docker's error names (`path= .../criu-dump.log`).
pub fn named_log(message: &str) -> Option<String> {
    let at = message.find("path=")?;
    let rest = message[at + 5..].trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ':')
        .unwrap_or(rest.len());
    let p = &rest[..end];
    (p.starts_with('/') && p.ends_with(".log")).then(|| p.to_string())
}

/// What the preflight decided: pure, from the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Go, but these warnings say what makes it unrestorable later.
    Warn(Vec<String>),
    /// Do not call docker.
    Refuse(Vec<String>),
}

pub fn verdict(checks: &[CheckResult]) -> Verdict {
    let line = |c: &CheckResult| {
        let mut details: Vec<&str> = c.details.iter().map(String::as_str).take(5).collect();
        if c.details.len() > 5 {
            details.push("...");
        }
        format!(
            "{}: {}{}{}",
            c.id,
            c.message,
            if details.is_empty() {
                String::new()
            } else {
                format!(": {}", details.join("; "))
            },
            c.fix
                .as_deref()
                .map(|f| format!(" (fix: {f})"))
                .unwrap_or_default()
        )
    };
    let refuse: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error))
        .map(|c| match c.status {
            Status::Error => format!("{}: could not check: {}", c.id, c.message),
            _ => line(c),
        })
        .collect();
    if !refuse.is_empty() {
        return Verdict::Refuse(refuse);
    }
    let warn: Vec<String> = checks
        .iter()
        .filter(|c| c.status == Status::Warn)
        .map(line)
        .collect();
    if warn.is_empty() {
        Verdict::Go
    } else {
        Verdict::Warn(warn)
    }
}

/// The facts a later restore compares with (recorded beside the checkpoint).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Record {
    pub format_version: u32,
    pub container_id: String,
    pub container: String,
    pub checkpoint: String,
    pub created: String,
    pub kernel: Option<String>,
    pub criu: Option<String>,
    pub docker: Option<String>,
    pub leave_running: bool,
    /// Files open for writing at the checkpoint, with their size then.
    pub open_files: Vec<(String, Option<u64>)>,
    pub size_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub container: String,
    pub checkpoint: String,
    /// created / refused / failed.
    pub status: &'static str,
    pub duration_ms: u64,
    pub preflight: Vec<CheckResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// none / retried.
    pub gc_race: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub criu_log: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnoses: Vec<crate::explain::Diagnosis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub message: String,
}

/// `dockpoint checkpoint`.
pub fn run(args: &CheckpointArgs) -> Exit {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| default_name(jiff::Timestamp::now()));
    if let Err(e) = valid_name(&name) {
        ui::error(&e);
        return Exit::Usage;
    }
    if !nix::unistd::geteuid().is_root() {
        ui::error(
            "dockpoint checkpoint reads the container's processes and talks to docker: run it as root (sudo dockpoint checkpoint ...)",
        );
        return Exit::Usage;
    }
    let json = args.format == Format::Json;
    let term = Term::detect();
    let host = match Host::new(None, Box::new(SystemRunner), term) {
        Ok(h) => h,
        Err(e) => {
            ui::error(&format!("{e:#}"));
            return Exit::Failed;
        }
    };
    let started = Instant::now();
    let obs = Arc::new(Observer::new(host, Duration::from_secs(30)));
    let sel = Selection {
        only: PREFLIGHT.iter().map(|s| s.to_string()).collect(),
        skip: Vec::new(),
        containers: vec![args.container.clone()],
    };
    let progress = crate::progress::Progress::start(
        &obs.host.term,
        &format!("checkpoint {}: preflight", args.container),
    );
    let pre = doctor::run_checks(obs.clone(), &sel, false);
    progress.finish("done");
    let mut report = Report {
        format_version: 1,
        container: args.container.clone(),
        checkpoint: name.clone(),
        status: "refused",
        duration_ms: 0,
        preflight: pre.checks.clone(),
        warnings: Vec::new(),
        size_bytes: None,
        gc_race: "none",
        error: None,
        criu_log: None,
        diagnoses: Vec::new(),
        record: None,
        message: String::new(),
    };
    match verdict(&pre.checks) {
        Verdict::Refuse(why) => {
            report.message = format!(
                "refused before docker was called, nothing was done:\n  {}",
                why.join("\n  ")
            );
            return finish(json, report, started);
        }
        Verdict::Warn(w) => {
            report.warnings = w;
            if !json {
                for w in &report.warnings {
                    ui::eline(&format!("warning: {w}"));
                }
            }
            if term.interactive
                && !args.yes
                && !ui::ask_yes_no("Checkpoint anyway (see the warnings)?", false)
            {
                report.message = "cancelled by the operator; nothing was done".into();
                return finish(json, report, started);
            }
        }
        Verdict::Go => {}
    }
    let api = match obs.api() {
        Ok(a) => a.with_timeout(Duration::from_secs(args.timeout)),
        Err(e) => {
            report.status = "failed";
            report.message = e.clone();
            return finish(json, report, started);
        }
    };
    let facts = obs.container(&args.container);
    let progress = crate::progress::Progress::start(
        &obs.host.term,
        &format!(
            "checkpoint {} as {name}{}",
            args.container,
            if args.leave_running {
                " (left running)"
            } else {
                ""
            }
        ),
    );
    let result = create(&api, &args.container, &name, !args.leave_running, &progress);
    match result {
        Ok(retried) => {
            progress.finish("created");
            report.gc_race = if retried { "retried" } else { "none" };
            report.status = "created";
            let id = facts
                .inspect
                .as_ref()
                .map(|i| i.id.clone())
                .unwrap_or_default();
            let dir = format!(
                "{}/containers/{id}/checkpoints/{name}",
                obs.docker_root().trim_end_matches('/')
            );
            report.size_bytes = crate::container::dir_bytes(&obs.host, &dir);
            let record = Record {
                format_version: 1,
                container_id: id.clone(),
                container: args.container.clone(),
                checkpoint: name.clone(),
                created: jiff::Timestamp::now().to_string(),
                kernel: obs.kernel.as_ref().map(|k| k.release.clone()),
                criu: obs.criu().and_then(|c| c.version).map(|v| v.to_string()),
                docker: obs.docker_version(),
                leave_running: args.leave_running,
                open_files: facts
                    .facts
                    .as_ref()
                    .map(|f| {
                        f.writable_files
                            .iter()
                            .map(|o| (o.path.clone(), o.size))
                            .collect()
                    })
                    .unwrap_or_default(),
                size_bytes: report.size_bytes,
            };
            let path = format!("{RECORDS}/{id}/{name}.json");
            let text = serde_json::to_vec_pretty(&record).expect("a record serialises");
            match crate::fsio::write_file(&obs.host, &path, None, &text, &|_, _| Ok(())) {
                Ok(_) => report.record = Some(path),
                Err(e) => report.warnings.push(format!(
                    "the checkpoint's record could not be written: {e:#}"
                )),
            }
            report.message = format!(
                "created checkpoint {name} of {} ({}{}){}",
                args.container,
                report
                    .size_bytes
                    .map(crate::container::human_bytes)
                    .unwrap_or_else(|| "size unknown".into()),
                if retried {
                    ", after retrying containerd's GC race"
                } else {
                    ""
                },
                if args.leave_running {
                    "; the container keeps running"
                } else {
                    "; the container is stopped: restore it with dockpoint restore (or docker start --checkpoint)"
                }
            );
        }
        Err(e) => {
            progress.finish("failed");
            report.status = "failed";
            let msg = e
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string());
            // Keep the CRIU log docker names before it goes with the task.
            let mut logs = Vec::new();
            if let Some(p) = named_log(&msg) {
                match keep_log(&obs.host, &p, &args.container, &name) {
                    Ok(kept) => {
                        report.criu_log = Some(kept.clone());
                        logs.push(kept);
                    }
                    Err(why) => report.warnings.push(why),
                }
            }
            report.diagnoses = crate::explain::explain_text(&obs.host, &msg, &logs).diagnoses;
            report.message = format!("docker could not checkpoint {}: {msg}", args.container);
            if is_gc_race(&msg) && !args.leave_running {
                report.message.push_str(&format!(
                    "\ncontainerd's GC race (moby#42900) failed the call after docker had stopped the container, and no checkpoint was kept: start it again (docker start {}) and retry in a few seconds",
                    args.container
                ));
            }
            report.error = Some(msg);
        }
    }
    finish(json, report, started)
}

/// The checkpoint call, retried with backoff on the GC race only.
fn create(
    api: &Api,
    container: &str,
    name: &str,
    exit: bool,
    progress: &crate::progress::Progress,
) -> Result<bool, ApiError> {
    let mut retried = false;
    for wait in GC_RETRY.iter().map(Some).chain([None]) {
        match api.create_checkpoint(container, name, exit) {
            Ok(()) => return Ok(retried),
            Err(e) if is_gc_race(e.message().unwrap_or_default()) => match wait {
                // With exit, docker may have stopped the container though it
                // kept no checkpoint: a retry would find nothing to dump.
                Some(_) if exit && api.inspect(container).is_ok_and(|i| !i.state.running) => {
                    return Err(e);
                }
                Some(w) => {
                    progress.phase(&format!(
                        "containerd's GC race (content already exists): retrying in {}s",
                        w.as_secs()
                    ));
                    retried = true;
                    std::thread::sleep(*w);
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    unreachable!("the last attempt returns")
}

/// Copy the CRIU log under /var/log/dockpoint (docker removes the original
/// with the task).
fn keep_log(host: &Host, path: &str, container: &str, name: &str) -> Result<String, String> {
    let bytes = host
        .fs
        .read(path, 64 << 20)
        .map_err(|e| format!("the CRIU log {path} could not be read: {e:#}"))?
        .ok_or_else(|| format!("the CRIU log {path} was already gone"))?;
    let base = path.rsplit('/').next().unwrap_or("criu.log");
    let safe: String = container
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let dest = format!("/var/log/dockpoint/{safe}-{name}-{base}");
    crate::fsio::write_file(host, &dest, None, &bytes, &|_, _| Ok(()))
        .map(|_| dest)
        .map_err(|e| format!("the CRIU log could not be kept: {e:#}"))
}

fn finish(json: bool, mut report: Report, started: Instant) -> Exit {
    report.duration_ms = started.elapsed().as_millis() as u64;
    let exit = if report.status == "created" {
        Exit::Ok
    } else {
        Exit::Failed
    };
    if json {
        ui::print_json(&report)
    } else {
        print_human(&report);
    }
    ui::finish(exit)
}

fn print_human(r: &Report) {
    for c in &r.preflight {
        if matches!(c.status, Status::Fail | Status::Error | Status::Warn) {
            ui::println(&format!(
                "{} {:<27} {}",
                doctor::symbol(c.status),
                c.id,
                c.message
            ));
            if let Some(f) = &c.fix {
                ui::println(&format!("    fix: {f}"));
            }
            for d in &c.details {
                ui::println(&format!("    {d}"));
            }
        }
    }
    let sym = if r.status == "created" { "✓" } else { "✗" };
    ui::println(&format!("{sym} {}", r.message));
    if let Some(l) = &r.criu_log {
        ui::println(&format!("    CRIU log kept: {l}"));
    }
    for d in &r.diagnoses {
        ui::println(&format!("    {}: {}", d.id, d.title));
        ui::println(&format!("      cause: {}", d.cause));
        for f in &d.fix {
            ui::println(&format!("      fix: {f}"));
        }
    }
    ui::println(&format!("    ({} ms)", r.duration_ms));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::checks::Severity;

    fn check(id: &'static str, status: Status) -> CheckResult {
        CheckResult {
            id,
            title: id.into(),
            severity: Severity::Error,
            status,
            message: format!("{id} says"),
            fix: Some("do this".into()),
            container: None,
            details: Vec::new(),
            millis: 0,
        }
    }

    #[test]
    fn the_preflight_refuses_on_a_failure_or_an_unknown_and_warns_otherwise() {
        let ok = check("criu.version", Status::Pass);
        assert_eq!(verdict(std::slice::from_ref(&ok)), Verdict::Go);
        let warn = check("container.open-files", Status::Warn);
        assert!(
            matches!(verdict(&[ok.clone(), warn.clone()]), Verdict::Warn(w) if w[0].contains("container.open-files"))
        );
        let fail = check("container.auto-remove", Status::Fail);
        match verdict(&[ok.clone(), warn.clone(), fail]) {
            Verdict::Refuse(r) => {
                assert_eq!(r.len(), 1);
                assert!(r[0].contains("fix: do this"), "{r:?}");
            }
            v => panic!("{v:?}"),
        }
        let unknown = check("criu.check", Status::Error);
        assert!(
            matches!(verdict(&[ok, unknown]), Verdict::Refuse(r) if r[0].contains("could not check"))
        );
    }

    #[test]
    fn names_follow_dockers_rule_and_the_default_sorts_by_time() {
        assert!(valid_name("cp-20261126T161930Z").is_ok());
        assert!(valid_name("before.upgrade_2").is_ok());
        for bad in ["", "a", "../x", "-x", "a/b", "a b"] {
            assert!(valid_name(bad).is_err(), "{bad:?}");
        }
        let t: jiff::Timestamp = "2026-11-26T16:19:30Z".parse().unwrap();
        let later: jiff::Timestamp = "2026-11-26T16:19:31Z".parse().unwrap();
        assert_eq!(default_name(t), "cp-20261126T161930Z");
        assert!(default_name(t) < default_name(later));
        assert!(valid_name(&default_name(t)).is_ok());
    }

    #[test]
    fn the_gc_race_and_the_named_log_are_read_from_dockers_message() {
        assert!(is_gc_race(
            "Cannot checkpoint container c: content sha256:4f2a...: already exists"
        ));
        assert!(!is_gc_race(
            "Conflict. The container name \"/c\" is already in use"
        ));
        let m = "Cannot checkpoint container tcp2: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0 path= /run/containerd/io.containerd.runtime.v2.task/moby/6a6e/criu-dump.log: unknown";
        assert_eq!(
            named_log(m).as_deref(),
            Some("/run/containerd/io.containerd.runtime.v2.task/moby/6a6e/criu-dump.log")
        );
        assert_eq!(named_log("no log here"), None);
    }
}
