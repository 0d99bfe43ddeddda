//! What setup shows and asks: the header, the plan with its diffs, the
//! prompts (line-based, numbered, like rustup-init's), the result.

use super::facts::Facts;
use super::plan::{CriuSource, Flags, PlannedStep, Status, StepId};
use crate::runc_conf::CriuOption;
use crate::ui::{self, out};
use console::style;

fn symbol(status: Status) -> console::StyledObject<&'static str> {
    match status {
        Status::Ok => style("✓").green(),
        Status::Changed => style("~").yellow(),
        Status::Skipped => style("-").dim(),
        Status::Manual => style("!").yellow(),
        Status::Failed => style("✗").red(),
    }
}

fn status_word(status: Status, dry_run: bool) -> &'static str {
    match (status, dry_run) {
        (Status::Ok, _) => "ok",
        (Status::Changed, true) => "would change",
        (Status::Changed, false) => "changed",
        (Status::Skipped, _) => "skipped",
        (Status::Manual, _) => "manual",
        (Status::Failed, _) => "failed",
    }
}

fn colour_diff(diff: &str) -> String {
    ui::escape_controls(diff)
        .lines()
        .map(|l| {
            if l.starts_with("+++") || l.starts_with("---") {
                style(l).bold().to_string()
            } else if l.starts_with('+') {
                style(l).green().to_string()
            } else if l.starts_with('-') {
                style(l).red().to_string()
            } else if l.starts_with("@@") {
                style(l).cyan().to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn step_line(s: &PlannedStep, status: &str) -> String {
    let path = s
        .path
        .as_deref()
        .map(|p| format!(" {p}"))
        .unwrap_or_default();
    let mut line = format!(
        "{} {:<15}{}{}\n    {}",
        symbol(s.status),
        s.id.as_str(),
        style(status).bold(),
        path,
        ui::escape_controls(&s.message)
    );
    for w in &s.warnings {
        line.push_str(&format!("\n    warning: {w}"));
    }
    line
}

/// The lines about the host before the plan.
pub fn print_header(json: bool, f: &Facts, root: Option<&std::path::Path>) {
    out(json, &format!("Host: {}", f.distro.describe()));
    if let Some(root) = root {
        out(
            json,
            &format!(
                "Root: {} (an image: its files, apt through chroot where it has apt; no docker restart)",
                root.display()
            ),
        );
    }
    if let Some(k) = &f.kernel {
        out(
            json,
            &format!(
                "Kernel: {} ({}); CRIU needed: >= {}",
                k.release,
                k.arch,
                f.min_criu()
            ),
        );
    }
    if let Some(line) = crate::observe::docker_not_installed_line(f.live, f.docker.as_ref()) {
        out(json, &line);
    } else if let Some(d) = &f.docker {
        out(json, &describe_docker(d));
    }
    for n in &f.docker_notes {
        out(json, &format!("  note: {n}"));
    }
}

/// The plan, before anything is changed.
pub fn print_plan(json: bool, steps: &[PlannedStep], dry_run: bool) {
    out(
        json,
        if dry_run {
            "\nPlan (dry run, nothing will be changed):"
        } else {
            "\nPlan:"
        },
    );
    for s in steps {
        let word = match (s.status, dry_run) {
            (Status::Changed, false) => "will change",
            (other, _) => status_word(other, dry_run),
        };
        out(json, &step_line(s, word));
        if let Some(d) = &s.diff {
            out(json, &colour_diff(d));
        }
    }
}

/// The outcome, after applying.
pub fn print_result(steps: &[PlannedStep], dry_run: bool) {
    let p = ui::println;
    p(&format!(
        "\n{}",
        if dry_run {
            "Dry run: nothing was changed."
        } else {
            "Result:"
        }
    ));
    if !dry_run {
        for s in steps {
            p(&step_line(s, status_word(s.status, dry_run)));
            if let Some(b) = &s.backup {
                p(&format!("    backup: {b}"));
            }
        }
    }
    let count = |st| steps.iter().filter(|s| s.status == st).count();
    p(&format!(
        "{} {}, {} ok, {} manual, {} skipped, {} failed",
        if dry_run { "Would change:" } else { "Changed:" },
        count(Status::Changed),
        count(Status::Ok),
        count(Status::Manual),
        count(Status::Skipped),
        count(Status::Failed),
    ));
    if dry_run && count(Status::Failed) > 0 {
        p("The dry run found failures: a real run would fail the same steps.");
    }
}

/// Extra runc.conf options worth having for a JVM like BELA, with why.
const BELA_OPTIONS: &[(&str, &str)] = &[
    (
        "skip-in-flight",
        "half-open connections on a listening socket would otherwise fail the checkpoint",
    ),
    (
        "ghost-limit 100M",
        "JVMs extract JNI libraries to /tmp and delete them; CRIU's default limit for such files is 1 MiB",
    ),
    (
        "tcp-close",
        "for restores after a reboot: connections to other hosts come back closed instead of failing the restore when the container's address changed (every restore then closes its connections)",
    ),
];

/// Offer the BELA options (default: none).
pub fn offer_bela_options(flags: &mut Flags) {
    let items: Vec<(CriuOption, String)> = BELA_OPTIONS
        .iter()
        .filter_map(|(spec, why)| {
            let o = CriuOption::parse(spec).ok()?;
            (!flags.criu_options.iter().any(|c| c.name == o.name))
                .then(|| (o, format!("{spec:<18} {why}")))
        })
        .collect();
    if items.is_empty() {
        return;
    }
    let labels: Vec<&str> = items.iter().map(|(_, l)| l.as_str()).collect();
    let picked = ui::pick_many(
        "Also add these CRIU options to runc.conf? (none by default)",
        &labels,
    );
    for i in picked.unwrap_or_default() {
        flags.criu_options.push(items[i].0.clone());
    }
}

/// Ask, step by step, whether to repair a file dockpoint refused to edit.
/// Returns true when any repair was accepted (the plan must be redone).
pub fn ask_repairs(steps: &[PlannedStep], flags: &mut Flags) -> bool {
    let mut any = false;
    for s in steps.iter().filter(|s| s.status == Status::Failed) {
        let Some(repair) = &s.repair else { continue };
        crate::ui::eline(&format!(
            "{} {}: {}",
            symbol(Status::Failed),
            s.id,
            ui::escape_controls(&s.message)
        ));
        if ui::ask_yes_no(&format!("Repair it: {repair}?"), false) {
            any = true;
            match s.id {
                StepId::RuncConf => flags.repair_runc = true,
                StepId::DaemonJson => flags.repair_daemon = true,
                StepId::CriuInstall | StepId::DockerRestart => {}
            }
        }
    }
    any
}

/// After the plan: when the CRIU planned cannot do the job here, ask where
/// CRIU should come from instead: the sources that serve this host, the
/// distro's anyway, or nothing (the default). True: the plan must be redone.
pub fn ask_criu(steps: &[PlannedStep], flags: &mut Flags) -> bool {
    let Some(s) = steps
        .iter()
        .find(|s| s.id == StepId::CriuInstall && (!s.offer_sources.is_empty() || s.offer_anyway))
    else {
        return false;
    };
    let mut labels: Vec<String> = s
        .offer_sources
        .iter()
        .map(|n| {
            let r = crate::criu_sources::row(*n);
            format!(
                "CRIU from {} (--criu-source {}; simulated first)",
                r.what, r.flag
            )
        })
        .collect();
    let anyway = s.offer_anyway && !flags.install_anyway;
    if anyway {
        labels.push(format!(
            "The distro's CRIU {} anyway (it cannot do the whole job on this kernel)",
            s.version.clone().unwrap_or_default()
        ));
    }
    if labels.is_empty() {
        return false;
    }
    labels.push("Leave CRIU as it is".into());
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let last = refs.len() - 1;
    let pick = ui::menu("criu-install: where should CRIU come from?", &refs, last);
    match pick {
        Some(i) if i < s.offer_sources.len() => {
            flags.criu_source = CriuSource::Source(s.offer_sources[i]);
            true
        }
        Some(i) if anyway && i == s.offer_sources.len() => {
            flags.install_anyway = true;
            true
        }
        _ => false,
    }
}

/// One line about the docker daemon that was found.
pub fn describe_docker(d: &crate::docker::Daemon) -> String {
    let init = match d.init {
        crate::docker::Init::Systemd => "systemd",
        crate::docker::Init::SysV => "SysV init",
        crate::docker::Init::OpenRc => "OpenRC",
        crate::docker::Init::Unmanaged => "no init system",
    };
    match d.pid {
        Some(pid) => format!(
            "Docker: dockerd pid {pid}, managed by {init}, config {}{}",
            d.config_file,
            d.experimental_flag
                .as_ref()
                .map(|s| format!(", --experimental flag from {s}"))
                .unwrap_or_default()
        ),
        None => format!(
            "Docker: dockerd is installed but not running ({}), config {}",
            match d.init {
                crate::docker::Init::Unmanaged => "no init system manages it".to_string(),
                _ => format!("managed by {init}"),
            },
            d.config_file
        ),
    }
}

/// Ask once: proceed, review each step, or cancel. False: cancel.
pub fn confirm(steps: &mut [PlannedStep]) -> bool {
    let pick = ui::menu(
        "Apply these changes?",
        &["Proceed", "Review each step", "Cancel"],
        0,
    );
    match pick {
        Some(0) => true,
        Some(1) => {
            for s in steps.iter_mut().filter(|s| s.action.is_some()) {
                let first = s.message.lines().next().unwrap_or_default().to_string();
                if !ui::ask_yes_no(&format!("Apply {} ({first})?", s.id), true) {
                    s.action = None;
                    s.status = Status::Skipped;
                    s.diff = None;
                    s.message = "declined by the operator; left unchanged".into();
                }
            }
            true
        }
        _ => false,
    }
}
