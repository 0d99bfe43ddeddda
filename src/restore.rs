//! `dockpoint restore CONTAINER [NAME]`: the preflight (the doctor's checks
//! for this host's docker and CRIU and for this container, and the restore's
//! own gates: the checkpoint exists, every file CRIU will insist on still has
//! the size it recorded, the kernel and CRIU it was made with), then the
//! restore through the Engine API with containerd's GC race handled, the
//! proof that CRIU restored it (its restore log), the signal, and the wait
//! for health.
//!
//! Observe ([`observe`]: the observer, the container, its checkpoints and the
//! chosen checkpoint's `files.img`, once), plan ([`gates`]: pure, from those
//! facts and the flags), apply ([`apply`]: stop if running, start from the
//! checkpoint, prove, signal, wait).

use crate::checkpoints::Entry;
use crate::cli::{Format, HealthUrl, RestoreArgs};
use crate::criu_image::RestoreStats;
use crate::docker::api::{Api, ContainerInspect, Started};
use crate::doctor::checks::Severity;
use crate::doctor::{CheckResult, Status};
use crate::exit::Exit;
use crate::host::{Host, Term};
use crate::observe::{Observer, RUNC_CONF};
use crate::progress::Progress;
use crate::ui;
#[cfg(test)]
use crate::workflow::host_candidates;
use crate::workflow::{
    FileNow, Now, RECORDS, Record, Verdict, cpuinfo_dir, files_now, named_log, task_dir,
    valid_name, verdict,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The doctor's checks the restore's preflight runs.
pub const PREFLIGHT: &[&str] = &[
    "docker.api",
    "docker.experimental",
    "criu.installed",
    "criu.version",
    "criu.check",
    "runc-conf",
    "container.auto-remove",
    "container.restart-policy",
    "container.network",
];

/// What only warns before a checkpoint (it can still be made) but means the
/// restore cannot work: refused here.
pub const REFUSED_AT_RESTORE: &[&str] = &["container.network"];

/// The line CRIU ends a good restore log with.
pub const RESTORED_LINE: &str = "Restore finished successfully";

/// The CRIU log docker's restore error names (`log file: PATH: unknown`),
/// or the `path=` form of a dump error.
pub fn restore_log_named(message: &str) -> Option<String> {
    if let Some(at) = message.find("log file: ") {
        let rest = &message[at + 10..];
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let p = rest[..end].trim_end_matches(':');
        if p.starts_with('/') && p.ends_with(".log") {
            return Some(p.to_string());
        }
    }
    named_log(message)
}

/// One checkpoint and what decides whether it can be restored here.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub entry: Entry,
    /// What dockpoint recorded beside it (None: made by plain docker).
    pub record: Option<Record>,
    /// What CRIU will check, and what is there now; Err: files.img unread.
    pub files: Result<Vec<FileNow>, String>,
    /// `criu cpuinfo check` against the CPU recorded at the checkpoint
    /// (None: no CPU was recorded).
    pub cpu: Option<Result<(), String>>,
}

/// The facts the restore's gates read, gathered once.
#[derive(Debug, Clone)]
pub struct Facts {
    pub container: String,
    pub inspect: Result<ContainerInspect, String>,
    /// Newest first.
    pub checkpoints: Result<Vec<Candidate>, String>,
    pub kernel: Option<String>,
    pub criu: Option<String>,
    /// Whether /etc/criu/runc.conf sets tcp-close now (None: unreadable).
    pub tcp_close: Option<bool>,
}

/// The flags the gates read.
#[derive(Debug, Clone)]
pub struct Flags {
    pub name: Option<String>,
    pub yes: bool,
    pub interactive: bool,
    /// Unattended (at boot): the newest checkpoint that can be restored
    /// here, the others skipped with the reason.
    pub usable_only: bool,
}

/// The checkpoint the restore uses: the named one; else the newest (that
/// can be restored here, with `usable_only`).
pub fn chosen<'a>(facts: &'a Facts, flags: &Flags) -> Option<&'a Candidate> {
    let list = facts.checkpoints.as_ref().ok()?;
    match &flags.name {
        Some(n) => list.iter().find(|c| &c.entry.name == n),
        None if flags.usable_only => list.iter().find(|c| usable(facts, c)),
        None => list.first(),
    }
}

/// Nothing about this checkpoint refuses its restore here.
pub fn usable(facts: &Facts, cp: &Candidate) -> bool {
    candidate_gates(facts, cp)
        .iter()
        .all(|g| !matches!(g.status, Status::Fail | Status::Error))
}

/// Why each checkpoint newer than the chosen one was passed over.
pub fn skipped(facts: &Facts, flags: &Flags) -> Vec<(String, String)> {
    // Only an unattended run passes checkpoints over.
    let (true, Ok(list)) = (flags.usable_only, &facts.checkpoints) else {
        return Vec::new();
    };
    let chosen = chosen(facts, flags).map(|c| c.entry.name.as_str());
    list.iter()
        .take_while(|c| Some(c.entry.name.as_str()) != chosen)
        .map(|c| {
            let why: Vec<String> = candidate_gates(facts, c)
                .into_iter()
                .filter(|g| matches!(g.status, Status::Fail | Status::Error))
                .map(|g| {
                    let mut line = format!("{}: {}", g.id, g.message);
                    if !g.details.is_empty() {
                        line.push_str(&format!(" ({})", g.details.join("; ")));
                    }
                    line
                })
                .collect();
            (c.entry.name.clone(), why.join("; "))
        })
        .collect()
}

/// The gates of one checkpoint: its files, and what it was made with.
pub fn candidate_gates(facts: &Facts, cp: &Candidate) -> Vec<CheckResult> {
    vec![files_gate(&facts.container, cp), made_with_gate(facts, cp)]
}

fn result(
    id: &'static str,
    title: &str,
    status: Status,
    message: String,
    fix: Option<String>,
    details: Vec<String>,
) -> CheckResult {
    CheckResult {
        id,
        title: title.into(),
        severity: if status == Status::Warn {
            Severity::Warning
        } else {
            Severity::Error
        },
        status,
        message,
        fix,
        container: None,
        details,
        millis: 0,
    }
}

/// The restore's own gates: pure, from the facts and the flags.
pub fn gates(facts: &Facts, flags: &Flags) -> Vec<CheckResult> {
    let c = &facts.container;
    let mut out = Vec::new();
    // The checkpoint.
    let cp = chosen(facts, flags);
    out.push(match (&facts.checkpoints, cp) {
        (Err(e), _) => result(
            "restore.checkpoint",
            "the checkpoint exists",
            Status::Error,
            e.clone(),
            None,
            Vec::new(),
        ),
        (Ok(list), None) => {
            let names = if list.is_empty() {
                "none".to_string()
            } else {
                list.iter()
                    .map(|c| c.entry.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (message, fix, details) = match &flags.name {
                Some(n) => (
                    format!("{c} has no checkpoint {n} (it has: {names})"),
                    format!("name one dockpoint checkpoints {c} lists"),
                    Vec::new(),
                ),
                None if !list.is_empty() => (
                    format!("none of the checkpoints of {c} can be restored here"),
                    format!("cold start (docker start {c}), then make a new one: dockpoint checkpoint {c}"),
                    skipped(facts, flags)
                        .into_iter()
                        .map(|(n, why)| format!("{n}: {why}"))
                        .collect(),
                ),
                None => (
                    format!("{c} has no checkpoint"),
                    format!("make one first: dockpoint checkpoint {c}"),
                    Vec::new(),
                ),
            };
            result(
                "restore.checkpoint",
                "the checkpoint exists",
                Status::Fail,
                message,
                Some(fix),
                details,
            )
        }
        (Ok(_), Some(cp)) => {
            let e = &cp.entry;
            let skipped: Vec<String> = skipped(facts, flags)
                .into_iter()
                .map(|(n, why)| format!("skipped {n}: {why}"))
                .collect();
            result(
                "restore.checkpoint",
                "the checkpoint exists",
                Status::Pass,
                format!(
                    "checkpoint {}{}{}",
                    e.name,
                    e.created
                        .as_deref()
                        .map(|t| format!(" of {t}"))
                        .unwrap_or_default(),
                    e.size_bytes
                        .map(|b| format!(", {}", crate::container::human_bytes(b)))
                        .unwrap_or_default()
                ),
                None,
                skipped,
            )
        }
    });
    let Some(cp) = cp else {
        return out;
    };
    out.extend(candidate_gates(facts, cp));
    if let Ok(i) = &facts.inspect
        && i.state.running
    {
        let why =
            "docker start --checkpoint on a running container restores nothing and says nothing";
        out.push(if flags.yes || flags.interactive {
            result(
                "restore.running",
                "stopped before the restore",
                Status::Warn,
                format!("{c} is running: it is stopped first ({why})"),
                Some("dockpoint stops it first".into()),
                Vec::new(),
            )
        } else {
            result(
                "restore.running",
                "stopped before the restore",
                Status::Fail,
                format!(
                    "{c} is running: a restore must stop it first ({why}), and nobody said yes"
                ),
                Some(format!(
                    "rerun with --yes to stop it first, or docker stop {c}"
                )),
                Vec::new(),
            )
        });
    }
    out
}

/// Every file CRIU will check has the size it recorded.
fn files_gate(container: &str, cp: &Candidate) -> CheckResult {
    const ID: &str = "restore.open-files";
    const TITLE: &str = "files the checkpoint holds open are unchanged";
    let files = match &cp.files {
        Ok(f) => f,
        Err(e) => {
            return result(
                ID,
                TITLE,
                Status::Warn,
                format!("could not read what the checkpoint holds open: {e}"),
                Some("if the restore fails with `has bad size`, a file it held open was written since: cold start instead".into()),
                Vec::new(),
            );
        }
    };
    let changed: Vec<String> = files
        .iter()
        .filter_map(|f| match &f.now {
            Now::Size(s) if *s != f.expect => Some(format!(
                "{}: {} bytes now, the checkpoint expects {}{}",
                f.name,
                s,
                f.expect,
                f.host_path
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            )),
            Now::Absent => Some(format!(
                "{}: gone, the checkpoint expects {} bytes",
                f.name, f.expect
            )),
            _ => None,
        })
        .collect();
    let unknown: Vec<String> = files
        .iter()
        .filter_map(|f| match &f.now {
            Now::Unknown(why) => Some(format!("{}: {why}", f.name)),
            _ => None,
        })
        .collect();
    if !changed.is_empty() {
        return result(
            ID,
            TITLE,
            Status::Fail,
            format!(
                "{} file(s) the checkpoint holds open changed since: CRIU refuses the restore (`File ... has bad size`)",
                changed.len()
            ),
            Some(format!(
                "cold start instead (docker start {container}); or take a checkpoint that stops the container (no --leave-running) and restore before anything writes these files again"
            )),
            changed,
        );
    }
    if !unknown.is_empty() {
        return result(
            ID,
            TITLE,
            Status::Warn,
            format!(
                "{} file(s) the checkpoint holds open could not be checked",
                unknown.len()
            ),
            Some("if the restore fails with `has bad size`, cold start instead".into()),
            unknown,
        );
    }
    result(
        ID,
        TITLE,
        Status::Pass,
        format!(
            "{} file(s) CRIU will check have the size it recorded",
            files.len()
        ),
        None,
        Vec::new(),
    )
}

/// The kernel, CRIU, CPU and image now against those the checkpoint was
/// made with.
fn made_with_gate(facts: &Facts, cp: &Candidate) -> CheckResult {
    const ID: &str = "restore.made-with";
    const TITLE: &str = "the kernel, CRIU, CPU and image the checkpoint was made with";
    let c = &facts.container;
    let Some(r) = &cp.record else {
        return result(
            ID,
            TITLE,
            Status::Pass,
            "not recorded (made without dockpoint): kernel, CRIU and CPU not compared".into(),
            None,
            Vec::new(),
        );
    };
    let mut refuse = Vec::new();
    let mut warn = Vec::new();
    if let (Some(then), Some(now)) = (&r.criu, &facts.criu)
        && then != now
    {
        let (t, n) = (
            crate::criu::Version::parse(then),
            crate::criu::Version::parse(now),
        );
        match (t, n) {
            (Some(t), Some(n)) if n < t => refuse.push(format!(
                "CRIU {now} is older than the CRIU {then} that made the checkpoint: it may not read its images"
            )),
            _ => warn.push(format!("made with CRIU {then}, now {now}")),
        }
    }
    if let (Some(then), Some(now)) = (&r.kernel, &facts.kernel)
        && then != now
    {
        refuse.push(format!(
            "made on kernel {then}, now {now}: CRIU restores across kernels only when the vDSO, CPU features and namespaces match, which nothing checks beforehand"
        ));
    }
    if let Some(Err(why)) = &cp.cpu {
        refuse.push(format!(
            "the CPU differs from the one the checkpoint was made on (criu cpuinfo check: {why})"
        ));
    }
    if let (Some(then), Ok(i)) = (&r.image, &facts.inspect)
        && !i.image.is_empty()
        && then != &i.image
    {
        refuse.push(format!(
            "made from image {then}, the container now has {}",
            i.image
        ));
    }
    // Seen on the e2e host: CRIU says "Need to set the --tcp-close options".
    let tcp_close_gone = r.tcp_close && facts.tcp_close == Some(false);
    if tcp_close_gone {
        refuse.push(format!(
            "made with tcp-close in {RUNC_CONF}, which has none now: CRIU restores such a checkpoint only with tcp-close"
        ));
    }
    if !refuse.is_empty() {
        let fix = if tcp_close_gone && refuse.len() == 1 {
            format!(
                "add the line `tcp-close` back to {RUNC_CONF} (dockpoint enable {c} --tcp-close does it) and restore again, or cold start (docker start {c})"
            )
        } else {
            format!("cold start (docker start {c}), then make a new checkpoint here")
        };
        return result(ID, TITLE, Status::Fail, refuse.join("; "), Some(fix), warn);
    }
    if !warn.is_empty() {
        return result(
            ID,
            TITLE,
            Status::Warn,
            warn.join("; "),
            Some(format!(
                "if the restore fails, cold start (docker start {c})"
            )),
            Vec::new(),
        );
    }
    result(
        ID,
        TITLE,
        Status::Pass,
        format!(
            "same kernel ({}) and CRIU ({}){} as at the checkpoint",
            r.kernel.as_deref().unwrap_or("?"),
            r.criu.as_deref().unwrap_or("?"),
            if matches!(cp.cpu, Some(Ok(()))) {
                ", a compatible CPU"
            } else {
                ""
            }
        ),
        None,
        Vec::new(),
    )
}

/// What the restore does at `docker`'s level after the preflight: the
/// doctor's warnings that refuse here are made failures.
pub fn harden(mut checks: Vec<CheckResult>) -> Vec<CheckResult> {
    for c in &mut checks {
        if REFUSED_AT_RESTORE.contains(&c.id) && c.status == Status::Warn {
            c.status = Status::Fail;
            c.severity = Severity::Error;
        }
    }
    checks
}

/// Observe: the container, its checkpoints, and for each checkpoint that
/// may be chosen its record, its files now and its CPU check.
pub fn observe(obs: &Observer, container: &str, flags: &Flags) -> Facts {
    let o = obs.container(container);
    let inspect = o.inspect.clone();
    let root = obs.docker_root();
    let checkpoints = crate::checkpoints::list(obs, container).map(|(_, list)| {
        let Ok(i) = &inspect else { return Vec::new() };
        list.into_iter()
            .enumerate()
            .map(|(k, entry)| {
                // Read (record, files, CPU check) only what may be chosen:
                // the named one, the newest, or, unattended, each in turn.
                // The others keep their names, for the messages.
                let may_be_chosen = match &flags.name {
                    Some(n) => &entry.name == n,
                    None => flags.usable_only || k == 0,
                };
                if may_be_chosen {
                    candidate(obs, i, &root, entry)
                } else {
                    Candidate {
                        record: None,
                        files: Err("not read: it cannot be chosen".into()),
                        cpu: None,
                        entry,
                    }
                }
            })
            .collect()
    });
    Facts {
        container: container.to_string(),
        inspect,
        checkpoints,
        kernel: obs.kernel.as_ref().map(|k| k.release.clone()),
        criu: obs.criu().and_then(|c| c.version).map(|v| v.to_string()),
        tcp_close: crate::workflow::tcp_close_set(&obs.host),
    }
}

fn candidate(obs: &Observer, i: &ContainerInspect, root: &str, entry: Entry) -> Candidate {
    let name = &entry.name;
    let dir = format!(
        "{}/containers/{}/checkpoints/{name}",
        root.trim_end_matches('/'),
        i.id
    );
    let record: Option<Record> = obs
        .host
        .fs
        .read(&format!("{RECORDS}/{}/{name}.json", i.id), 1 << 20)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let files = obs
        .host
        .fs
        .read(&format!("{dir}/files.img"), 256 << 20)
        .map_err(|e| format!("{dir}/files.img: {e:#}"))
        .and_then(|b| b.ok_or_else(|| format!("{dir}/files.img is missing")))
        .and_then(|b| {
            crate::criu_image::reg_files(&b).map_err(|e| format!("{dir}/files.img: {e:#}"))
        })
        .map(|files| files_now(&obs.host, &files, i, root));
    let cpu_dir = cpuinfo_dir(&i.id, name);
    let cpu = obs
        .host
        .fs
        .is_file(&format!("{cpu_dir}/cpuinfo.img"))
        .then(|| cpu_check(&obs.host, &cpu_dir));
    Candidate {
        entry,
        record,
        files,
        cpu,
    }
}

/// `criu cpuinfo check -D DIR`: this CPU can run what was dumped on the
/// one described there.
fn cpu_check(host: &Host, dir: &str) -> Result<(), String> {
    let cmd = crate::host::Cmd::new("criu", &["cpuinfo", "check", "-D", &host.fs.display(dir)]);
    match host.run(&cmd) {
        Ok(o) if o.success() => Ok(()),
        Ok(o) => Err(o
            .stderr
            .lines()
            .chain(o.stdout.lines())
            .find(|l| !l.trim().is_empty())
            .unwrap_or("it failed")
            .trim()
            .to_string()),
        Err(e) => Err(format!("{e:#}")),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub checkpoint: String,
    pub why: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub container: String,
    pub checkpoint: Option<String>,
    /// restored / cold-started (--or-cold-start) / refused / failed.
    pub status: &'static str,
    pub duration_ms: u64,
    pub preflight: Vec<CheckResult>,
    pub warnings: Vec<String>,
    /// Newer checkpoints passed over, and why (unattended runs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// none / retried / purged.
    pub gc_race: &'static str,
    pub stopped_first: bool,
    pub signal_sent: Option<String>,
    /// How the restore was proven (CRIU's restore log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub criu_stats: Option<RestoreStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthy_after_ms: Option<u64>,
    /// Why the container was started fresh instead (--or-cold-start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start_reason: Option<String>,
    /// containerd's copies of the checkpoint in /tmp, removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleaned: Vec<String>,
    pub error: Option<String>,
    pub criu_log: Option<String>,
    pub diagnoses: Vec<crate::explain::Diagnosis>,
    /// Where this run's steps were logged (a refusal logs nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_log: Option<String>,
    pub message: String,
}

impl Report {
    /// Refused until something says otherwise; nothing measured yet.
    pub fn new(container: &str, checkpoint: Option<String>, preflight: Vec<CheckResult>) -> Report {
        Report {
            format_version: 1,
            container: container.to_string(),
            checkpoint,
            status: "refused",
            duration_ms: 0,
            preflight,
            warnings: Vec::new(),
            skipped: Vec::new(),
            gc_race: "none",
            stopped_first: false,
            signal_sent: None,
            proof: None,
            criu_stats: None,
            healthy_after_ms: None,
            cleaned: Vec::new(),
            cold_start_reason: None,
            error: None,
            criu_log: None,
            diagnoses: Vec::new(),
            change_log: None,
            message: String::new(),
        }
    }
}

/// `dockpoint restore`.
pub fn run(args: &RestoreArgs) -> Exit {
    crate::runner::set_verbose(args.verbose);
    if let Some(n) = &args.name
        && let Err(e) = valid_name(n)
    {
        ui::error(&e);
        return Exit::Usage;
    }
    if !nix::unistd::geteuid().is_root() {
        ui::error(
            "dockpoint restore reads docker's checkpoint files and talks to docker: run it as root (sudo dockpoint restore ...)",
        );
        return Exit::Usage;
    }
    let json = args.format == Format::Json;
    // Ctrl-C ends the run after the step under way: never a container left
    // stopped between the stop and the restore.
    ui::handle_ctrl_c();
    let term = Term::detect();
    let started = Instant::now();
    let obs = match Observer::live(term) {
        Ok(o) => Arc::new(o),
        Err(exit) => return exit,
    };
    let flags = Flags {
        name: args.name.clone(),
        yes: args.yes,
        interactive: term.interactive,
        usable_only: args.or_cold_start,
    };
    let pre = crate::workflow::preflight(&obs, PREFLIGHT, "restore", &args.container);
    let facts = observe(&obs, &args.container, &flags);
    let mut checks = harden(pre);
    checks.extend(gates(&facts, &flags));
    let name = chosen(&facts, &flags).map(|c| c.entry.name.clone());
    let mut report = Report::new(
        &args.container,
        name.clone().or(args.name.clone()),
        checks.clone(),
    );
    if name.is_some() {
        report.skipped = skipped(&facts, &flags)
            .into_iter()
            .map(|(checkpoint, why)| Skipped { checkpoint, why })
            .collect();
    }
    match verdict(&checks) {
        Verdict::Refuse(why) => {
            report.message = format!(
                "refused before docker was called, nothing was done:\n  {}",
                why.join("\n  ")
            );
            if args.or_cold_start {
                cold_start(&obs, &args.container, why.join("; "), &mut report);
            }
            return finish_run(args, &obs, report, started);
        }
        Verdict::Warn(w) => {
            report.warnings = w;
            let asked = crate::workflow::consent(
                &report.warnings,
                json,
                args.yes,
                term.interactive,
                "Restore anyway (see the warnings)?",
            );
            if let Err(why) = asked {
                report.message = why;
                return finish_run(args, &obs, report, started);
            }
        }
        Verdict::Go => {}
    }
    let (Some(name), Ok(inspect)) = (name, &facts.inspect) else {
        unreachable!("the gates refuse without a checkpoint or a container")
    };
    let api = match obs.api() {
        Ok(a) => a.with_timeout(Duration::from_secs(args.timeout)),
        Err(e) => {
            report.status = "failed";
            report.message = e.clone();
            return finish_run(args, &obs, report, started);
        }
    };
    let signal = (!args.no_signal).then(|| args.signal.as_str().to_string());
    apply(
        &obs,
        &api,
        inspect,
        &name,
        signal.as_deref(),
        args.wait_healthy.as_ref(),
        Duration::from_secs(args.timeout),
        &crate::gc_race::RETRY[..usize::from(args.gc_retries)],
        &mut report,
    );
    // The restore failed and left the container stopped: cold start.
    if args.or_cold_start
        && report.status == "failed"
        && !api.inspect(&args.container).is_ok_and(|i| i.state.running)
    {
        let criu = report
            .diagnoses
            .first()
            .map(|d| format!(" (CRIU: {}: {})", d.matched.trim(), d.title))
            .unwrap_or_default();
        let why = format!(
            "the restore from {name} failed: {}{criu}",
            first_line(&report.message)
        );
        cold_start(&obs, &args.container, why, &mut report);
    }
    finish_run(args, &obs, report, started)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Unattended: no checkpoint could be restored, so start the container
/// fresh (`docker start`), saying why. Never both, never neither: a
/// container docker already runs is left as it is.
fn cold_start(obs: &Observer, c: &str, why: String, report: &mut Report) {
    report.cold_start_reason = Some(why.clone());
    let api = match obs.api() {
        Ok(a) => a,
        Err(e) => {
            report.status = "failed";
            report.message = format!("could not cold start {c} either: {e}");
            return;
        }
    };
    match api.start(c, None) {
        Ok(Started::Started) => {
            report.status = "cold-started";
            report.message = format!("cold-started {c} (docker start): {why}");
        }
        Ok(Started::AlreadyRunning) => {
            report.status = "cold-started";
            report.message = format!("{c} was already running (docker started it): {why}");
        }
        Err(e) => {
            report.status = "failed";
            report.message = format!("could not cold start {c} either ({why}): {e}");
        }
    }
}

/// Where an unattended run says what happened, for `dockpoint status`.
pub const OUTCOMES: &str = "/var/lib/dockpoint/boot";

/// The outcome of the last unattended restore of a container.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Outcome {
    pub time: String,
    pub status: String,
    pub checkpoint: Option<String>,
    pub message: String,
    pub duration_ms: u64,
}

pub fn outcome_path(container: &str) -> String {
    let safe: String = container
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{OUTCOMES}/{safe}.json")
}

fn finish_run(args: &RestoreArgs, obs: &Observer, mut report: Report, started: Instant) -> Exit {
    if args.or_cold_start {
        let o = Outcome {
            time: jiff::Timestamp::now().to_string(),
            status: report.status.to_string(),
            checkpoint: (report.status == "restored")
                .then(|| report.checkpoint.clone())
                .flatten(),
            message: report.message.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
        };
        let text = serde_json::to_vec_pretty(&o).expect("an outcome serialises");
        if let Err(e) = crate::fsio::write_state(&obs.host, &outcome_path(&args.container), &text) {
            report
                .warnings
                .push(format!("the outcome could not be recorded: {e:#}"));
        }
    }
    finish(args.format == Format::Json, report, started, &obs.host)
}

/// Apply: stop if running, restore (the GC race retried, then purged),
/// prove, signal, wait for health. On failure the container is left
/// stopped.
#[allow(clippy::too_many_arguments)]
fn apply(
    obs: &Observer,
    api: &Api,
    inspect: &ContainerInspect,
    name: &str,
    signal: Option<&str>,
    health: Option<&HealthUrl>,
    bound: Duration,
    retry: &[Duration],
    report: &mut Report,
) {
    let c = report.container.clone();
    let progress = Progress::start(&obs.host.term, &format!("restore {c} from {name}"));
    report.status = "failed";
    if inspect.state.running {
        progress.phase("stopping the running container first");
        match api.stop(&c, 10) {
            Ok(_) => report.stopped_first = true,
            Err(e) => {
                progress.finish("failed");
                report.message = format!("could not stop {c} before the restore: {e}");
                report.error = Some(e.to_string());
                return;
            }
        }
    }
    let containerd_root = crate::container::containerd_root_guess(&obs.host, &obs.docker_root());
    let task = task_dir(&containerd_root, &inspect.id);
    let log_path = format!("{task}/restore.log");
    // containerd copies the checkpoint into /tmp/ctrd-checkpoint* for each
    // restore attempt and never removes it (containerd#10166).
    let tmp_before = tmp_copies(&obs.host);
    progress.phase("restoring (CRIU)");
    let passage = crate::gc_race::through(&obs.host, &progress, retry, || {
        watching_log(&obs.host, &log_path, || api.start(&c, Some(name)))
    });
    report.gc_race = passage.path;
    report.warnings.extend(passage.warnings);
    let outcome = match passage.result {
        Ok(s) => Ok((s, passage.extra)),
        Err(e) => Err((e, passage.extra)),
    };
    clean_tmp_copies(obs, inspect, name, &tmp_before, report);
    match outcome {
        Ok((Started::AlreadyRunning, _)) => {
            progress.finish("failed");
            report.message = format!(
                "docker says {c} is already running: nothing was restored (stop it, then restore again)"
            );
        }
        Ok((Started::Started, log)) => {
            let restored = log.as_deref().is_some_and(|l| l.contains(RESTORED_LINE));
            report.criu_stats = obs
                .host
                .fs
                .read(&format!("{task}/stats-restore"), 1 << 20)
                .ok()
                .flatten()
                .and_then(|b| crate::criu_image::restore_stats(&b).ok().flatten());
            if let Some(l) = &log {
                report.criu_log =
                    crate::workflow::keep_log(&obs.host, l.as_bytes(), &c, name, "restore.log")
                        .ok();
            }
            let running = api.inspect(&c).map(|i| i.state.running).unwrap_or(false);
            if !running {
                progress.finish("failed");
                report.message = format!(
                    "docker restored {c}, but it is not running now (it exited right after the restore): see docker logs {c}; cold start instead: docker start {c}"
                );
                return;
            }
            report.proof = Some(if restored {
                format!("CRIU's restore log says \"{RESTORED_LINE}\" ({log_path})")
            } else {
                report.warnings.push(format!(
                    "could not prove the restore from CRIU's restore log ({log_path} was not seen)"
                ));
                "docker started it from the checkpoint (CRIU's log not seen)".into()
            });
            report.status = "restored";
            if let Some(sig) = signal {
                progress.phase(&format!("sending {sig}"));
                match api.kill(&c, sig) {
                    Ok(()) => report.signal_sent = Some(sig.to_string()),
                    Err(e) => {
                        report.status = "failed";
                        report.error = Some(e.to_string());
                        report.message = format!(
                            "{c} was restored from {name}, but {sig} could not be sent: {e}"
                        );
                        progress.finish("failed");
                        return;
                    }
                }
            }
            if let Some(h) = health.filter(|_| !ui::interrupted()) {
                progress.phase(&format!("waiting for {}", h.url));
                let t0 = Instant::now();
                match wait_healthy(h, bound, &progress) {
                    Ok(()) => report.healthy_after_ms = Some(t0.elapsed().as_millis() as u64),
                    Err(why) => {
                        report.status = "failed";
                        report.message = format!(
                            "{c} was restored from {name}{}, but {why}",
                            signal.map(|s| format!(" and sent {s}")).unwrap_or_default()
                        );
                        progress.finish("unhealthy");
                        return;
                    }
                }
            }
            progress.finish("restored");
            report.message = format!(
                "restored {c} from {name}{}{}{}",
                match report.gc_race {
                    "retried" => ", after retrying containerd's GC race",
                    "purged" => ", after removing the blob containerd's GC race left",
                    _ => "",
                },
                signal.map(|s| format!("; sent {s}")).unwrap_or_default(),
                report
                    .healthy_after_ms
                    .map(|ms| format!("; healthy after {ms} ms"))
                    .unwrap_or_default()
            );
        }
        Err((e, log)) => {
            progress.finish("failed");
            let msg = e
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string());
            let mut logs = Vec::new();
            // The log watched, else the one docker names if still there.
            let named = restore_log_named(&msg);
            let bytes = match log {
                Some(l) => Some(l.into_bytes()),
                None => named
                    .as_deref()
                    .and_then(|p| obs.host.fs.read(p, 64 << 20).ok().flatten()),
            };
            match (bytes, named) {
                (Some(b), _) => {
                    match crate::workflow::keep_log(&obs.host, &b, &c, name, "restore.log") {
                        Ok(kept) => {
                            report.criu_log = Some(kept.clone());
                            logs.push(kept);
                        }
                        Err(why) => report.warnings.push(why),
                    }
                }
                (None, Some(p)) => report.warnings.push(format!(
                    "CRIU's restore log {p} was removed with the task before it could be read"
                )),
                (None, None) => {}
            }
            report.diagnoses = crate::explain::explain_text(&obs.host, &msg, &logs).diagnoses;
            // Never half-restored: whatever docker left running is stopped.
            let left_running = api.inspect(&c).is_ok_and(|i| i.state.running);
            if left_running && let Err(e2) = api.stop(&c, 10) {
                report.warnings.push(format!(
                    "{c} is running after the failed restore and could not be stopped: {e2}"
                ));
            }
            report.message = format!(
                "docker could not restore {c} from {name}: {msg}\n{c} is left stopped. To cold start it instead (the state since the checkpoint is lost): docker start {c}"
            );
            report.error = Some(msg);
        }
    }
}

fn tmp_copies(host: &Host) -> std::collections::BTreeSet<String> {
    crate::container::observe_leftovers(
        host,
        crate::container::DEFAULT_TMP,
        crate::container::MAX_WALK,
    )
    .found
    .into_iter()
    .map(|l| l.path)
    .collect()
}

/// Remove the copies of this checkpoint containerd made in /tmp during this
/// restore: new since it began, and holding the checkpoint's own files.img.
fn clean_tmp_copies(
    obs: &Observer,
    inspect: &ContainerInspect,
    name: &str,
    before: &std::collections::BTreeSet<String>,
    report: &mut Report,
) {
    let ours = obs
        .host
        .fs
        .read(
            &format!(
                "{}/containers/{}/checkpoints/{name}/files.img",
                obs.docker_root().trim_end_matches('/'),
                inspect.id
            ),
            256 << 20,
        )
        .ok()
        .flatten();
    let Some(ours) = ours else { return };
    for path in tmp_copies(&obs.host).difference(before) {
        let same = obs
            .host
            .fs
            .read(&format!("{path}/files.img"), 256 << 20)
            .ok()
            .flatten()
            .is_some_and(|b| b == ours);
        if !same {
            continue;
        }
        match crate::fsio::remove_tree(&obs.host, path) {
            Ok(bytes) => report.cleaned.push(format!(
                "{path} ({}): containerd's copy of the checkpoint for this restore (containerd#10166)",
                crate::container::human_bytes(bytes)
            )),
            Err(e) => report.warnings.push(format!(
                "containerd's copy of the checkpoint {path} could not be removed: {e:#}"
            )),
        }
    }
}

/// Run `call` while holding CRIU's restore log open from the moment it
/// appears: its text survives containerd removing it when the restore
/// fails.
fn watching_log<T>(host: &Host, path: &str, call: impl FnOnce() -> T) -> (T, Option<String>) {
    let (r, mut texts) = crate::watch::during(host, &[path.to_string()], call);
    let text = texts
        .pop()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    (r, text)
}

/// Poll an http:// URL until it answers 2xx, up to `bound`.
pub fn wait_healthy(h: &HealthUrl, bound: Duration, progress: &Progress) -> Result<(), String> {
    let t0 = Instant::now();
    let mut last = String::from("no answer yet");
    loop {
        let left = bound.saturating_sub(t0.elapsed());
        if left.is_zero() {
            return Err(format!(
                "{} did not answer 2xx within {} s (last: {last})",
                h.url,
                bound.as_secs()
            ));
        }
        match probe(h, left.min(Duration::from_secs(5))) {
            Ok(code) if (200..300).contains(&code) => return Ok(()),
            Ok(code) => last = format!("HTTP {code}"),
            Err(e) => last = e,
        }
        progress.phase(&format!(
            "waiting for {} ({last}; {} s left)",
            h.url,
            left.as_secs()
        ));
        std::thread::sleep(Duration::from_millis(200).min(left));
    }
}

/// One GET; the status code.
fn probe(h: &HealthUrl, timeout: Duration) -> Result<u16, String> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let addr = h
        .authority
        .to_socket_addrs()
        .map_err(|e| format!("{}: {e}", h.authority))?
        .next()
        .ok_or_else(|| format!("{}: no address", h.authority))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: dockpoint\r\n\r\n",
        h.path, h.host
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Response::new(&mut headers);
        match r.parse(&buf) {
            Ok(httparse::Status::Complete(_)) | Ok(httparse::Status::Partial)
                if r.code.is_some() =>
            {
                return Ok(r.code.unwrap_or_default());
            }
            Ok(_) if buf.len() < 16 << 10 => continue,
            Ok(_) => return Err("an answer without a status line".into()),
            Err(e) => return Err(format!("not HTTP: {e}")),
        }
    }
    Err("the connection closed without an answer".into())
}

fn finish(json: bool, mut report: Report, started: Instant, host: &Host) -> Exit {
    report.duration_ms = started.elapsed().as_millis() as u64;
    let exit = if matches!(report.status, "restored" | "cold-started") {
        Exit::Ok
    } else {
        Exit::Failed
    };
    report.change_log = change_log(&report).finish(host, exit);
    if json {
        ui::print_json(&report)
    } else {
        print_human(&report);
    }
    ui::finish(exit)
}

/// What a restore changed, for the change log (a refusal: nothing).
fn change_log(r: &Report) -> crate::changelog::Run {
    use serde_json::json;
    let mut log = crate::changelog::Run::new("restore");
    let (c, cp) = (&r.container, &r.checkpoint);
    if r.stopped_first {
        log.event(
            "changed",
            json!({"container": c, "what": "stopped the running container before the restore"}),
        );
    }
    match r.status {
        "restored" => log.event(
            "changed",
            json!({"container": c, "checkpoint": cp, "what": "restored", "proof": r.proof, "gc_race": r.gc_race}),
        ),
        "failed" => log.event(
            "failed",
            json!({"container": c, "checkpoint": cp, "error": r.error, "criu_log": r.criu_log, "message": r.message}),
        ),
        _ => {}
    }
    if let Some(sig) = &r.signal_sent {
        log.event(
            "changed",
            json!({"container": c, "what": "signal sent", "signal": sig}),
        );
    }
    if !r.cleaned.is_empty() {
        log.event(
            "changed",
            json!({"container": c, "what": "removed containerd's copies of the checkpoint", "paths": r.cleaned}),
        );
    }
    if r.status == "cold-started" {
        log.event(
            "changed",
            json!({"container": c, "what": "cold start (docker start)", "reason": r.cold_start_reason}),
        );
    }
    log
}

fn print_human(r: &Report) {
    crate::workflow::print_problems(&r.preflight);
    let sym = match r.status {
        "restored" => "✓",
        "cold-started" => "!",
        _ => "✗",
    };
    for k in &r.skipped {
        ui::println(&format!("  skipped {}: {}", k.checkpoint, k.why));
    }
    ui::println(&format!("{sym} {}", r.message));
    if let Some(p) = &r.proof {
        ui::println(&format!("    proof: {p}"));
    }
    if let Some(s) = &r.criu_stats {
        ui::println(&format!(
            "    CRIU: restore {} ms (forking {} ms), {} pages restored",
            s.restore_time_us / 1000,
            s.forking_time_us / 1000,
            s.pages_restored
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into())
        ));
    }
    if let Some(l) = &r.criu_log {
        ui::println(&format!("    CRIU log kept: {l}"));
    }
    for c in &r.cleaned {
        ui::println(&format!("    removed {c}"));
    }
    crate::workflow::print_diagnoses(&r.diagnoses);
    ui::println(&format!("    ({} ms)", r.duration_ms));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inspect(running: bool) -> ContainerInspect {
        serde_json::from_value(serde_json::json!({
            "Id": "abc123",
            "Name": "/bela",
            "Image": "sha256:5d0da3dc",
            "State": {"Status": if running {"running"} else {"exited"}, "Running": running, "Pid": if running {42} else {0},
                      "StartedAt": "2026-11-26T10:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"},
            "HostConfig": {"AutoRemove": false, "RestartPolicy": {"Name": "no"}, "NetworkMode": "host"},
            "Config": {"Tty": false, "OpenStdin": false},
            "Mounts": [
                {"Type": "volume", "Source": "/var/lib/docker/volumes/data/_data", "Destination": "/data", "RW": true},
                {"Type": "bind", "Source": "/srv/bela/journal", "Destination": "/data/journal/", "RW": true}
            ],
            "GraphDriver": {"Name": "overlay2", "Data": {
                "UpperDir": "/var/lib/docker/overlay2/u/diff",
                "LowerDir": "/var/lib/docker/overlay2/l1/diff:/var/lib/docker/overlay2/l2/diff"}}
        }))
        .unwrap()
    }

    fn entry(name: &str, mtime: i64) -> Entry {
        Entry {
            name: name.into(),
            created: None,
            mtime,
            size_bytes: Some(4096),
        }
    }

    fn cand(name: &str, mtime: i64, files: Result<Vec<FileNow>, String>) -> Candidate {
        Candidate {
            entry: entry(name, mtime),
            record: None,
            files,
            cpu: None,
        }
    }

    /// Two checkpoints, cp2 (newest) with these files, cp1 with none.
    fn facts(files: Vec<FileNow>, running: bool) -> Facts {
        with_files(Ok(files), running)
    }

    fn with_files(files: Result<Vec<FileNow>, String>, running: bool) -> Facts {
        Facts {
            container: "bela".into(),
            inspect: Ok(inspect(running)),
            checkpoints: Ok(vec![
                cand("cp2", 20, files),
                cand("cp1", 10, Ok(Vec::new())),
            ]),
            kernel: Some("6.18.0".into()),
            criu: Some("4.2.1".into()),
            tcp_close: Some(false),
        }
    }

    fn flags(name: Option<&str>, yes: bool) -> Flags {
        Flags {
            name: name.map(str::to_owned),
            yes,
            interactive: false,
            usable_only: false,
        }
    }

    fn status_of(checks: &[CheckResult], id: &str) -> Option<Status> {
        checks.iter().find(|c| c.id == id).map(|c| c.status)
    }

    fn file(name: &str, expect: u64, now: Now) -> FileNow {
        FileNow {
            name: name.into(),
            expect,
            host_path: Some(format!("/srv{name}")),
            now,
        }
    }

    #[test]
    fn the_newest_checkpoint_is_the_default_and_a_missing_one_is_refused_with_the_list() {
        let f = facts(Vec::new(), false);
        assert_eq!(chosen(&f, &flags(None, false)).unwrap().entry.name, "cp2");
        assert_eq!(
            chosen(&f, &flags(Some("cp1"), false)).unwrap().entry.name,
            "cp1"
        );
        let g = gates(&f, &flags(Some("cp9"), false));
        let c = g.iter().find(|c| c.id == "restore.checkpoint").unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.message
                .contains("has no checkpoint cp9 (it has: cp2, cp1)"),
            "{}",
            c.message
        );
        let none = Facts {
            checkpoints: Ok(Vec::new()),
            ..facts(Vec::new(), false)
        };
        let g = gates(&none, &flags(None, false));
        assert_eq!(g.len(), 1, "nothing else is judged without a checkpoint");
        assert_eq!(
            g[0].fix.as_deref(),
            Some("make one first: dockpoint checkpoint bela")
        );
    }

    #[test]
    fn a_file_grown_since_the_checkpoint_refuses_naming_it_and_an_unknown_only_warns() {
        let grown = facts(
            vec![
                file("/bin/busybox", 100, Now::Size(100)),
                file("/data/journal", 1000, Now::Size(1500)),
                file("/data/gone", 7, Now::Absent),
            ],
            false,
        );
        let g = gates(&grown, &flags(None, false));
        let c = g.iter().find(|c| c.id == "restore.open-files").unwrap();
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.details,
            vec![
                "/data/journal: 1500 bytes now, the checkpoint expects 1000 (/srv/data/journal)",
                "/data/gone: gone, the checkpoint expects 7 bytes",
            ]
        );
        let same = facts(vec![file("/data/journal", 1000, Now::Size(1000))], false);
        assert_eq!(
            status_of(&gates(&same, &flags(None, false)), "restore.open-files"),
            Some(Status::Pass)
        );
        let unknown = facts(
            vec![file("/data/x", 1, Now::Unknown("no overlay".into()))],
            false,
        );
        assert_eq!(
            status_of(&gates(&unknown, &flags(None, false)), "restore.open-files"),
            Some(Status::Warn)
        );
        let unread = with_files(Err("files.img is missing".into()), false);
        assert_eq!(
            status_of(&gates(&unread, &flags(None, false)), "restore.open-files"),
            Some(Status::Warn)
        );
    }

    #[test]
    fn unattended_the_newest_usable_checkpoint_is_chosen_and_the_others_say_why() {
        let f = facts(vec![file("/data/journal", 1000, Now::Size(1500))], false);
        let at_boot = Flags {
            usable_only: true,
            ..flags(None, true)
        };
        assert_eq!(chosen(&f, &at_boot).unwrap().entry.name, "cp1");
        let sk = skipped(&f, &at_boot);
        assert_eq!(sk.len(), 1);
        assert_eq!(sk[0].0, "cp2");
        assert!(
            sk[0].1.contains("restore.open-files") && sk[0].1.contains("/data/journal"),
            "{}",
            sk[0].1
        );
        // By hand, the newest is still the default (and refused).
        assert_eq!(chosen(&f, &flags(None, false)).unwrap().entry.name, "cp2");
        // None usable: refused, each with its reason.
        let mut none = f.clone();
        if let Ok(list) = &mut none.checkpoints {
            list.truncate(1);
        }
        let g = gates(&none, &at_boot);
        let c = g.iter().find(|c| c.id == "restore.checkpoint").unwrap();
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.message.contains("none of the checkpoints"),
            "{}",
            c.message
        );
        assert!(
            c.details[0].starts_with("cp2: restore.open-files"),
            "{:?}",
            c.details
        );
    }

    #[test]
    fn a_running_container_is_stopped_only_when_someone_said_yes() {
        let f = facts(Vec::new(), true);
        assert_eq!(
            status_of(&gates(&f, &flags(None, false)), "restore.running"),
            Some(Status::Fail)
        );
        assert_eq!(
            status_of(&gates(&f, &flags(None, true)), "restore.running"),
            Some(Status::Warn)
        );
        let asked = Flags {
            interactive: true,
            ..flags(None, false)
        };
        assert_eq!(
            status_of(&gates(&f, &asked), "restore.running"),
            Some(Status::Warn)
        );
        assert_eq!(
            status_of(
                &gates(&facts(Vec::new(), false), &flags(None, false)),
                "restore.running"
            ),
            None
        );
    }

    #[test]
    fn an_older_criu_another_kernel_cpu_or_image_refuse_a_newer_criu_warns() {
        let record = |kernel: &str, criu: &str| Record {
            format_version: 1,
            container_id: "abc123".into(),
            container: "bela".into(),
            checkpoint: "cp2".into(),
            created: "2026-11-26T10:00:00Z".into(),
            kernel: Some(kernel.into()),
            criu: Some(criu.into()),
            docker: Some("26.1.5".into()),
            leave_running: false,
            open_files: Vec::new(),
            size_bytes: None,
            image: Some("sha256:5d0da3dc".into()),
            containerd: None,
            runc: None,
            cpuinfo: None,
            tcp_close: false,
        };
        let with = |r: Record| {
            let mut f = facts(Vec::new(), false);
            if let Ok(list) = &mut f.checkpoints {
                list[0].record = Some(r);
            }
            f
        };
        let g = |f: &Facts| status_of(&gates(f, &flags(None, false)), "restore.made-with");
        assert_eq!(g(&with(record("6.18.0", "4.2.1"))), Some(Status::Pass));
        assert_eq!(g(&with(record("6.18.0", "4.2.2"))), Some(Status::Fail));
        assert_eq!(g(&with(record("6.18.0", "4.1.1"))), Some(Status::Warn));
        assert_eq!(g(&with(record("6.12.0", "4.2.1"))), Some(Status::Fail));
        let mut other_image = record("6.18.0", "4.2.1");
        other_image.image = Some("sha256:0ther".into());
        assert_eq!(g(&with(other_image)), Some(Status::Fail));
        let mut cpu = with(record("6.18.0", "4.2.1"));
        if let Ok(list) = &mut cpu.checkpoints {
            list[0].cpu = Some(Err("CPU features mismatch".into()));
        }
        let gs = gates(&cpu, &flags(None, false));
        let m = gs.iter().find(|c| c.id == "restore.made-with").unwrap();
        assert_eq!(m.status, Status::Fail);
        assert!(m.message.contains("CPU features mismatch"), "{}", m.message);
        assert_eq!(g(&facts(Vec::new(), false)), Some(Status::Pass));
        // Dumped with tcp-close: refused once runc.conf has none, with the
        // fix that puts it back; fine while it is there (or unreadable).
        let mut closed = record("6.18.0", "4.2.1");
        closed.tcp_close = true;
        let gs = gates(&with(closed.clone()), &flags(None, false));
        let m = gs.iter().find(|c| c.id == "restore.made-with").unwrap();
        assert_eq!(m.status, Status::Fail);
        assert!(m.message.contains("made with tcp-close"), "{}", m.message);
        assert!(
            m.fix.as_deref().unwrap().contains("--tcp-close"),
            "{:?}",
            m.fix
        );
        for now in [Some(true), None] {
            let f = Facts {
                tcp_close: now,
                ..with(closed.clone())
            };
            assert_eq!(g(&f), Some(Status::Pass), "runc.conf tcp-close {now:?}");
        }
    }

    #[test]
    fn the_network_warning_of_the_doctor_refuses_a_restore() {
        let w = CheckResult {
            id: "container.network",
            title: String::new(),
            severity: Severity::Warning,
            status: Status::Warn,
            message: "network mode `bridge` on Docker 28.5.2".into(),
            fix: None,
            container: None,
            details: Vec::new(),
            millis: 0,
        };
        let other = CheckResult {
            id: "container.restart-policy",
            ..w.clone()
        };
        let h = harden(vec![w, other]);
        assert_eq!((h[0].status, h[1].status), (Status::Fail, Status::Warn));
        assert!(matches!(verdict(&h), Verdict::Refuse(_)));
    }

    #[test]
    fn container_paths_map_to_mounts_docker_files_and_overlay_layers() {
        let i = inspect(false);
        let root = "/var/lib/docker";
        assert_eq!(
            host_candidates("/data/journal/2026.bin", &i, root),
            vec!["/srv/bela/journal/2026.bin"],
            "the longest mount wins"
        );
        assert_eq!(
            host_candidates("/data/n", &i, root),
            vec!["/var/lib/docker/volumes/data/_data/n"]
        );
        assert_eq!(
            host_candidates("/database", &i, root),
            vec![
                "/var/lib/docker/overlay2/u/diff/database",
                "/var/lib/docker/overlay2/l1/diff/database",
                "/var/lib/docker/overlay2/l2/diff/database",
            ],
            "/data is not a prefix of /database"
        );
        assert_eq!(
            host_candidates("/etc/hosts", &i, root),
            vec!["/var/lib/docker/containers/abc123/hosts"]
        );
    }

    #[test]
    fn dockers_restore_error_names_the_restore_log() {
        let failed = "OCI runtime restore failed: criu failed: type NOTIFY errno 0\nlog file: /run/containerd/io.containerd.runtime.v2.task/moby/ece0/work/restore.log: unknown";
        assert_eq!(
            restore_log_named(failed).as_deref(),
            Some("/run/containerd/io.containerd.runtime.v2.task/moby/ece0/work/restore.log")
        );
        assert_eq!(restore_log_named("no such container"), None);
    }

    #[test]
    fn signals_and_health_urls_are_read_as_operators_write_them() {
        use crate::cli::{parse_health_url, parse_signal};
        use nix::sys::signal::Signal;
        for s in ["SIGHUP", "HUP", "hup", "1"] {
            assert_eq!(parse_signal(s), Ok(Signal::SIGHUP), "{s}");
        }
        assert_eq!(parse_signal("usr1"), Ok(Signal::SIGUSR1));
        assert!(
            parse_signal("SIGNOPE")
                .unwrap_err()
                .contains("not a signal")
        );
        assert!(parse_signal("99").is_err());
        let h = parse_health_url("http://127.0.0.1:8080/healthz").unwrap();
        assert_eq!(
            (h.authority.as_str(), h.path.as_str()),
            ("127.0.0.1:8080", "/healthz")
        );
        let h = parse_health_url("http://localhost").unwrap();
        assert_eq!(
            (h.authority.as_str(), h.path.as_str()),
            ("localhost:80", "/")
        );
        assert!(
            parse_health_url("https://x/")
                .unwrap_err()
                .contains("only http://")
        );
        assert!(parse_health_url("http:///x").is_err());
    }

    /// A real HTTP server on loopback: 503 twice, then 200.
    #[test]
    fn the_health_wait_polls_until_2xx_and_gives_up_at_its_bound() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for code in [
                "503 Service Unavailable",
                "503 Service Unavailable",
                "200 OK",
            ] {
                let (mut s, _) = l.accept().unwrap();
                // The whole request, so that closing sends no reset.
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                use std::io::Write;
                s.write_all(format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .unwrap();
            }
        });
        let h = parse_url(&format!("http://127.0.0.1:{port}/health"));
        let p = Progress::start(&Term::plain(), "test");
        wait_healthy(&h, Duration::from_secs(30), &p).unwrap();
        server.join().unwrap();
        // Nobody listens now: the bound ends the wait, naming the URL.
        let e = wait_healthy(&h, Duration::from_millis(300), &p).unwrap_err();
        assert!(
            e.contains(&h.url) && e.contains("did not answer 2xx"),
            "{e}"
        );
    }

    const RACE: &str = "failed to upload checkpoint to containerd: commit failed: content sha256:5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592: already exists";

    /// The workflow's decisions against a recording engine and runner: the
    /// host is a temp root; no sleep (the retry schedule is zero).
    struct Rig {
        engine: crate::fake_engine::FakeEngine,
        runner: Arc<crate::runner::RecordingRunner>,
        obs: Observer,
        _dir: tempfile::TempDir,
        container: crate::fake_engine::FakeContainer,
    }

    impl Rig {
        fn new(running: bool, runner: crate::runner::RecordingRunner) -> Rig {
            use crate::fake_engine::{FakeContainer, FakeEngine};
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
            std::fs::create_dir_all(dir.path().join("run/containerd")).unwrap();
            std::fs::write(dir.path().join("run/containerd/containerd.sock"), "").unwrap();
            let engine = FakeEngine::docker(true);
            let container = if running {
                FakeContainer::running("bela")
            } else {
                FakeContainer::running("bela").exited()
            };
            engine.add_container(&container);
            // After the start, docker says it runs.
            engine.set(
                "GET /containers/bela/json",
                crate::fake_engine::Reply::json(200, FakeContainer::running("bela").inspect()),
            );
            let runner = Arc::new(runner);
            let host = Host {
                fs: crate::rootfs::Root::open(dir.path()).unwrap(),
                live: true,
                runner: Box::new(runner.clone()),
                term: Term::plain(),
            };
            let obs = Observer::new(host, Duration::from_secs(5)).with_api(engine.api());
            Rig {
                engine,
                runner,
                obs,
                _dir: dir,
                container,
            }
        }

        fn start_replies(&self, replies: Vec<crate::fake_engine::Reply>) {
            self.engine
                .script("POST /containers/bela/start?checkpoint=cp1", replies);
        }

        fn apply(&self) -> Report {
            use crate::fake_engine::Reply;
            self.engine.set(
                "POST /containers/bela/kill?signal=SIGHUP",
                Reply::empty(204),
            );
            self.engine
                .set("POST /containers/bela/stop?t=10", Reply::empty(204));
            let inspect: ContainerInspect =
                serde_json::from_value(self.container.inspect()).unwrap();
            let mut report = Report::new("bela", Some("cp1".into()), Vec::new());
            let api = self.obs.api().unwrap().clone();
            apply(
                &self.obs,
                &api,
                &inspect,
                "cp1",
                Some("SIGHUP"),
                None,
                Duration::from_secs(5),
                &[Duration::ZERO; 3],
                &mut report,
            );
            report
        }

        /// The engine calls that change something, in order.
        fn posts(&self) -> Vec<String> {
            self.engine
                .requests()
                .iter()
                .map(|r| r.line())
                .filter(|l| l.starts_with("POST"))
                .map(|l| l.split(" HTTP").next().unwrap().replace("/v1.45", ""))
                .collect()
        }
    }

    #[test]
    fn a_gc_race_is_retried_then_the_restore_is_signalled_once() {
        use crate::fake_engine::Reply;
        let rig = Rig::new(false, crate::runner::RecordingRunner::default());
        rig.start_replies(vec![
            Reply::error(500, RACE),
            Reply::error(500, RACE),
            Reply::empty(204),
        ]);
        let r = rig.apply();
        assert_eq!(
            (r.status, r.gc_race, r.stopped_first),
            ("restored", "retried", false)
        );
        assert_eq!(r.signal_sent.as_deref(), Some("SIGHUP"));
        let start = "POST /containers/bela/start?checkpoint=cp1";
        assert_eq!(
            rig.posts(),
            vec![
                start,
                start,
                start,
                "POST /containers/bela/kill?signal=SIGHUP"
            ]
        );
        // No restore log appeared during the call: said, not hidden.
        assert!(
            r.warnings.iter().any(|w| w.contains("could not prove")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn a_race_that_outlives_the_retries_is_purged_from_containerds_store() {
        use crate::fake_engine::Reply;
        let rig = Rig::new(
            false,
            crate::runner::RecordingRunner::default().answer("ctr ", 0, "", ""),
        );
        let mut replies = vec![Reply::error(500, RACE); 4];
        replies.push(Reply::empty(204));
        rig.start_replies(replies);
        let r = rig.apply();
        assert_eq!((r.status, r.gc_race), ("restored", "purged"));
        assert_eq!(
            rig.runner.lines(),
            vec![
                "ctr --address /run/containerd/containerd.sock --namespace moby content rm sha256:5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"
            ]
        );
        // A purge that fails: the race is reported, the container stays stopped.
        let rig = Rig::new(
            false,
            crate::runner::RecordingRunner::default().answer("ctr ", 1, "", "ctr: not found"),
        );
        rig.start_replies(vec![Reply::error(500, RACE)]);
        let r = rig.apply();
        assert_eq!(r.status, "failed");
        assert!(
            r.warnings.iter().any(|w| w.contains("ctr: not found")),
            "{:?}",
            r.warnings
        );
        assert!(!rig.posts().iter().any(|p| p.contains("kill")));
    }

    #[test]
    fn a_running_container_is_stopped_before_the_restore() {
        use crate::fake_engine::Reply;
        let rig = Rig::new(true, crate::runner::RecordingRunner::default());
        rig.start_replies(vec![Reply::empty(204)]);
        let r = rig.apply();
        assert_eq!((r.status, r.stopped_first), ("restored", true));
        assert_eq!(
            rig.posts()[..2],
            [
                "POST /containers/bela/stop?t=10",
                "POST /containers/bela/start?checkpoint=cp1"
            ]
        );
    }

    #[test]
    fn already_running_means_nothing_was_restored_and_no_signal_is_sent() {
        use crate::fake_engine::Reply;
        let rig = Rig::new(false, crate::runner::RecordingRunner::default());
        rig.start_replies(vec![Reply::empty(304)]);
        let r = rig.apply();
        assert_eq!(r.status, "failed");
        assert!(r.message.contains("nothing was restored"), "{}", r.message);
        assert_eq!(r.signal_sent, None);
        assert!(!rig.posts().iter().any(|p| p.contains("kill")));
    }

    #[test]
    fn a_failed_restore_leaves_the_container_stopped_and_says_how_to_cold_start() {
        use crate::fake_engine::Reply;
        let rig = Rig::new(false, crate::runner::RecordingRunner::default());
        rig.start_replies(vec![Reply::error(
            500,
            "OCI runtime restore failed: criu failed: type NOTIFY errno 0\nlog file: /run/containerd/io.containerd.runtime.v2.task/moby/x/work/restore.log: unknown",
        )]);
        // docker left it running (it never should): dockpoint stops it.
        let r = rig.apply();
        assert_eq!(r.status, "failed");
        assert!(
            r.message.contains("is left stopped") && r.message.contains("docker start bela"),
            "{}",
            r.message
        );
        assert_eq!(
            rig.posts().last().map(String::as_str),
            Some("POST /containers/bela/stop?t=10")
        );
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("removed with the task")),
            "{:?}",
            r.warnings
        );
    }

    /// The log is held open from the moment it appears: its text survives
    /// the removal that follows a failed restore.
    #[test]
    fn the_restore_log_is_read_even_when_it_is_removed_before_the_call_returns() {
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            fs: crate::rootfs::Root::open(dir.path()).unwrap(),
            live: true,
            runner: Box::new(crate::runner::RecordingRunner::default()),
            term: Term::plain(),
        };
        let task = dir.path().join("task");
        std::fs::create_dir_all(&task).unwrap();
        let log = task.join("restore.log");
        let (_, text) = watching_log(&host, "/task/restore.log", || {
            std::fs::write(
                &log,
                "(00.1) Error (criu/files-reg.c:2175): File /journal has bad size 10 (expect 8)\n",
            )
            .unwrap();
            // Seen by the watcher (it polls every 5 ms), then removed.
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
                if std::fs::read_dir("/proc/self/fd")
                    .unwrap()
                    .any(|e| std::fs::read_link(e.unwrap().path()).is_ok_and(|p| p == log))
                {
                    break;
                }
            }
            std::fs::remove_dir_all(&task).unwrap();
        });
        assert!(
            text.unwrap_or_default()
                .contains("has bad size 10 (expect 8)")
        );
    }

    fn parse_url(s: &str) -> HealthUrl {
        crate::cli::parse_health_url(s).unwrap()
    }
}
