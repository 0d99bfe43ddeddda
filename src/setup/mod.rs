//! `dockpoint setup`: observe, plan, apply.
//!
//! 1. Observe: the [`Observer`] gathers every fact once ([`facts::gather`]).
//! 2. Plan: [`plan`] is a pure function of the facts and the flags; each
//!    step of [`steps::STEPS`] plans from them and from the steps before it.
//! 3. Show the plan with a diff per file; confirm once.
//! 4. Apply ([`apply`]): the only code that changes anything.
//!
//! A dry run or a cancel stops after 3: nothing is written anywhere.
//!
//! `--config FILE` fills in the flags not given from an answers file
//! ([`config`]), checked before anything else; `--save-config FILE` writes
//! the choices made after applying.

pub mod config;
mod criu_step;
pub mod facts;
pub mod plan;
mod restart_step;
#[cfg(test)]
mod restart_tests;
pub mod steps;
mod view;

pub use facts::Facts;
pub use plan::{
    Action, CriuSource, Flags, PendingWrite, PlannedStep, Status, StepId, Validation, Written,
};
pub use steps::STEPS;

use crate::cli::{Format, SetupArgs};
use crate::criu_sources::{Name, UrlSpec};
use crate::exit::Exit;
use crate::fsio;
use crate::host::{Host, SystemRunner, Term};
use crate::observe::Observer;
use crate::ui;
use serde::Serialize;
use std::time::Duration;

/// The plan: each step planned in order (later steps see earlier ones).
/// Pure: facts and flags in, steps out.
pub fn plan(facts: &Facts, flags: &Flags) -> Vec<PlannedStep> {
    let mut out: Vec<PlannedStep> = Vec::new();
    for def in STEPS {
        let step = (def.plan)(facts, flags, &out);
        debug_assert_eq!(step.id, def.id);
        out.push(step);
    }
    out
}

/// Apply the plan in order; a failing step does not stop the others, and a
/// later step sees what the earlier ones did. Ctrl-C stops before the next
/// step (a started step finishes, so docker is never left stopped).
pub fn apply(host: &Host, steps: &mut [PlannedStep], facts: &Facts) {
    // What a killed run left beside the files it has nothing to write now:
    // removed, or recovered as the backup it was meant to be (a write does
    // this itself).
    for s in steps.iter() {
        if let (Some(p), None | Some(Action::Install(_) | Action::Restart(_))) =
            (s.path.as_deref(), &s.action)
        {
            fsio::clean_leftovers(host, p);
        }
    }
    for i in 0..steps.len() {
        let (done, rest) = steps.split_at_mut(i);
        let s = &mut rest[0];
        let Some(action) = s.action.take() else {
            continue;
        };
        if ui::interrupted() {
            s.status = Status::Skipped;
            s.diff = None;
            s.message = "interrupted by the operator (Ctrl-C): not applied".into();
            continue;
        }
        match action {
            Action::Write(w) => apply_write(host, s, w),
            Action::Install(how) => criu_step::apply(host, facts, s, how),
            Action::Restart(r) => restart_step::apply(host, facts, s, r, done),
        }
    }
}

fn apply_write(host: &Host, s: &mut PlannedStep, w: PendingWrite) {
    let validate = |tmp: &str, b: &[u8]| steps::validate(host, &w.validation, tmp, b);
    match fsio::write_file(host, &w.path, w.old.as_deref(), &w.new, &validate) {
        Ok(done) => {
            s.backup = done.backup;
            if done.host_path != w.path {
                s.message.push_str(&format!(
                    " (written at {}, its link target)",
                    done.host_path
                ));
            }
            s.written = Some(Written {
                path: done.host_path,
                old: w.old,
                new: w.new,
            });
            s.warnings.extend(done.warning);
        }
        Err(e) => {
            s.status = Status::Failed;
            s.message = format!("{e:#}");
        }
    }
}

pub fn unified_diff(path: &str, existed: bool, old: &str, new: &str) -> String {
    let from = if existed {
        format!("a{path}")
    } else {
        "/dev/null".into()
    };
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&from, &format!("b{path}"))
        .to_string()
}

#[derive(Serialize)]
struct JsonHost<'a> {
    distro: &'a crate::distro::Distro,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    format_version: u32,
    dry_run: bool,
    changed: bool,
    host: JsonHost<'a>,
    steps: &'a [PlannedStep],
    /// The doctor's report after a real run.
    #[serde(skip_serializing_if = "Option::is_none")]
    doctor: Option<crate::doctor::Report>,
    /// The answers file's `[enable]` containers: enable's reports.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    enable: &'a [config::EnableRun],
    /// What `--save-config` wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    saved_config: Option<&'a config::Saved>,
}

/// What a run did besides its steps: the answers file's part.
#[derive(Default)]
struct Extras {
    enable: Vec<config::EnableRun>,
    saved: Option<config::Saved>,
}

/// Check the flags before anything is observed: usage errors exit 2.
pub(crate) fn flags_from(args: &SetupArgs) -> Result<Flags, String> {
    let criu_options = crate::runc_conf::parse_all(&args.criu_option)?;
    let (criu_source, explicit_distro, criu_url) = criu_source_from(args.criu_source.as_deref())?;
    Ok(Flags {
        criu_options,
        repair_runc: args.repair,
        repair_daemon: args.repair,
        no_install: args.no_install,
        no_restart: args.no_restart,
        criu_source,
        install_anyway: explicit_distro,
        criu_base: args.criu_base.clone(),
        criu_url,
        criu_key: args.criu_key.clone(),
        remove_sources: args.remove_criu_source,
    })
}

/// `--criu-source SOURCE [SUITE COMPONENT...]`: the source, whether the
/// distro was asked for explicitly, and a URL source's repository.
fn criu_source_from(
    values: Option<&[String]>,
) -> Result<(CriuSource, bool, Option<UrlSpec>), String> {
    let Some((first, rest)) = values.and_then(|v| v.split_first()) else {
        return Ok((CriuSource::Distro, false, None));
    };
    let name = match first.as_str() {
        "distro" => None,
        "debian-testing" => Some(Name::DebianTesting),
        "obs" => Some(Name::Obs),
        "ppa" => Some(Name::Ppa),
        u if u.starts_with("http://") || u.starts_with("https://") => {
            let url = UrlSpec {
                uri: u.to_string(),
                suite: rest.first().cloned().unwrap_or_else(|| "/".into()),
                components: rest.iter().skip(1).cloned().collect(),
            };
            return Ok((CriuSource::Source(Name::Url), false, Some(url)));
        }
        other => {
            return Err(format!(
                "--criu-source {other}: expected distro, debian-testing, obs, ppa, or an http(s) URL of a deb repository followed by its SUITE and COMPONENT"
            ));
        }
    };
    if !rest.is_empty() {
        return Err(format!(
            "--criu-source {first} takes no further values (got {}); SUITE and COMPONENT are for a URL source",
            rest.join(" ")
        ));
    }
    Ok(match name {
        None => (CriuSource::Distro, true, None),
        Some(n) => (CriuSource::Source(n), false, None),
    })
}

/// `dockpoint setup`.
pub fn run(given: &SetupArgs) -> Exit {
    // The answers file first: a bad one stops here (exit 2), before
    // anything is read from the host.
    let prepared = match config::prepare(given) {
        Ok(p) => p,
        Err(e) => {
            ui::error(&e);
            return Exit::Usage;
        }
    };
    let answers = &prepared.resolved;
    let args = &answers.args;
    crate::runner::set_verbose(args.verbose);
    let mut flags = match flags_from(args) {
        Ok(f) => f,
        Err(e) => {
            ui::error(&match &prepared.config {
                Some(c) => format!("{e} (flags and the answers file {c})"),
                None => e,
            });
            return Exit::Usage;
        }
    };
    if args.root.is_none() && !args.dry_run && !nix::unistd::geteuid().is_root() {
        ui::error(
            "dockpoint setup changes files in /etc and restarts docker: run it as root (sudo dockpoint setup), or see the plan first with --dry-run",
        );
        return Exit::Usage;
    }
    let term = Term::detect();
    if !args.yes && !args.dry_run && !term.interactive {
        ui::error(
            "no terminal to ask for confirmation on: re-run with --yes to take the defaults (or --dry-run to only see the plan)",
        );
        return Exit::Usage;
    }
    let host = match Host::new(args.root.clone(), Box::new(SystemRunner), term) {
        Ok(h) => h,
        Err(e) => {
            ui::error(&format!(
                "--root: {e:#} (give the directory to treat as the host's /)"
            ));
            return crate::host::root_error_exit(&e);
        }
    };
    let interactive = !args.yes && !args.dry_run;
    // Ctrl-C: at a prompt, cancel; while applying, stop before the next
    // step (a running apt or docker restart finishes, with its rollback).
    ui::handle_ctrl_c();
    // Only a run that may change the host takes the lock.
    let lock = if args.dry_run {
        None
    } else {
        match fsio::SetupLock::acquire(&host, Duration::from_secs(120), &|who| {
            ui::info(&format!(
                "waiting for {who} to release the dockpoint setup lock (up to 120s)..."
            ))
        }) {
            Ok(l) => Some(l),
            Err(e) => {
                ui::error(&format!("{e:#}"));
                return Exit::Failed;
            }
        }
    };
    let json = args.format == Some(Format::Json);
    let obs = Observer::new(host, Duration::from_secs(30));
    let mut facts = facts::gather(&obs, &flags);
    view::print_header(json, &facts, args.root.as_deref());
    if let Some(c) = &prepared.config {
        ui::out(json, &format!("Answers: {c} (flags override it)"));
    }
    if interactive {
        view::offer_bela_options(&mut flags);
    }
    let mut planned = plan(&facts, &flags);
    if interactive && view::ask_repairs(&planned, &mut flags) {
        planned = plan(&facts, &flags);
    }
    view::print_plan(json, &planned, args.dry_run);
    // The plan first, then which CRIU (when the one planned cannot do it).
    if interactive && view::ask_criu(&planned, &mut flags) {
        facts.source = facts::observe_source(&obs, &facts, &flags);
        planned = plan(&facts, &flags);
        view::print_plan(json, &planned, args.dry_run);
    }
    let enable_why = if args.dry_run {
        Some("dry run: enable was not run")
    } else if args.root.is_some() {
        Some("--root: enable needs the live host's systemd and docker; run it there")
    } else {
        None
    };
    if let (Some(e), Some(why)) = (&answers.enable, enable_why) {
        for c in &e.containers {
            ui::out(
                json,
                &format!("- enable {c}: {why} (`{}`)", e.command(c, args.yes)),
            );
        }
    }
    let mut declined = Vec::new();
    let will_change = planned.iter().any(|s| s.action.is_some());
    let mut log = crate::changelog::Run::new("setup");
    if !args.dry_run {
        let proceed = !will_change || !interactive || {
            let (go, d) = config::confirm(&mut planned, answers.restart, view::confirm);
            declined = d;
            go
        };
        if !proceed {
            for s in planned.iter_mut().filter(|s| s.action.is_some()) {
                s.action = None;
                s.status = Status::Skipped;
                s.diff = None;
                s.message = "cancelled by the operator; nothing was changed".into();
            }
            ui::out(json, "Cancelled: nothing was changed.");
            finish(
                json,
                args.dry_run,
                &facts,
                &planned,
                None,
                &Extras::default(),
            );
            return ui::finish(Exit::Failed);
        }
        log_planned(&mut log, &planned, interactive, &flags);
        apply(&obs.host, &mut planned, &facts);
        log_applied(&mut log, &planned);
    }
    let mut extras = Extras::default();
    let mut exit = Exit::Ok;
    if let Some(t) = &prepared.save {
        let choices = config::Choices::from_run(answers, &flags, &declined);
        match config::write_saved(t, &choices) {
            Ok(s) => {
                ui::out(
                    json,
                    &if s.changed {
                        format!("Answers saved to {}", s.path)
                    } else {
                        format!(
                            "Answers: {} already holds these choices (unchanged)",
                            s.path
                        )
                    },
                );
                extras.saved = Some(s);
            }
            Err(e) => {
                ui::error(&format!("the answers were not saved: {e}"));
                exit = Exit::Failed;
            }
        }
    }
    // enable takes no setup lock today; let go of ours before it runs.
    drop(lock);
    if let Some(e) = &answers.enable {
        extras.enable = match enable_why {
            Some(why) => config::enable_skipped(e, args.yes, why),
            // Human: enable prints its own plan and result (and asks, at a
            // terminal without --yes) after setup's result, in finish.
            None if !json => Vec::new(),
            None => config::run_enables(e, args.yes, true),
        };
    }
    // setup ends with the doctor (not in a dry run: nothing was changed).
    let doctor = (!args.dry_run).then(|| {
        let h = Host::new(args.root.clone(), Box::new(SystemRunner), obs.host.term);
        match h {
            Ok(h) => {
                let mut o = Observer::new(h, Duration::from_secs(10));
                o.no_install = flags.no_install;
                let o = std::sync::Arc::new(o);
                let sel = crate::doctor::Selection {
                    skip: answers.skip.clone(),
                    ..crate::doctor::Selection::all()
                };
                let r = crate::doctor::run_checks(o.clone(), &sel, false);
                Some((r, crate::doctor::header(&o)))
            }
            Err(_) => None,
        }
    });
    let steps_exit = if !json
        && enable_why.is_none()
        && let Some(e) = &answers.enable
    {
        // enable's own output between setup's result and the doctor's.
        let steps_exit = finish(json, args.dry_run, &facts, &planned, None, &extras);
        extras.enable = config::run_enables(e, args.yes, false);
        if let Some((r, header)) = doctor.flatten() {
            ui::println("");
            crate::doctor::print_human(&r, &header, false, false);
        }
        steps_exit
    } else {
        finish(
            json,
            args.dry_run,
            &facts,
            &planned,
            doctor.flatten(),
            &extras,
        )
    };
    log.finish(&obs.host, steps_exit);
    exit = worst(exit, steps_exit);
    for e in &extras.enable {
        exit = worst(exit, e.exit);
    }
    ui::finish(exit)
}

fn worst(a: Exit, b: Exit) -> Exit {
    if a == Exit::Ok { b } else { a }
}

/// The change log's lines before apply: each step that will change
/// something, and what the operator chose.
fn log_planned(log: &mut crate::changelog::Run, steps: &[PlannedStep], asked: bool, flags: &Flags) {
    use serde_json::json;
    let mut any = false;
    for s in steps.iter().filter(|s| s.action.is_some()) {
        any = true;
        log.event(
            "planned",
            json!({"step": s.id, "message": s.message, "path": s.path}),
        );
    }
    if any && asked {
        let options: Vec<String> = flags.criu_options.iter().map(|o| o.to_string()).collect();
        log.event(
            "asked",
            json!({"question": "apply the plan", "answer": "yes", "criu_options": options}),
        );
    }
}

/// The change log's lines after apply: what each planned step did.
fn log_applied(log: &mut crate::changelog::Run, steps: &[PlannedStep]) {
    use serde_json::json;
    if log.is_empty() {
        return;
    }
    for s in steps {
        let event = match (s.status, s.id) {
            (Status::Changed, StepId::DockerRestart) => "restarted",
            (Status::Changed, _) => "changed",
            (Status::Failed, _) => "failed",
            (Status::Manual, _) => "manual",
            (Status::Skipped, _) => "skipped",
            _ => continue,
        };
        log.event(
            event,
            json!({"step": s.id, "message": s.message, "path": s.path, "backup": s.backup}),
        );
    }
}

fn finish(
    json: bool,
    dry_run: bool,
    facts: &Facts,
    steps: &[PlannedStep],
    doctor: Option<(crate::doctor::Report, String)>,
    extras: &Extras,
) -> Exit {
    let changed = steps.iter().any(|s| s.status == Status::Changed);
    if json {
        let report = JsonReport {
            format_version: 1,
            dry_run,
            changed,
            host: JsonHost {
                distro: &facts.distro,
            },
            steps,
            doctor: doctor.map(|(r, _)| r),
            enable: &extras.enable,
            saved_config: extras.saved.as_ref(),
        };
        ui::print_json(&report)
    } else {
        view::print_result(steps, dry_run);
        if let Some((r, header)) = &doctor {
            ui::println("");
            crate::doctor::print_human(r, header, false, false);
        }
    }
    if steps.iter().any(|s| s.status == Status::Failed) {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

#[cfg(test)]
mod flag_tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn criu_source_values_are_read_or_refused_with_the_forms() {
        assert_eq!(
            criu_source_from(None).unwrap(),
            (CriuSource::Distro, false, None)
        );
        assert_eq!(
            criu_source_from(Some(&v(&["distro"]))).unwrap(),
            (CriuSource::Distro, true, None)
        );
        assert_eq!(
            criu_source_from(Some(&v(&["obs"]))).unwrap().0,
            CriuSource::Source(Name::Obs)
        );
        let (s, _, url) =
            criu_source_from(Some(&v(&["https://m.example/criu", "trixie", "main"]))).unwrap();
        assert_eq!(s, CriuSource::Source(Name::Url));
        assert_eq!(
            url,
            Some(UrlSpec {
                uri: "https://m.example/criu".into(),
                suite: "trixie".into(),
                components: vec!["main".into()],
            })
        );
        let flat = criu_source_from(Some(&v(&["http://127.0.0.1:8080/r/"])))
            .unwrap()
            .2
            .unwrap();
        assert_eq!(flat.suite, "/");
        let e = criu_source_from(Some(&v(&["obs", "trixie"]))).unwrap_err();
        assert!(e.contains("takes no further values"), "{e}");
        let e = criu_source_from(Some(&v(&["testing"]))).unwrap_err();
        assert!(e.contains("debian-testing, obs, ppa"), "{e}");
    }
}
