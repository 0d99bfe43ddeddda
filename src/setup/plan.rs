//! The plan's vocabulary: steps, their ids and statuses, what applying a
//! step does, and the operator's flags. Data only.

use crate::runc_conf::CriuOption;
use serde::Serialize;

/// The steps' stable ids (JSON `"id"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    CriuInstall,
    RuncConf,
    DaemonJson,
    DockerRestart,
}

impl StepId {
    pub fn as_str(self) -> &'static str {
        match self {
            StepId::CriuInstall => "criu-install",
            StepId::RuncConf => "runc-conf",
            StepId::DaemonJson => "daemon-json",
            StepId::DockerRestart => "docker-restart",
        }
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Skipped,
    Failed,
    Manual,
}

/// How a written file is validated before it replaces the old one.
#[derive(Debug, Clone)]
pub enum Validation {
    /// Every wanted option is in effect in the new runc.conf.
    RuncConf(Vec<CriuOption>),
    /// `"experimental": true` in effect (or absent, with the flag), and
    /// where this dockerd can (>= 23.0), `dockerd --validate` with its live flags.
    DaemonJson {
        experimental_flag: bool,
        dockerd: Option<(String, Vec<String>)>,
    },
    /// Plain data files dockpoint writes whole.
    None,
}

/// A write the engine will do when the step is applied.
#[derive(Debug, Clone)]
pub struct PendingWrite {
    /// The host path.
    pub path: String,
    /// The bytes the plan was made from (None: the file did not exist).
    pub old: Option<Vec<u8>>,
    pub new: Vec<u8>,
    pub validation: Validation,
}

/// How CRIU is installed.
#[derive(Debug, Clone)]
pub enum Install {
    /// `apt-get install criu` from the host's own sources. With
    /// `update_first` the candidate is known only after the update: it is
    /// checked against the version policy then, and not installed when it
    /// cannot do the job (unless `anyway`).
    Apt { update_first: bool, anyway: bool },
    /// From one of dockpoint's CRIU sources (already simulated): its key,
    /// `.sources` file and pin are written, only it is updated, then CRIU
    /// is installed without recommends.
    Source(SourceInstall),
    /// Undo: purge the packages dockpoint installed from its sources, then
    /// remove the sources' files.
    RemoveSources(Vec<Present>),
}

/// One of dockpoint's CRIU sources found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    pub stem: &'static str,
    /// Its files present, with their bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// The packages it installed new (its record), still installed.
    pub packages: Vec<String>,
    /// The packages it upgraded, with the version they had before
    /// (`name=version` lines of its record), still installed.
    pub upgraded: Vec<(String, String)>,
}

/// A source install, planned from the simulation.
#[derive(Debug, Clone)]
pub struct SourceInstall {
    pub chosen: crate::criu_sources::Chosen,
    /// The binary key to store (None: a keyring already on the host).
    pub key: Option<Vec<u8>>,
    /// The pin file's text.
    pub pin: String,
    /// What the simulation installs (recorded for the undo: new packages
    /// are purged, upgraded ones downgraded to their version before).
    pub installs: Vec<crate::apt::Inst>,
}

/// How docker is restarted: the command, through the init system that runs it.
#[derive(Debug, Clone)]
pub struct Restart {
    pub command: Vec<&'static str>,
    pub init: crate::docker::Init,
    /// The engine to wait for, and how long (60 s).
    pub api: crate::docker::Api,
    pub wait: std::time::Duration,
    /// What the restart did to the running containers, for the report.
    pub impact: String,
}

/// What applying a step does.
#[derive(Debug, Clone)]
pub enum Action {
    Write(PendingWrite),
    Install(Install),
    Restart(Restart),
}

/// A write that happened: enough to undo it.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: String,
    pub old: Option<Vec<u8>>,
    pub new: Vec<u8>,
}

/// One step of the plan, and after applying, of the report.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub id: StepId,
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What a confirmed repair would do (files dockpoint refused to edit).
    #[serde(skip)]
    pub repair: Option<String>,
    /// The CRIU sources to offer interactively (usable as given).
    #[serde(skip)]
    pub offer_sources: Vec<crate::criu_sources::Name>,
    /// The distro's CRIU was refused by the version policy: offer to
    /// install it anyway, interactively.
    #[serde(skip)]
    pub offer_anyway: bool,
    #[serde(skip)]
    pub written: Option<Written>,
    #[serde(skip)]
    pub action: Option<Action>,
}

impl PlannedStep {
    pub fn new(id: StepId) -> Self {
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
            warnings: Vec::new(),
            repair: None,
            offer_sources: Vec::new(),
            offer_anyway: false,
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
    /// One of [`crate::criu_sources::ROWS`].
    Source(crate::criu_sources::Name),
}

/// What the operator asked for: the flags, and the answers to prompts.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub criu_options: Vec<CriuOption>,
    pub repair_runc: bool,
    pub repair_daemon: bool,
    pub no_install: bool,
    pub no_restart: bool,
    pub criu_source: CriuSource,
    /// Install the distro's CRIU even when the version policy says it
    /// cannot do the whole job here (an explicit `--criu-source distro`, or
    /// "install anyway" answered at the prompt).
    pub install_anyway: bool,
    /// `--criu-base URL`: the download server of the OBS project or the PPA.
    pub criu_base: Option<String>,
    /// `--criu-source URL SUITE COMPONENT...`.
    pub criu_url: Option<crate::criu_sources::UrlSpec>,
    /// `--criu-key FILE|URL`.
    pub criu_key: Option<String>,
    /// `--remove-criu-source`: undo dockpoint's CRIU sources.
    pub remove_sources: bool,
}

impl Flags {
    /// The source asked for, if not the distro's.
    pub fn source(&self) -> Option<crate::criu_sources::Name> {
        match self.criu_source {
            CriuSource::Source(n) => Some(n),
            CriuSource::Distro => None,
        }
    }
}

impl Flags {
    /// The runc.conf options: always `tcp-established`, then the extra ones.
    pub fn runc_options(&self) -> Vec<CriuOption> {
        let mut v = vec![CriuOption::flag("tcp-established")];
        v.extend(
            self.criu_options
                .iter()
                .filter(|o| o.name != "tcp-established")
                .cloned(),
        );
        v
    }
}

/// The step `id` among those planned so far.
pub fn find(steps: &[PlannedStep], id: StepId) -> Option<&PlannedStep> {
    steps.iter().find(|s| s.id == id)
}
