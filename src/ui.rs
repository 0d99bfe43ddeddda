//! Terminal output and prompts. Human output goes to stdout; with
//! `--format json` stdout carries only the JSON and everything else goes to
//! stderr. Prompts are always on stderr (dialoguer).

use crate::runc_conf::CriuOption;
use crate::setup::{Choice, Options, PlannedStep, Status};
use console::style;
use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};

pub fn error(msg: &str) {
    eprintln!("{} {msg}", style("error:").red().bold());
}

pub fn info(msg: &str) {
    eprintln!("{msg}");
}

/// A line of human output: stdout, or stderr when stdout carries JSON.
pub fn out(json: bool, msg: &str) {
    if json {
        eprintln!("{msg}");
    } else {
        println!("{msg}");
    }
}

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
    diff.lines()
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
    format!(
        "{} {:<15}{}{}\n    {}",
        symbol(s.status),
        s.id,
        style(status).bold(),
        path,
        s.message
    )
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
    println!(
        "\n{}",
        if dry_run {
            "Dry run: nothing was changed."
        } else {
            "Result:"
        }
    );
    if !dry_run {
        for s in steps {
            println!("{}", step_line(s, status_word(s.status, dry_run)));
            if let Some(b) = &s.backup {
                println!("    backup: {b}");
            }
        }
    }
    let count = |st| steps.iter().filter(|s| s.status == st).count();
    println!(
        "{} {}, {} ok, {} manual, {} skipped, {} failed",
        if dry_run { "Would change:" } else { "Changed:" },
        count(Status::Changed),
        count(Status::Ok),
        count(Status::Manual),
        count(Status::Skipped),
        count(Status::Failed),
    );
}

/// A yes/no question; Esc, Ctrl-C or a closed terminal count as no.
fn ask_yes_no(prompt: impl Into<String>, default: bool) -> bool {
    dialoguer::Confirm::with_theme(&*theme())
        .with_prompt(prompt)
        .default(default)
        .interact_opt()
        .ok()
        .flatten()
        .unwrap_or(false)
}

fn theme() -> Box<dyn Theme> {
    if console::colors_enabled_stderr() {
        Box::new(ColorfulTheme::default())
    } else {
        Box::new(SimpleTheme)
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
pub fn offer_bela_options(opts: &mut Options) {
    let items: Vec<(CriuOption, String)> = BELA_OPTIONS
        .iter()
        .filter_map(|(spec, why)| {
            let o = CriuOption::parse(spec).ok()?;
            (!opts.criu_options.iter().any(|c| c.name == o.name))
                .then(|| (o, format!("{spec:<18} {why}")))
        })
        .collect();
    if items.is_empty() {
        return;
    }
    let labels: Vec<&str> = items.iter().map(|(_, l)| l.as_str()).collect();
    let picked = dialoguer::MultiSelect::with_theme(&*theme())
        .with_prompt("Also add these CRIU options to runc.conf? (space toggles, enter accepts; none by default)")
        .items(&labels)
        .interact_opt();
    if let Ok(Some(idx)) = picked {
        for i in idx {
            opts.criu_options.push(items[i].0.clone());
        }
    }
}

/// Ask, step by step, whether to repair a file dockpoint refused to edit.
/// Returns true when any repair was accepted (the plan must be redone).
pub fn ask_repairs(steps: &[PlannedStep], opts: &mut Options) -> bool {
    let mut any = false;
    for s in steps.iter().filter(|s| s.status == Status::Failed) {
        let Some(repair) = &s.repair else { continue };
        eprintln!("{} {}: {}", symbol(Status::Failed), s.id, s.message);
        let yes = ask_yes_no(format!("Repair it: {repair}?"), false);
        if yes {
            any = true;
            match s.id {
                "runc-conf" => opts.repair_runc = true,
                "daemon-json" => opts.repair_daemon = true,
                _ => {}
            }
        }
    }
    any
}

/// Offer CRIU from Debian testing when the distro's cannot do the job here.
pub fn ask_testing(steps: &[PlannedStep], opts: &mut Options) -> bool {
    if opts.criu_source == crate::setup::CriuSource::DebianTesting
        || !steps
            .iter()
            .any(|s| s.id == "criu-install" && s.offer_testing)
    {
        return false;
    }
    eprintln!(
        "{} criu-install: the distro's CRIU cannot do the whole job on this kernel (see the plan).",
        symbol(Status::Manual)
    );
    let yes = ask_yes_no(
        "Install CRIU from Debian testing instead (an apt pin admitting only CRIU and its own libraries; simulated first)?",
        false,
    );
    if yes {
        opts.criu_source = crate::setup::CriuSource::DebianTesting;
    }
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

/// Ask once: proceed, review each step, or cancel.
pub fn confirm(steps: &mut [PlannedStep]) -> Choice {
    let pick = dialoguer::Select::with_theme(&*theme())
        .with_prompt("Apply these changes?")
        .items(["Proceed", "Review each step", "Cancel"])
        .default(0)
        .interact_opt();
    match pick {
        Ok(Some(0)) => Choice::Proceed,
        Ok(Some(1)) => {
            for s in steps.iter_mut().filter(|s| s.action.is_some()) {
                let yes = ask_yes_no(format!("Apply {} ({})?", s.id, s.message), true);
                if !yes {
                    s.action = None;
                    s.status = Status::Skipped;
                    s.diff = None;
                    s.message = "declined by the operator; left unchanged".into();
                }
            }
            Choice::Proceed
        }
        _ => Choice::Cancel,
    }
}

/// Progress of something slow: a spinner with the current phase on a
/// terminal, plain lines (each new phase once) otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    last: std::sync::Mutex<(String, Option<std::time::Instant>)>,
}

impl Progress {
    pub fn start(term: &crate::host::Term, label: &str) -> Self {
        let bar = term.progress_tty.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {prefix}: {wide_msg} [{elapsed}]",
                )
                .expect("valid template"),
            );
            b.set_prefix(label.to_string());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        if bar.is_none() {
            eprintln!("{label}: started");
        }
        Progress {
            bar,
            label: label.to_string(),
            last: std::sync::Mutex::new((String::new(), None)),
        }
    }

    pub fn phase(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => {
                // Without a terminal: the first phase, then a line every 3s at most.
                let mut last = self.last.lock().expect("lock");
                let (text, at) = &mut *last;
                if at.is_none_or(|t| t.elapsed().as_secs() >= 3) && *text != msg {
                    eprintln!("{}: {msg}", self.label);
                    *text = msg.to_string();
                    *at = Some(std::time::Instant::now());
                }
            }
        }
    }

    pub fn finish(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.finish_with_message(msg.to_string()),
            None => eprintln!("{}: {msg}", self.label),
        }
    }
}
