//! `dockpoint doctor`: can this host checkpoint and restore containers?
//! Every check has a stable id, a severity and the fix; they run
//! concurrently, each bounded by a timeout.

#[cfg(test)]
mod check_tests;
pub mod checks;

use crate::cli::{DoctorArgs, Format};
use crate::exit::Exit;
use crate::host::{Host, SystemRunner, Term};
use crate::observe::Observer;
use crate::ui;
use checks::{CHECKS, Check, Needs, Severity};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// What a check found.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: Kind,
    pub message: String,
    pub fix: Option<String>,
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pass,
    Problem,
    /// A problem that only warns, whatever the check's severity (what
    /// makes a checkpoint unrestorable later, not what stops it now).
    Warn,
    CouldNotRun,
    Skip,
}

impl Finding {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Finding {
            kind,
            message: message.into(),
            fix: None,
            details: Vec::new(),
        }
    }
    pub fn pass(m: impl Into<String>) -> Self {
        Self::new(Kind::Pass, m)
    }
    pub fn problem(m: impl Into<String>, fix: impl Into<String>) -> Self {
        let mut f = Self::new(Kind::Problem, m);
        f.fix = Some(fix.into());
        f
    }
    pub fn warn(m: impl Into<String>, fix: impl Into<String>) -> Self {
        let mut f = Self::new(Kind::Warn, m);
        f.fix = Some(fix.into()).filter(|s: &String| !s.is_empty());
        f
    }
    pub fn cannot(m: impl Into<String>) -> Self {
        Self::new(Kind::CouldNotRun, m)
    }
    pub fn skip(m: impl Into<String>) -> Self {
        Self::new(Kind::Skip, m)
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.details.push(d.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Error,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub message: String,
    pub fix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    pub millis: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub skipped: usize,
    pub exit_code: i32,
    #[serde(skip)]
    pub exit: Exit,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub format_version: u32,
    pub checks: Vec<CheckResult>,
    pub summary: Summary,
}

/// The checks' context: the one observer, shared with setup.
pub type Ctx = Observer;

/// Which checks run, for which containers.
pub struct Selection {
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub containers: Vec<String>,
}

impl Selection {
    /// Every host check, no container.
    pub fn all() -> Self {
        Selection {
            only: Vec::new(),
            skip: Vec::new(),
            containers: Vec::new(),
        }
    }
}

fn selected(id: &str, pats: &[String]) -> bool {
    pats.iter()
        .any(|p| id == p || id.starts_with(&format!("{}.", p.trim_end_matches('.'))))
}

/// Run the checks concurrently; a check that does not finish within the
/// timeout is reported as `error` and left behind.
pub fn run_checks(ctx: Arc<Ctx>, sel: &Selection, strict: bool) -> Report {
    let is_root = ctx.is_root;
    let mut jobs: Vec<(&'static Check, Option<String>)> = Vec::new();
    for c in CHECKS {
        if c.per_container {
            for name in &sel.containers {
                jobs.push((c, Some(name.clone())));
            }
        } else {
            jobs.push((c, None));
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let mut results: Vec<Option<CheckResult>> = vec![None; jobs.len()];
    let mut pending = 0;
    for (i, (c, container)) in jobs.iter().enumerate() {
        let pre = if !sel.only.is_empty() && !selected(c.id, &sel.only) {
            Some(None)
        } else if selected(c.id, &sel.skip) {
            Some(Some(Finding::skip("skipped with --skip")))
        } else if c.needs != Needs::Files && !ctx.host.live {
            Some(Some(Finding::skip("--root: needs the live system")))
        } else if c.needs == Needs::LiveRoot && !is_root {
            Some(Some(Finding::skip(
                "needs root: run dockpoint doctor as root",
            )))
        } else {
            None
        };
        match pre {
            Some(None) => {}
            Some(Some(f)) => results[i] = Some(result(c, container.clone(), f, 0, strict)),
            None => {
                pending += 1;
                let (tx, ctx, c, container) = (tx.clone(), ctx.clone(), *c, container.clone());
                std::thread::spawn(move || {
                    let t = std::time::Instant::now();
                    let f = (c.run)(&ctx, container.as_deref());
                    let _ = tx.send((i, f, t.elapsed().as_millis() as u64));
                });
            }
        }
    }
    drop(tx);
    let deadline = std::time::Instant::now() + ctx.timeout + Duration::from_millis(500);
    while pending > 0 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, f, ms)) => {
                let (c, container) = &jobs[i];
                results[i] = Some(result(c, container.clone(), f, ms, strict));
                pending -= 1;
            }
            Err(_) => break,
        }
    }
    for (i, (c, container)) in jobs.iter().enumerate() {
        let skipped_by_only = !sel.only.is_empty() && !selected(c.id, &sel.only);
        if results[i].is_none() && !skipped_by_only {
            let f = Finding::cannot(format!("did not finish within {}s", ctx.timeout.as_secs()));
            results[i] = Some(result(
                c,
                container.clone(),
                f,
                ctx.timeout.as_millis() as u64,
                strict,
            ));
        }
    }
    let checks: Vec<CheckResult> = results.into_iter().flatten().collect();
    let mut s = Summary::default();
    for c in &checks {
        match c.status {
            Status::Pass => s.pass += 1,
            Status::Warn => s.warn += 1,
            Status::Fail => s.fail += 1,
            Status::Error => s.error += 1,
            Status::Skipped => s.skipped += 1,
        }
    }
    s.exit = if s.fail > 0 {
        Exit::Failed
    } else if s.error > 0 {
        Exit::CouldNotRun
    } else {
        Exit::Ok
    };
    s.exit_code = s.exit.code();
    Report {
        format_version: 1,
        checks,
        summary: s,
    }
}

fn result(
    c: &Check,
    container: Option<String>,
    f: Finding,
    millis: u64,
    strict: bool,
) -> CheckResult {
    let status = match f.kind {
        Kind::Pass => Status::Pass,
        Kind::Skip => Status::Skipped,
        Kind::CouldNotRun => Status::Error,
        Kind::Problem => match (c.severity, strict) {
            (Severity::Error, _) | (Severity::Warning, true) => Status::Fail,
            (Severity::Warning, false) => Status::Warn,
        },
        Kind::Warn if strict => Status::Fail,
        Kind::Warn => Status::Warn,
    };
    CheckResult {
        id: c.id,
        title: match &container {
            Some(n) => format!("{n}: {}", c.title),
            None => c.title.to_string(),
        },
        severity: c.severity,
        status,
        message: f.message,
        fix: f.fix,
        container,
        details: f.details,
        millis,
    }
}

pub fn symbol(s: Status) -> console::StyledObject<&'static str> {
    use console::style;
    match s {
        Status::Pass => style("✓").green(),
        Status::Warn => style("!").yellow(),
        Status::Fail => style("✗").red(),
        Status::Error => style("?").magenta(),
        Status::Skipped => style("-").dim(),
    }
}

/// Human output: a line per check, the fix under each problem, a summary.
pub fn print_human(r: &Report, header: &str, verbose: bool, quiet: bool) {
    let println = |s: String| ui::println(&s);
    let problems = r.summary.fail + r.summary.warn + r.summary.error;
    if quiet && problems == 0 {
        return;
    }
    if !quiet {
        println(header.to_string());
    }
    for c in &r.checks {
        if quiet && matches!(c.status, Status::Pass | Status::Skipped) {
            continue;
        }
        let label = match &c.container {
            Some(n) => format!("{} [{n}]", c.id),
            None => c.id.to_string(),
        };
        let msg = match c.status {
            Status::Skipped => format!("skipped: {}", c.message),
            Status::Error => format!("could not run: {}", c.message),
            _ => c.message.clone(),
        };
        println(format!("{} {label:<27} {msg}", symbol(c.status)));
        if let (Some(fix), Status::Fail | Status::Warn) = (&c.fix, c.status) {
            println(format!("    fix: {fix}"));
        }
        if verbose {
            println(format!("    {} ({} ms)", c.title, c.millis));
            for d in &c.details {
                println(format!("    {d}"));
            }
        }
    }
    let s = &r.summary;
    println(format!(
        "{} passed, {} warnings, {} failed, {} could not run, {} skipped",
        s.pass, s.warn, s.fail, s.error, s.skipped
    ));
}

pub fn header(ctx: &Ctx) -> String {
    let kernel = ctx
        .kernel
        .as_ref()
        .map(|k| format!(", kernel {} ({})", k.release, k.arch))
        .unwrap_or_default();
    let root = if ctx.host.live {
        String::new()
    } else {
        format!(" (root {}: file checks only)", ctx.host.fs.path().display())
    };
    format!("dockpoint doctor: {}{kernel}{root}", ctx.distro.describe())
}

/// `dockpoint doctor`. Returns the exit code.
pub fn run(args: &DoctorArgs) -> Exit {
    if args.list {
        for c in CHECKS {
            let needs = match c.needs {
                Needs::Files => "files",
                Needs::Live => "live host",
                Needs::LiveRoot => "live host, root",
            };
            let sev = match c.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let per = if c.per_container {
                " (per --container)"
            } else {
                ""
            };
            ui::println(&format!(
                "{:<27} {sev:<8} {needs:<16} {}{per}",
                c.id, c.title
            ));
        }
        return ui::finish(Exit::Ok);
    }
    for id in args.only.iter().chain(&args.skip) {
        if !CHECKS
            .iter()
            .any(|c| selected(c.id, std::slice::from_ref(id)))
        {
            ui::error(&format!("no check `{id}`: see dockpoint doctor --list"));
            return Exit::Usage;
        }
    }
    let host = match Host::new(args.root.clone(), Box::new(SystemRunner), Term::detect()) {
        Ok(h) => h,
        Err(e) => {
            ui::error(&format!("--root: {e:#}"));
            return crate::host::root_error_exit(&e);
        }
    };
    let ctx = Arc::new(Observer::new(host, Duration::from_secs(args.timeout)));
    let sel = Selection {
        only: args.only.clone(),
        skip: args.skip.clone(),
        containers: args.container.clone(),
    };
    let report = run_checks(ctx.clone(), &sel, args.strict);
    match args.format {
        Format::Json => ui::print_json(&report),
        Format::Human => print_human(&report, &header(&ctx), args.verbose, args.quiet),
    }
    ui::finish(report.summary.exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_finding_severity_and_strict() {
        let warn_check = CHECKS
            .iter()
            .find(|c| c.severity == Severity::Warning)
            .unwrap();
        let err_check = CHECKS
            .iter()
            .find(|c| c.severity == Severity::Error)
            .unwrap();
        let p = || Finding::problem("x", "fix");
        assert_eq!(result(warn_check, None, p(), 0, false).status, Status::Warn);
        assert_eq!(result(warn_check, None, p(), 0, true).status, Status::Fail);
        assert_eq!(result(err_check, None, p(), 0, false).status, Status::Fail);
        assert_eq!(
            result(err_check, None, Finding::cannot("x"), 0, true).status,
            Status::Error
        );
        assert_eq!(
            result(err_check, None, Finding::skip("x"), 0, true).status,
            Status::Skipped
        );
        assert_eq!(
            result(err_check, None, Finding::pass("x"), 0, true).status,
            Status::Pass
        );
    }

    #[test]
    fn ids_are_unique_and_dotted() {
        for (i, c) in CHECKS.iter().enumerate() {
            assert!(c.id.contains('.'), "{}", c.id);
            assert!(
                !CHECKS[i + 1..].iter().any(|d| d.id == c.id),
                "{} twice",
                c.id
            );
        }
    }
}
