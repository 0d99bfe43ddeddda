//! `dockpoint setup`: a desired-state engine. Plan every step from the host
//! as it is, show the plan with a diff per file, confirm once, apply, report.

mod criu_step;
mod restart_step;
mod steps;

pub use steps::{DAEMON_JSON, RUNC_CONF, STEPS};

use crate::cli::{CriuSourceArg, Format, SetupArgs};
use crate::criu::Version;
use crate::daemon_json::DaemonInputs;
use crate::distro::{self, Distro};
use crate::docker::{self, Daemon};
use crate::fsio;
use crate::host::{Host, SystemRunner, Term};
use crate::runc_conf::CriuOption;
use crate::ui;
use anyhow::Result;
use serde::Serialize;

/// Exit codes, the contract scripts gate on.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Manual,
}

/// Checks a candidate file (its temp path and bytes) before it is renamed into place.
pub type Validate = fn(&Host, &Options, &str, &[u8]) -> Result<()>;

/// A write the engine will do when the step is applied.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    /// The host path.
    pub path: String,
    /// The bytes the plan was made from (None: the file did not exist).
    pub old: Option<Vec<u8>>,
    pub new: Vec<u8>,
    pub validate: Validate,
}

/// What applying a step does.
#[derive(Debug, Clone)]
pub enum Action {
    Write(PendingWrite),
    Install(criu_step::Install),
    Restart(restart_step::Restart),
}

/// One step of the plan, and after applying, of the report.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub id: &'static str,
    pub status: Status,
    pub path: Option<String>,
    pub diff: Option<String>,
    pub backup: Option<String>,
    pub message: String,
    /// criu-install: "apt" or "instructions".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(skip)]
    pub repair: Option<String>,
    /// Offer CRIU from Debian testing interactively.
    #[serde(skip)]
    pub offer_testing: bool,
    /// What was written: the host path, and the old bytes and new bytes (for a rollback).
    #[serde(skip)]
    pub written: Option<(String, Option<Vec<u8>>, Vec<u8>)>,
    #[serde(skip)]
    pub action: Option<Action>,
}

impl PlannedStep {
    pub fn new(id: &'static str) -> Self {
        PlannedStep {
            id,
            status: Status::Ok,
            path: None,
            diff: None,
            backup: None,
            message: String::new(),
            method: None,
            instructions: None,
            version: None,
            log: None,
            repair: None,
            offer_testing: false,
            written: None,
            action: None,
        }
    }

    pub fn failed(mut self, message: String) -> Self {
        self.status = Status::Failed;
        self.message = message;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CriuSource {
    #[default]
    Distro,
    DebianTesting,
}

/// The running kernel.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub version: Version,
    pub release: String,
    pub arch: String,
}

impl Kernel {
    pub fn detect() -> Option<Self> {
        let u = nix::sys::utsname::uname().ok()?;
        let release = u.release().to_string_lossy().into_owned();
        Some(Kernel {
            version: Version::parse(&release)?,
            release,
            arch: u.machine().to_string_lossy().into_owned(),
        })
    }
}

/// Everything the planners need besides the host.
#[derive(Debug, Clone)]
pub struct Options {
    pub criu_options: Vec<CriuOption>,
    pub repair_runc: bool,
    pub repair_daemon: bool,
    pub no_install: bool,
    pub no_restart: bool,
    pub criu_source: CriuSource,
    pub distro: Distro,
    /// The running kernel (live hosts only).
    pub kernel: Option<Kernel>,
    /// The live docker daemon (live hosts only).
    pub docker: Option<Daemon>,
    pub daemon: DaemonInputs,
    pub lock_wait_secs: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            criu_options: Vec::new(),
            repair_runc: false,
            repair_daemon: false,
            no_install: false,
            no_restart: false,
            criu_source: CriuSource::Distro,
            distro: Distro::unknown(),
            kernel: None,
            docker: None,
            daemon: DaemonInputs::default(),
            lock_wait_secs: 120,
        }
    }
}

impl Options {
    /// The runc.conf options: always `tcp-established`, then the extra ones.
    pub fn runc_options(&self) -> Vec<CriuOption> {
        let mut v = vec![CriuOption::flag("tcp-established")];
        v.extend(self.criu_options.iter().cloned());
        v
    }

    /// The lowest CRIU that does the whole job on this kernel.
    pub fn min_criu(&self) -> Version {
        match &self.kernel {
            Some(k) => crate::criu::minimum_for(k.version, &k.arch),
            None => Version(4, 2, 0),
        }
    }
}

/// The plan: each step planned in order (later steps see earlier ones).
pub fn plan(host: &Host, opts: &Options) -> Vec<PlannedStep> {
    let mut out: Vec<PlannedStep> = Vec::new();
    for def in STEPS {
        let step = (def.plan)(host, opts, &out);
        out.push(step);
    }
    out
}

/// Apply the plan in order; a failing step does not stop the others, and a
/// later step sees what the earlier ones did.
pub fn apply(host: &Host, steps: &mut [PlannedStep], opts: &Options) {
    for i in 0..steps.len() {
        let (done, rest) = steps.split_at_mut(i);
        let s = &mut rest[0];
        match s.action.take() {
            None => {}
            Some(Action::Write(w)) => {
                let validate = |tmp: &str, b: &[u8]| (w.validate)(host, opts, tmp, b);
                match fsio::write_file(host, &w.path, w.old.as_deref(), &w.new, &validate) {
                    Ok(done) => {
                        s.backup = done.backup;
                        s.written = Some((done.host_path, w.old.clone(), w.new.clone()));
                        if let Some(warn) = done.warning {
                            s.message.push_str(&format!("\n    warning: {warn}"));
                        }
                    }
                    Err(e) => {
                        s.status = Status::Failed;
                        s.message = format!("{e:#}");
                    }
                }
            }
            Some(Action::Install(how)) => criu_step::apply(host, opts, s, how),
            Some(Action::Restart(r)) => restart_step::apply(host, opts, s, r, done),
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
    distro: &'a Distro,
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
}

/// What the operator chose at the prompt.
pub enum Choice {
    Proceed,
    Cancel,
}

/// `dockpoint setup`. Returns the exit code.
pub fn run(args: &SetupArgs) -> i32 {
    let criu_options = match steps::parse_criu_options(&args.criu_option) {
        Ok(o) => o,
        Err(e) => {
            ui::error(&format!("--criu-option: {e}"));
            return EXIT_USAGE;
        }
    };
    if let Some(root) = &args.root {
        if !root.is_dir() {
            ui::error(&format!(
                "--root {}: not a directory (give the directory to treat as the host's /)",
                root.display()
            ));
            return EXIT_USAGE;
        }
    } else if !args.dry_run && !nix::unistd::geteuid().is_root() {
        ui::error(
            "dockpoint setup changes files in /etc and restarts docker: run it as root (sudo dockpoint setup), or see the plan first with --dry-run",
        );
        return EXIT_USAGE;
    }
    let term = Term::detect();
    if !args.yes && !args.dry_run && !term.interactive {
        ui::error(
            "no terminal to ask for confirmation on: re-run with --yes to take the defaults (or --dry-run to only see the plan)",
        );
        return EXIT_USAGE;
    }
    let host = match Host::new(args.root.clone(), Box::new(SystemRunner), term) {
        Ok(h) => h,
        Err(e) => {
            ui::error(&format!("--root: {e:#}"));
            return EXIT_USAGE;
        }
    };
    let _lock = if args.dry_run {
        None
    } else {
        match fsio::SetupLock::acquire(&host, std::time::Duration::from_secs(120), &|who| {
            ui::info(&format!(
                "waiting for {who} to release the dockpoint setup lock..."
            ))
        }) {
            Ok(l) => Some(l),
            Err(e) => {
                ui::error(&format!("{e:#}"));
                return EXIT_FAILED;
            }
        }
    };
    let json = args.format == Format::Json;
    let distro = distro::detect(&host.fs);
    let docker = host.live.then(|| docker::discover(&host));
    let mut opts = Options {
        criu_options,
        repair_runc: args.repair,
        repair_daemon: args.repair,
        no_install: args.no_install,
        no_restart: args.no_restart,
        criu_source: match args.criu_source {
            CriuSourceArg::Distro => CriuSource::Distro,
            CriuSourceArg::DebianTesting => CriuSource::DebianTesting,
        },
        distro: distro.clone(),
        kernel: if host.live { Kernel::detect() } else { None },
        daemon: DaemonInputs {
            experimental_flag: docker
                .as_ref()
                .is_some_and(|d| d.experimental_flag.is_some()),
        },
        docker,
        lock_wait_secs: 120,
    };
    let interactive = !args.yes && !args.dry_run;
    ui::out(json, &format!("Host: {}", distro.describe()));
    if let Some(root) = &args.root {
        ui::out(
            json,
            &format!(
                "Root: {} (an image: its files, apt through chroot where it has apt; no docker restart)",
                root.display()
            ),
        );
    }
    if let Some(k) = &opts.kernel {
        ui::out(
            json,
            &format!(
                "Kernel: {} ({}); CRIU needed: >= {}",
                k.release,
                k.arch,
                opts.min_criu()
            ),
        );
    }
    if let Some(d) = &opts.docker {
        ui::out(json, &ui::describe_docker(d));
    }
    if interactive {
        ui::offer_bela_options(&mut opts);
    }
    let mut planned = plan(&host, &opts);
    if interactive && ui::ask_repairs(&planned, &mut opts) {
        planned = plan(&host, &opts);
    }
    if interactive && ui::ask_testing(&planned, &mut opts) {
        planned = plan(&host, &opts);
    }
    ui::print_plan(json, &planned, args.dry_run);
    let will_change = planned.iter().any(|s| s.action.is_some());
    if !args.dry_run && will_change {
        let choice = if interactive {
            ui::confirm(&mut planned)
        } else {
            Choice::Proceed
        };
        if let Choice::Cancel = choice {
            for s in planned.iter_mut().filter(|s| s.action.is_some()) {
                s.action = None;
                s.status = Status::Skipped;
                s.diff = None;
                s.message = "cancelled by the operator; nothing was changed".into();
            }
            ui::out(json, "Cancelled: nothing was changed.");
            finish(json, args.dry_run, &distro, &planned, None);
            return EXIT_FAILED;
        }
        apply(&host, &mut planned, &opts);
    }
    // setup ends with the doctor (not in a dry run: nothing was changed).
    let doctor = (!args.dry_run).then(|| {
        let h = Host::new(args.root.clone(), Box::new(SystemRunner), host.term)
            .expect("the root opened a moment ago");
        let ctx = std::sync::Arc::new(crate::doctor::Ctx::new(
            h,
            std::time::Duration::from_secs(10),
        ));
        let sel = crate::doctor::Selection {
            only: vec![],
            skip: vec![],
            containers: vec![],
        };
        let r = crate::doctor::run_checks(ctx.clone(), &sel, false);
        (r, crate::doctor::header(&ctx))
    });
    finish(json, args.dry_run, &distro, &planned, doctor)
}

fn finish(
    json: bool,
    dry_run: bool,
    distro: &Distro,
    steps: &[PlannedStep],
    doctor: Option<(crate::doctor::Report, String)>,
) -> i32 {
    let changed = steps.iter().any(|s| s.status == Status::Changed);
    if json {
        let report = JsonReport {
            format_version: 1,
            dry_run,
            changed,
            host: JsonHost { distro },
            steps,
            doctor: doctor.map(|(r, _)| r),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        );
    } else {
        ui::print_result(steps, dry_run);
        if let Some((r, header)) = &doctor {
            println!();
            crate::doctor::print_human(r, header, false, false);
        }
    }
    if steps.iter().any(|s| s.status == Status::Failed) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}
