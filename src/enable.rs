//! `dockpoint enable CONTAINER` / `dockpoint disable CONTAINER`: the
//! systemd units that bring a container back at boot from its newest usable
//! checkpoint (else fresh), keep its checkpoint fresh on a schedule, and
//! checkpoint it at shutdown.
//!
//! Observe (systemd, the container, the unit files there now), plan
//! ([`plan`]: pure, from those facts and the flags: what would defeat the
//! job, the files, the commands), apply (only then is anything changed).

use crate::cli::{DisableArgs, EnableArgs, Format};
use crate::docker::api::ContainerInspect;
use crate::exit::Exit;
use crate::host::{Cmd, Host, Term};
use crate::observe::{Observer, RUNC_CONF};
use crate::runc_conf::{self, CriuOption};
use crate::ui;
use crate::units::{self, CHECKPOINT, DROPIN, RESTORE, SHUTDOWN, TIMER, UNIT_DIR};
use serde::Serialize;
use std::sync::Arc;

/// What enable reads, gathered once.
#[derive(Debug, Clone)]
pub struct Facts {
    pub container: String,
    pub systemd: bool,
    pub inspect: Result<ContainerInspect, String>,
    pub docker_version: Option<String>,
    /// The doctor's container.open-files finding for a running container:
    /// files a left-running checkpoint would make unrestorable.
    pub open_files: Option<Vec<String>>,
    /// dockpoint's path, written into the units.
    pub bin: String,
    /// Each unit file dockpoint may write, with its content now.
    pub current: Vec<(String, Option<String>)>,
    /// The templates a package installed (file name, content), the first
    /// found in systemd's order: not copied to /etc when they are what
    /// enable would write.
    pub vendor: Vec<(String, String)>,
    /// /etc/criu/runc.conf now (None: absent; Err: unreadable).
    pub runc_conf: Result<Option<String>, String>,
    /// The container's established connections to other hosts (not
    /// loopback), as `local -> remote`: a reboot ends them.
    pub outside: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Flags {
    pub every: Option<String>,
    pub keep: u32,
    pub on_shutdown: bool,
    /// tcp-close in runc.conf: add it (Some(true)), leave runc.conf alone
    /// (Some(false)), not decided (None: advised, not added).
    pub tcp_close: Option<bool>,
    pub yes: bool,
    pub interactive: bool,
}

/// One change the plan makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// Write a unit file or drop-in.
    Write { path: String, content: String },
    /// `docker update --restart no` (asked first).
    NoRestartPolicy { from: String },
    /// A command (systemctl).
    Run { argv: Vec<String> },
    /// Remove a drop-in directory dockpoint wrote.
    Remove { path: String },
    /// Add CRIU options to runc.conf (a safe write, with a backup).
    CriuOptions {
        path: String,
        add: Vec<String>,
        #[serde(skip)]
        old: Option<String>,
        #[serde(skip)]
        new: String,
    },
}

/// Why tcp-close, in one line (the question, the flag's help, the advice).
pub const TCP_CLOSE_WHY: &str = "connections to other hosts cannot survive a reboot: with tcp-close CRIU restores them closed, and a restore no longer fails when docker gives the container another address (every restore then closes its connections, loopback ones too)";

/// Whether runc.conf sets tcp-close now (false when absent or unreadable).
fn has_tcp_close(f: &Facts) -> bool {
    matches!(&f.runc_conf, Ok(Some(t)) if runc_conf::flag_on(t, "tcp-close") == Some(true))
}

/// The one-line advice when tcp-close was neither asked for nor refused.
pub fn tcp_close_advice(f: &Facts, flags: &Flags) -> Option<String> {
    if flags.tcp_close.is_some() || has_tcp_close(f) {
        return None;
    }
    let held = if f.outside.is_empty() {
        String::new()
    } else {
        format!(" ({} holds {})", f.container, f.outside.join(", "))
    };
    Some(format!(
        "{RUNC_CONF} has no tcp-close{held}: {TCP_CLOSE_WHY}; add it with dockpoint enable {} --tcp-close",
        f.container
    ))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing can be done here; why.
    Refuse(Vec<String>),
    /// No systemd: what to set up by hand.
    Manual(String),
    Go(Vec<Change>),
}

/// What `enable` writes and runs: pure.
pub fn plan(f: &Facts, flags: &Flags) -> Plan {
    let c = &f.container;
    let i = match &f.inspect {
        Ok(i) => i,
        Err(e) => return Plan::Refuse(vec![e.clone()]),
    };
    let mut refuse = Vec::new();
    if let Some(v) = &f.docker_version
        && v.split('.').next().and_then(|m| m.parse::<u32>().ok()) >= Some(28)
        && i.host_config.network_mode.private_netns()
        && !i.config.network_disabled
    {
        refuse.push(format!(
            "container.network: {c} has network mode `{}` on Docker {v}, which docker >= 28 cannot restore (moby#50750): run it with --network host or --network container:<holder>, or use Docker <= 27",
            i.host_config.network_mode
        ));
    }
    if i.host_config.auto_remove {
        refuse.push(format!(
            "container.auto-remove: {c} was started with --rm: docker removes it when it stops, checkpoints and all: recreate it without --rm"
        ));
    }
    if flags.every.is_some()
        && let Some(files) = &f.open_files
        && !files.is_empty()
    {
        refuse.push(format!(
            "container.open-files: a checkpoint on a schedule leaves {c} running, and it keeps writing files CRIU size-checks, so every such checkpoint would be unrestorable: {} (use --on-shutdown alone, or have the application open them O_WRONLY|O_APPEND)",
            files.join("; ")
        ));
    }
    let policy = i.host_config.restart_policy.name.to_string();
    let policy_restarts = i.host_config.restart_policy.name.restarts();
    if policy_restarts && !flags.yes && !flags.interactive {
        refuse.push(format!(
            "container.restart-policy: {c} has restart policy `{policy}`, so docker would start it fresh at boot, racing the restore: rerun with --yes to set it to `no` (docker update --restart no {c})"
        ));
    }
    let mut criu_options = None;
    if flags.tcp_close == Some(true) {
        match &f.runc_conf {
            Err(e) => refuse.push(format!("runc-conf: {e}")),
            Ok(old) => {
                let text = old.as_deref().unwrap_or("");
                let want = [
                    CriuOption::flag("tcp-established"),
                    CriuOption::flag("tcp-close"),
                ];
                match runc_conf::ensure_options(text, &want, false) {
                    Err(e) => refuse.push(format!(
                        "runc-conf: {RUNC_CONF} {e}: nothing was changed; dockpoint setup --repair fixes it, then enable again"
                    )),
                    Ok(edit) if old.as_deref() != Some(edit.text.as_str()) => {
                        criu_options = Some(Change::CriuOptions {
                            path: RUNC_CONF.into(),
                            add: vec!["tcp-close".into()],
                            old: old.clone(),
                            new: edit.text,
                        });
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    if !refuse.is_empty() {
        return Plan::Refuse(refuse);
    }
    let esc = units::escape(c);
    if !f.systemd {
        let mut text = manual(c, &f.bin, flags);
        if criu_options.is_some() {
            text.push_str(&format!(
                "  and the line `tcp-close` in {RUNC_CONF} (beside tcp-established)\n"
            ));
        }
        return Plan::Manual(text);
    }
    let mut changes = Vec::new();
    if policy_restarts {
        changes.push(Change::NoRestartPolicy { from: policy });
    }
    changes.extend(criu_options);
    let mut want: Vec<(String, String)> = vec![(
        format!("{UNIT_DIR}/{}", RESTORE.file),
        units::render(&RESTORE, &f.bin),
    )];
    if let Some(every) = &flags.every {
        want.push((
            format!("{UNIT_DIR}/{}", CHECKPOINT.file),
            units::render(&CHECKPOINT, &f.bin),
        ));
        want.push((
            format!("{UNIT_DIR}/{}", TIMER.file),
            units::render(&TIMER, &f.bin),
        ));
        want.push((
            format!("{}/{DROPIN}", units::dropin_dir(&TIMER, &esc)),
            units::timer_dropin(every),
        ));
        want.push((
            format!("{}/{DROPIN}", units::dropin_dir(&CHECKPOINT, &esc)),
            units::keep_dropin(flags.keep),
        ));
    }
    if flags.on_shutdown {
        want.push((
            format!("{UNIT_DIR}/{}", SHUTDOWN.file),
            units::render(&SHUTDOWN, &f.bin),
        ));
        want.push((
            format!("{}/{DROPIN}", units::dropin_dir(&SHUTDOWN, &esc)),
            units::keep_dropin(flags.keep),
        ));
    }
    let mut wrote = false;
    for (path, content) in want {
        let now = f
            .current
            .iter()
            .find(|(p, _)| p == &path)
            .and_then(|(_, c)| c.clone());
        let packaged = f
            .vendor
            .iter()
            .any(|(file, text)| path == format!("{UNIT_DIR}/{file}") && text == &content);
        if now.is_none() && packaged {
            continue;
        }
        if now.as_deref() != Some(content.as_str()) {
            wrote = true;
            changes.push(Change::Write { path, content });
        }
    }
    let run = |a: &[&str]| Change::Run {
        argv: a.iter().map(|s| s.to_string()).collect(),
    };
    if wrote {
        changes.push(run(&["systemctl", "daemon-reload"]));
    }
    changes.push(run(&[
        "systemctl",
        "enable",
        &units::instance(&RESTORE, &esc),
    ]));
    if flags.every.is_some() {
        changes.push(run(&[
            "systemctl",
            "enable",
            "--now",
            &units::instance(&TIMER, &esc),
        ]));
    }
    if flags.on_shutdown {
        changes.push(run(&[
            "systemctl",
            "enable",
            "--now",
            &units::instance(&SHUTDOWN, &esc),
        ]));
    }
    Plan::Go(changes)
}

/// Without systemd: the same jobs for cron and the init script, to set up by
/// hand.
pub fn manual(c: &str, bin: &str, flags: &Flags) -> String {
    let mut out = format!(
        "no systemd on this host: set up by hand\n  at boot, after docker starts (an init script, or cron's @reboot):\n    @reboot root sleep 5 && {bin} restore {c} --yes --or-cold-start\n"
    );
    if let Some(every) = &flags.every {
        out.push_str(&format!(
            "  every {every} (cron):\n    {} root {bin} checkpoint {c} --leave-running --yes --keep {}\n",
            cron_schedule(every),
            flags.keep
        ));
    }
    if flags.on_shutdown {
        out.push_str(&format!(
            "  at shutdown, before docker stops (the stop action of an init script ordered before docker's):\n    {bin} checkpoint {c} --yes --keep {}\n",
            flags.keep
        ));
    }
    out
}

/// A cron schedule for a `--every` span (cron counts minutes at least).
pub fn cron_schedule(every: &str) -> String {
    let digits: String = every.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().unwrap_or(15);
    let mins = match &every[digits.len()..] {
        "s" | "sec" => n.div_ceil(60),
        "h" | "hr" => n * 60,
        "d" => n * 1440,
        _ => n,
    }
    .max(1);
    match mins {
        m if m < 60 => format!("*/{m} * * * *"),
        m if m < 1440 && m % 60 == 0 => format!("0 */{} * * *", m / 60),
        m if m % 1440 == 0 => format!("0 0 */{} * *", m / 1440),
        m => format!("*/{} * * * *", m.min(59)),
    }
}

#[derive(Debug, Serialize)]
struct Report {
    format_version: u32,
    container: String,
    /// enabled / refused / manual / cancelled / failed.
    status: &'static str,
    changes: Vec<Change>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    refused: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manual: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    advice: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change_log: Option<String>,
    message: String,
}

fn host_and_observer() -> Result<Arc<Observer>, Exit> {
    if !nix::unistd::geteuid().is_root() {
        ui::error("dockpoint enable/disable write systemd units: run as root (sudo dockpoint ...)");
        return Err(Exit::Usage);
    }
    Observer::live(Term::detect()).map(Arc::new)
}

/// Observe what enable reads.
pub fn observe(obs: &Observer, container: &str, flags: &Flags) -> Facts {
    let o = obs.container(container);
    let esc = units::escape(container);
    let mut paths: Vec<String> = [&RESTORE, &CHECKPOINT, &TIMER, &SHUTDOWN]
        .iter()
        .map(|t| format!("{UNIT_DIR}/{}", t.file))
        .collect();
    paths.push(format!("{}/{DROPIN}", units::dropin_dir(&TIMER, &esc)));
    paths.push(format!("{}/{DROPIN}", units::dropin_dir(&CHECKPOINT, &esc)));
    paths.push(format!("{}/{DROPIN}", units::dropin_dir(&SHUTDOWN, &esc)));
    let current = paths
        .into_iter()
        .map(|p| {
            let now = obs.host.fs.read_text(&p).ok().flatten();
            (p, now)
        })
        .collect();
    let open_files = flags.every.as_ref().and(o.facts.as_ref()).map(|f| {
        let mut paths: Vec<String> = f.writable_files.iter().map(|w| w.path.clone()).collect();
        paths.sort();
        paths.dedup();
        paths
    });
    let outside = o
        .facts
        .as_ref()
        .map(|f| {
            f.tcp
                .connections
                .iter()
                .filter(|t| t.state.is_connected() && !t.remote.ip().is_loopback())
                .map(|t| format!("{} -> {}", t.local, t.remote))
                .collect()
        })
        .unwrap_or_default();
    let vendor = [&RESTORE, &CHECKPOINT, &TIMER, &SHUTDOWN]
        .iter()
        .filter_map(|t| {
            units::VENDOR_DIRS.iter().find_map(|d| {
                let text = obs.host.fs.read_text(&format!("{d}/{}", t.file)).ok()??;
                Some((t.file.to_string(), text))
            })
        })
        .collect();
    Facts {
        vendor,
        runc_conf: obs
            .host
            .fs
            .read_text(RUNC_CONF)
            .map_err(|e| format!("{e:#}")),
        outside,
        container: container.to_string(),
        systemd: obs.host.fs.is_dir("/run/systemd/system"),
        inspect: o.inspect.clone(),
        docker_version: obs.docker_version(),
        open_files,
        bin: std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/usr/bin/dockpoint".into()),
        current,
    }
}

/// `dockpoint enable`.
pub fn run_enable(args: &EnableArgs) -> Exit {
    let (exit, report) = match enable(args) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    print(args.format == Format::Json, &report);
    ui::finish(exit)
}

/// `dockpoint enable` for a caller that embeds its report (setup's
/// answers file, in JSON): nothing is printed on stdout.
/// Err: it could not start (not root; the error is on stderr).
pub fn enable_report(args: &EnableArgs) -> Result<(Exit, serde_json::Value), Exit> {
    let (exit, report) = enable(args)?;
    Ok((
        exit,
        serde_json::to_value(&report).expect("a report serialises"),
    ))
}

/// Err: it could not start (not root), said on stderr.
fn enable(args: &EnableArgs) -> Result<(Exit, Report), Exit> {
    crate::runner::set_verbose(args.verbose);
    let obs = host_and_observer()?;
    let json = args.format == Format::Json;
    let mut flags = Flags {
        every: args.every.clone(),
        keep: args.keep,
        on_shutdown: args.on_shutdown,
        tcp_close: match (args.tcp_close, args.no_tcp_close) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        yes: args.yes,
        interactive: obs.host.term.interactive,
    };
    let facts = observe(&obs, &args.container, &flags);
    // At a terminal, tcp-close is offered (yes by default when the
    // container holds connections to other hosts now).
    if flags.interactive
        && !args.yes
        && !json
        && let Some(advice) = tcp_close_advice(&facts, &flags)
        && matches!(plan(&facts, &flags), Plan::Go(_) | Plan::Manual(_))
    {
        ui::println(&format!("  {advice}"));
        flags.tcp_close = Some(ui::ask_yes_no(
            &format!("Add tcp-close to {RUNC_CONF}?"),
            !facts.outside.is_empty(),
        ));
    }
    let mut report = Report {
        format_version: 1,
        container: args.container.clone(),
        status: "refused",
        changes: Vec::new(),
        refused: Vec::new(),
        manual: None,
        errors: Vec::new(),
        advice: tcp_close_advice(&facts, &flags).into_iter().collect(),
        change_log: None,
        message: String::new(),
    };
    let changes = match plan(&facts, &flags) {
        Plan::Refuse(why) => {
            report.message = format!("nothing was changed:\n  {}", why.join("\n  "));
            report.refused = why;
            return Ok(conclude(report, None));
        }
        Plan::Manual(text) => {
            report.status = "manual";
            report.message = text.clone();
            report.manual = Some(text);
            return Ok(conclude(report, None));
        }
        Plan::Go(c) => c,
    };
    report.changes = changes.clone();
    if !json {
        ui::println(&format!("dockpoint enable {}: the plan", args.container));
        for c in &changes {
            ui::println(&format!("  {}", describe(c)));
        }
    }
    let needs_consent = changes
        .iter()
        .any(|c| matches!(c, Change::NoRestartPolicy { .. }));
    if flags.interactive && !args.yes && !ui::ask_yes_no("Go ahead?", !needs_consent) {
        report.status = "cancelled";
        report.message = "cancelled by the operator; nothing was changed".into();
        return Ok(conclude(report, None));
    }
    report.status = "enabled";
    let mut log = crate::changelog::Run::new("enable");
    for c in &changes {
        let r = apply_one(&obs, &args.container, c);
        log_change(&mut log, &args.container, c, &r);
        if let Err(e) = r {
            report.errors.push(e);
            report.status = "failed";
            break;
        }
    }
    report.message = if report.status == "enabled" {
        format!(
            "enabled: {} comes back at boot from its newest usable checkpoint (else fresh){}{}; dockpoint status {} shows the units and the last boot",
            args.container,
            args.every
                .as_ref()
                .map(|e| format!(", a checkpoint every {e} (keeping {})", args.keep))
                .unwrap_or_default(),
            if args.on_shutdown {
                ", a checkpoint at shutdown"
            } else {
                ""
            },
            args.container
        )
    } else {
        format!("failed: {}", report.errors.join("; "))
    };
    Ok(conclude(report, Some((&obs.host, &log))))
}

fn describe(c: &Change) -> String {
    match c {
        Change::Write { path, .. } => format!("write {path}"),
        Change::NoRestartPolicy { from } => format!(
            "docker update --restart no (now `{from}`: docker would start it fresh at boot, racing the restore)"
        ),
        Change::Run { argv } => argv.join(" "),
        Change::Remove { path } => format!("remove {path}"),
        Change::CriuOptions { path, add, .. } => {
            format!("add {} to {path} (a backup is kept)", add.join(", "))
        }
    }
}

/// One change in the change log, with the backup it made.
fn log_change(
    log: &mut crate::changelog::Run,
    container: &str,
    c: &Change,
    r: &Result<Option<String>, String>,
) {
    let fields = serde_json::json!({
        "container": container,
        "change": describe(c),
        "backup": r.as_ref().ok().cloned().flatten(),
        "error": r.as_ref().err(),
    });
    log.event(if r.is_ok() { "changed" } else { "failed" }, fields);
}

/// Apply one change; the backup it made, if any.
fn apply_one(obs: &Observer, container: &str, c: &Change) -> Result<Option<String>, String> {
    match c {
        Change::Write { path, content } => {
            crate::fsio::write_state(&obs.host, path, content.as_bytes())
                .map(|_| None)
                .map_err(|e| format!("{e:#}"))
        }
        Change::NoRestartPolicy { .. } => obs
            .api()?
            .set_restart_policy(container, "no")
            .map(|_| None)
            .map_err(|e| format!("docker update --restart no {container}: {e}")),
        Change::Run { argv } => {
            let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            match obs.host.run(&Cmd::new(&argv[0], &args)) {
                Ok(o) if o.success() => Ok(None),
                Ok(o) => Err(format!("{}: {}", argv.join(" "), o.stderr.trim())),
                Err(e) => Err(format!("{}: {e:#}", argv.join(" "))),
            }
        }
        Change::Remove { path } => remove_dropins(&obs.host, path).map(|_| None),
        Change::CriuOptions {
            path,
            add,
            old,
            new,
        } => {
            let want: Vec<CriuOption> = std::iter::once("tcp-established")
                .chain(add.iter().map(String::as_str))
                .map(CriuOption::flag)
                .collect();
            let validate = |_: &str, b: &[u8]| runc_conf::check_in_effect(&want, b);
            crate::fsio::write_file(
                &obs.host,
                path,
                old.as_deref().map(str::as_bytes),
                new.as_bytes(),
                &validate,
            )
            .map(|w| w.backup)
            .map_err(|e| format!("{e:#}"))
        }
    }
}

/// The exit, with the change log written (its path in the report).
fn conclude(mut report: Report, log: Option<(&Host, &crate::changelog::Run)>) -> (Exit, Report) {
    let exit = match report.status {
        "enabled" | "disabled" | "manual" => Exit::Ok,
        _ => Exit::Failed,
    };
    if let Some((host, log)) = log {
        report.change_log = log.finish(host, exit);
    }
    (exit, report)
}

fn print(json: bool, report: &Report) {
    if json {
        ui::print_json(report);
    } else {
        let sym = match report.status {
            "enabled" | "disabled" => "✓",
            "manual" => "!",
            _ => "✗",
        };
        for a in &report.advice {
            ui::println(&format!("! {a}"));
        }
        ui::println(&format!("{sym} {}", report.message));
    }
}

fn finish(json: bool, report: Report, log: Option<(&Host, &crate::changelog::Run)>) -> Exit {
    let (exit, report) = conclude(report, log);
    print(json, &report);
    ui::finish(exit)
}

/// `dockpoint disable`: the instances off, dockpoint's files gone (the
/// templates only when no other container uses them); the checkpoints and
/// the container's restart policy stay.
pub fn run_disable(args: &DisableArgs) -> Exit {
    crate::runner::set_verbose(args.verbose);
    let obs = match host_and_observer() {
        Ok(o) => o,
        Err(e) => return e,
    };
    let json = args.format == Format::Json;
    let c = &args.container;
    let esc = units::escape(c);
    let mut report = Report {
        format_version: 1,
        container: c.clone(),
        status: "disabled",
        changes: Vec::new(),
        refused: Vec::new(),
        manual: None,
        errors: Vec::new(),
        advice: Vec::new(),
        change_log: None,
        message: String::new(),
    };
    if !obs.host.fs.is_dir("/run/systemd/system") {
        report.status = "manual";
        report.message = format!(
            "no systemd on this host: remove the @reboot, cron and init-script lines that run dockpoint for {c}"
        );
        return finish(json, report, None);
    }
    // Each instance whose template is installed is disabled and stopped: a
    // shutdown unit left active would still checkpoint at the next
    // shutdown (its stop action does nothing now: it checkpoints only when
    // systemd is stopping).
    let mut changes = Vec::new();
    let instances: Vec<String> = [&TIMER, &RESTORE, &SHUTDOWN]
        .iter()
        .filter(|t| units::installed(&obs.host.fs, t.file))
        .map(|t| units::instance(t, &esc))
        .collect();
    if !instances.is_empty() {
        let mut argv: Vec<String> = ["systemctl", "disable", "--now"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.extend(instances);
        changes.push(Change::Run { argv });
    }
    for t in [&TIMER, &CHECKPOINT, &SHUTDOWN] {
        let dir = units::dropin_dir(t, &esc);
        if obs.host.fs.is_dir(&dir) {
            changes.push(Change::Remove { path: dir });
        }
    }
    let mut log = crate::changelog::Run::new("disable");
    for ch in &changes {
        let r = apply_one(&obs, c, ch);
        log_change(&mut log, c, ch, &r);
        if let Err(e) = r {
            report.errors.push(e);
        }
    }
    // The templates go when no container uses them any more.
    let removed = remove_unused_templates(&obs.host);
    for path in &removed {
        log_change(
            &mut log,
            c,
            &Change::Remove { path: path.clone() },
            &Ok(None),
        );
    }
    if !removed.is_empty() {
        let _ = apply_one(
            &obs,
            c,
            &Change::Run {
                argv: vec!["systemctl".into(), "daemon-reload".into()],
            },
        );
    }
    report.changes = changes;
    if report.errors.is_empty() {
        report.message = format!(
            "disabled: no dockpoint unit runs for {c} any more{}; its checkpoints and its restart policy are as they were (dockpoint checkpoints {c})",
            if removed.is_empty() {
                String::new()
            } else {
                format!("; removed {}", removed.join(", "))
            }
        );
    } else {
        report.status = "failed";
        report.message = format!("failed: {}", report.errors.join("; "));
    }
    finish(json, report, Some((&obs.host, &log)))
}

fn remove_dropins(host: &Host, dir: &str) -> Result<(), String> {
    if !host.fs.is_dir(dir) {
        return Ok(());
    }
    crate::fsio::remove_tree(host, dir)
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

/// Remove dockpoint's templates no enabled instance uses.
fn remove_unused_templates(host: &Host) -> Vec<String> {
    let wants: Vec<String> = ["multi-user.target.wants", "timers.target.wants"]
        .iter()
        .flat_map(|d| {
            host.fs
                .read_dir(&format!("{UNIT_DIR}/{d}"))
                .unwrap_or_default()
        })
        .collect();
    let mut removed = Vec::new();
    for t in units::TEMPLATES {
        let prefix = t.file.split('@').next().unwrap_or_default();
        let suffix = t.file.rsplit('.').next().unwrap_or_default();
        let used = wants
            .iter()
            .any(|w| w.starts_with(&format!("{prefix}@")) && w.ends_with(&format!(".{suffix}")));
        // The checkpoint service is used through its timer.
        let used = used
            || (std::ptr::eq(t, &CHECKPOINT)
                && wants.iter().any(|w| w.starts_with("dockpoint-checkpoint@")));
        let path = format!("{UNIT_DIR}/{}", t.file);
        if !used && host.fs.is_file(&path) && unlink(host, &path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

fn unlink(host: &Host, abs: &str) -> Result<(), String> {
    let text = host
        .fs
        .read(abs, 1 << 20)
        .map_err(|e| format!("{e:#}"))?
        .ok_or("gone")?;
    crate::fsio::restore(host, abs, &text, None)
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect(network: &str, restart: &str, rm: bool) -> ContainerInspect {
        serde_json::from_value(serde_json::json!({
            "Id": "abc123", "Name": "/bela", "Image": "sha256:5d0d",
            "State": {"Status": "running", "Running": true, "Pid": 42,
                      "StartedAt": "2026-11-26T10:00:00Z", "FinishedAt": "0001-01-01T00:00:00Z"},
            "HostConfig": {"AutoRemove": rm, "RestartPolicy": {"Name": restart}, "NetworkMode": network},
            "Config": {"Tty": false, "OpenStdin": false},
            "Mounts": []
        }))
        .unwrap()
    }

    fn facts(network: &str, restart: &str, version: &str) -> Facts {
        Facts {
            container: "bela".into(),
            systemd: true,
            inspect: Ok(inspect(network, restart, false)),
            docker_version: Some(version.into()),
            open_files: Some(Vec::new()),
            bin: "/usr/bin/dockpoint".into(),
            current: Vec::new(),
            vendor: Vec::new(),
            runc_conf: Ok(Some("tcp-established\n".into())),
            outside: Vec::new(),
        }
    }

    fn flags(every: Option<&str>, on_shutdown: bool, yes: bool) -> Flags {
        Flags {
            every: every.map(str::to_owned),
            keep: 2,
            on_shutdown,
            tcp_close: None,
            yes,
            interactive: false,
        }
    }

    fn runs(p: &Plan) -> Vec<String> {
        match p {
            Plan::Go(c) => c
                .iter()
                .map(|c| match c {
                    Change::Write { path, .. } => format!("write {path}"),
                    Change::Run { argv } => argv.join(" "),
                    Change::NoRestartPolicy { from } => format!("restart {from} -> no"),
                    Change::Remove { path } => format!("remove {path}"),
                    Change::CriuOptions { path, add, .. } => {
                        format!("add {} to {path}", add.join(" "))
                    }
                })
                .collect(),
            other => panic!("not a go: {other:?}"),
        }
    }

    #[test]
    fn tcp_close_is_added_to_runc_conf_only_when_asked_and_advised_otherwise() {
        let mut f = facts("bridge", "no", "26.1.5");
        f.outside = vec!["172.17.0.2:40000 -> 172.17.0.3:9000".into()];
        let mut asked = flags(None, false, true);
        asked.tcp_close = Some(true);
        let Plan::Go(changes) = plan(&f, &asked) else {
            panic!("not a go")
        };
        let edit = changes
            .iter()
            .find_map(|c| match c {
                Change::CriuOptions { old, new, .. } => Some((old.clone(), new.clone())),
                _ => None,
            })
            .expect("runc.conf is edited");
        assert_eq!(edit.0.as_deref(), Some("tcp-established\n"));
        assert_eq!(edit.1, "tcp-established\ntcp-close\n");
        assert_eq!(tcp_close_advice(&f, &asked), None);
        // Once there: no edit, no advice.
        f.runc_conf = Ok(Some(edit.1));
        assert!(
            !runs(&plan(&f, &asked))
                .iter()
                .any(|r| r.starts_with("add "))
        );
        assert_eq!(tcp_close_advice(&f, &flags(None, false, true)), None);
        // Not asked: runc.conf untouched, the advice names the connection.
        f.runc_conf = Ok(Some("tcp-established\n".into()));
        let unasked = flags(None, false, true);
        assert!(
            !runs(&plan(&f, &unasked))
                .iter()
                .any(|r| r.starts_with("add "))
        );
        let advice = tcp_close_advice(&f, &unasked).expect("advised");
        assert!(advice.contains("172.17.0.3:9000"), "{advice}");
        assert!(advice.contains("--tcp-close"), "{advice}");
        // --no-tcp-close: neither.
        let mut no = unasked.clone();
        no.tcp_close = Some(false);
        assert_eq!(tcp_close_advice(&f, &no), None);
        // A runc.conf dockpoint cannot edit: refused naming the line.
        f.runc_conf = Ok(Some("tcp-established\r\n".into()));
        match plan(&f, &asked) {
            Plan::Refuse(why) => {
                assert!(why[0].contains("/etc/criu/runc.conf line 1"), "{why:?}")
            }
            other => panic!("not refused: {other:?}"),
        }
        // No systemd: said in the manual text.
        f.runc_conf = Ok(None);
        f.systemd = false;
        match plan(&f, &asked) {
            Plan::Manual(text) => assert!(text.contains("`tcp-close`"), "{text}"),
            other => panic!("not manual: {other:?}"),
        }
    }

    #[test]
    fn enable_writes_the_units_it_needs_and_enables_the_instances() {
        let f = facts("host", "no", "26.1.5");
        assert_eq!(
            runs(&plan(&f, &flags(Some("1min"), true, true))),
            vec![
                "write /etc/systemd/system/dockpoint-restore@.service",
                "write /etc/systemd/system/dockpoint-checkpoint@.service",
                "write /etc/systemd/system/dockpoint-checkpoint@.timer",
                "write /etc/systemd/system/dockpoint-checkpoint@bela.timer.d/dockpoint.conf",
                "write /etc/systemd/system/dockpoint-checkpoint@bela.service.d/dockpoint.conf",
                "write /etc/systemd/system/dockpoint-shutdown@.service",
                "write /etc/systemd/system/dockpoint-shutdown@bela.service.d/dockpoint.conf",
                "systemctl daemon-reload",
                "systemctl enable dockpoint-restore@bela.service",
                "systemctl enable --now dockpoint-checkpoint@bela.timer",
                "systemctl enable --now dockpoint-shutdown@bela.service",
            ]
        );
        // Only the restore at boot without --every / --on-shutdown.
        assert_eq!(
            runs(&plan(&f, &flags(None, false, true))),
            vec![
                "write /etc/systemd/system/dockpoint-restore@.service",
                "systemctl daemon-reload",
                "systemctl enable dockpoint-restore@bela.service",
            ]
        );
    }

    #[test]
    fn a_second_enable_writes_nothing() {
        let mut f = facts("host", "no", "26.1.5");
        let first = plan(&f, &flags(Some("1min"), true, true));
        let Plan::Go(changes) = first else { panic!() };
        for c in changes {
            if let Change::Write { path, content } = c {
                f.current.push((path, Some(content)));
            }
        }
        let again = runs(&plan(&f, &flags(Some("1min"), true, true)));
        assert!(
            again.iter().all(|r| r.starts_with("systemctl enable")),
            "{again:?}"
        );
        // Another schedule rewrites only the timer's drop-in.
        let other = runs(&plan(&f, &flags(Some("5min"), true, true)));
        assert_eq!(
            other[0],
            "write /etc/systemd/system/dockpoint-checkpoint@bela.timer.d/dockpoint.conf"
        );
        assert_eq!(other[1], "systemctl daemon-reload");
    }

    #[test]
    fn templates_a_package_installed_are_not_copied_to_etc() {
        let mut f = facts("host", "no", "26.1.5");
        f.vendor = vec![
            (
                RESTORE.file.to_string(),
                units::render(&RESTORE, "/usr/bin/dockpoint"),
            ),
            // Another binary's path: enable writes its own copy.
            (
                SHUTDOWN.file.to_string(),
                units::render(&SHUTDOWN, "/opt/old/dockpoint"),
            ),
        ];
        let got = runs(&plan(&f, &flags(None, true, true)));
        assert!(
            !got.contains(&"write /etc/systemd/system/dockpoint-restore@.service".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"write /etc/systemd/system/dockpoint-shutdown@.service".to_string()),
            "{got:?}"
        );
        assert!(got.contains(&"systemctl enable dockpoint-restore@bela.service".to_string()));
    }

    #[test]
    fn what_defeats_a_restore_at_boot_is_refused_or_fixed_with_consent() {
        // Docker 28 with a bridge: refused, naming what works.
        let Plan::Refuse(why) = plan(&facts("bridge", "no", "28.5.2"), &flags(None, false, true))
        else {
            panic!()
        };
        assert!(why[0].contains("--network host"), "{why:?}");
        // A restart policy: without --yes (and no terminal) refused...
        let f = facts("host", "always", "26.1.5");
        let Plan::Refuse(why) = plan(&f, &flags(None, false, false)) else {
            panic!()
        };
        assert!(
            why[0].contains("docker update --restart no bela"),
            "{why:?}"
        );
        // ...with --yes set to no first.
        assert_eq!(
            runs(&plan(&f, &flags(None, false, true)))[0],
            "restart always -> no"
        );
        // Files a left-running checkpoint cannot restore: --every refused,
        // --on-shutdown alone fine.
        let mut f = facts("host", "no", "26.1.5");
        f.open_files = Some(vec!["/data/journal".into()]);
        let Plan::Refuse(why) = plan(&f, &flags(Some("15min"), false, true)) else {
            panic!()
        };
        assert!(why[0].contains("/data/journal"), "{why:?}");
        assert!(matches!(plan(&f, &flags(None, true, true)), Plan::Go(_)));
        // --rm: refused.
        let mut f = facts("host", "no", "26.1.5");
        f.inspect = Ok(inspect("host", "no", true));
        assert!(matches!(
            plan(&f, &flags(None, false, true)),
            Plan::Refuse(_)
        ));
    }

    #[test]
    fn without_systemd_the_equivalent_is_printed_and_nothing_written() {
        let mut f = facts("host", "no", "26.1.5");
        f.systemd = false;
        let Plan::Manual(text) = plan(&f, &flags(Some("15min"), true, true)) else {
            panic!()
        };
        assert!(
            text.contains(
                "@reboot root sleep 5 && /usr/bin/dockpoint restore bela --yes --or-cold-start"
            ),
            "{text}"
        );
        assert!(text.contains("*/15 * * * * root"), "{text}");
        assert!(text.contains("--leave-running --yes --keep 2"), "{text}");
        assert_eq!(cron_schedule("1min"), "*/1 * * * *");
        assert_eq!(cron_schedule("2h"), "0 */2 * * *");
        assert_eq!(cron_schedule("90s"), "*/2 * * * *");
    }
}
