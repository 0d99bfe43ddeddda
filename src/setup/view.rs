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
    if let Some(d) = &f.docker {
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

/// Offer CRIU from Debian testing when the distro's cannot do the job here.
pub fn ask_testing(steps: &[PlannedStep], flags: &mut Flags) -> bool {
    if flags.criu_source == CriuSource::DebianTesting
        || !steps
            .iter()
            .any(|s| s.id == StepId::CriuInstall && s.offer_testing)
    {
        return false;
    }
    crate::ui::eline(&format!(
        "{} criu-install: the distro's CRIU cannot do the whole job on this kernel (see the plan).",
        symbol(Status::Manual)
    ));
    let yes = ui::ask_yes_no(
        "Install CRIU from Debian testing instead (an apt pin admitting only CRIU and its own libraries; simulated first)?",
        false,
    );
    if yes {
        flags.criu_source = CriuSource::DebianTesting;
    }
    yes
}

/// Offer the distro's CRIU that the version policy refused (default no).
pub fn ask_anyway(steps: &[PlannedStep], flags: &mut Flags) -> bool {
    let Some(s) = steps
        .iter()
        .find(|s| s.id == StepId::CriuInstall && s.offer_anyway)
    else {
        return false;
    };
    if flags.install_anyway {
        return false;
    }
    let v = s.version.clone().unwrap_or_default();
    let yes = ui::ask_yes_no(
        &format!(
            "Install the distro's CRIU {v} anyway? It cannot do the whole job on this kernel (see the plan)"
        ),
        false,
    );
    flags.install_anyway = yes;
    yes
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
            "Docker: dockerd is not running (managed by {init}), config {}",
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
