//! The Engine API's answers dockpoint reads, typed: only the fields the
//! checks and the checkpoint workflow use. Unknown fields are ignored; a
//! field docker always sends is required, so an answer without it is a
//! protocol error naming the field rather than a silent default. Lists
//! docker may send as `null` (a nil Go slice) read as empty.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// `null` as the type's default (`[]` for a list).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Docker's RFC 3339 times; its zero time (`0001-01-01T00:00:00Z`, never
/// started or never finished) is None.
fn docker_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    if s.is_empty() || s.starts_with("0001-01-01") {
        return Ok(None);
    }
    s.parse::<Timestamp>()
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("bad time `{s}`: {e}")))
}

/// What `GET /_ping` says in its headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    /// `Api-Version`.
    pub api_version: Option<String>,
    /// `Docker-Experimental`: None when the engine sends no such header.
    pub experimental: Option<bool>,
    /// `Server`: `Docker/26.1.5 (linux)`.
    pub server: Option<String>,
}

/// `GET /version`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    pub version: String,
    pub api_version: String,
    /// Present (and true) only when experimental is on.
    #[serde(default)]
    pub experimental: bool,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default, deserialize_with = "null_default")]
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Platform {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Component {
    pub name: String,
    pub version: String,
}

impl Version {
    /// A component's version: `containerd`, `runc`, `docker-init`.
    pub fn component(&self, name: &str) -> Option<&str> {
        self.components
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .map(|c| c.version.as_str())
    }
}

/// `GET /info`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    /// `/var/lib/docker`: checkpoints live under its `containers/<id>/checkpoints`.
    pub docker_root_dir: String,
    /// The storage driver: `overlay2`, `vfs`, `btrfs`...
    pub driver: String,
    pub experimental_build: bool,
    #[serde(default)]
    pub live_restore_enabled: bool,
    #[serde(default)]
    pub server_version: String,
}

/// A container's `State.Status` (and the list's `State`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ContainerStatus {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    /// A status this version of dockpoint does not know, verbatim.
    Other(String),
}

impl From<String> for ContainerStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "removing" => Self::Removing,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            _ => Self::Other(s),
        }
    }
}

impl ContainerStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Restarting => "restarting",
            Self::Removing => "removing",
            Self::Exited => "exited",
            Self::Dead => "dead",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub names: Vec<String>,
    pub state: ContainerStatus,
}

impl ContainerSummary {
    /// The first name, without docker's leading `/`.
    pub fn name(&self) -> Option<&str> {
        self.names.first().map(|n| n.trim_start_matches('/'))
    }
}

/// `GET /containers/{id}/json`, the fields the workflow reads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    pub id: String,
    /// `/bela`: see [`ContainerInspect::name`].
    #[serde(rename = "Name")]
    pub raw_name: String,
    pub state: ContainerState,
    pub host_config: HostConfig,
    pub config: ContainerConfig,
    #[serde(default, deserialize_with = "null_default")]
    pub mounts: Vec<Mount>,
    /// The image it runs (`sha256:...`).
    #[serde(default)]
    pub image: String,
    /// Where the container's own files are (overlay2: `UpperDir`,
    /// `LowerDir`), read while it is stopped.
    #[serde(default, deserialize_with = "null_default")]
    pub graph_driver: GraphDriver,
}

/// `GraphDriver`: the storage driver and its directories.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub data: std::collections::BTreeMap<String, String>,
}

impl ContainerInspect {
    /// The name without docker's leading `/`.
    pub fn name(&self) -> &str {
        self.raw_name.trim_start_matches('/')
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    pub status: ContainerStatus,
    pub running: bool,
    /// The container's init process on the host; 0 when it is not running.
    pub pid: u32,
    #[serde(deserialize_with = "docker_time")]
    pub started_at: Option<Timestamp>,
    #[serde(deserialize_with = "docker_time")]
    pub finished_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// `docker run --rm`.
    #[serde(default)]
    pub auto_remove: bool,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    #[serde(default, deserialize_with = "null_default")]
    pub network_mode: NetworkMode,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    #[serde(default, deserialize_with = "null_default")]
    pub name: RestartPolicyName,
}

/// `HostConfig.RestartPolicy.Name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum RestartPolicyName {
    /// `no`, or empty.
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure,
    Other(String),
}

impl From<String> for RestartPolicyName {
    fn from(s: String) -> Self {
        match s.as_str() {
            "" | "no" => Self::No,
            "always" => Self::Always,
            "unless-stopped" => Self::UnlessStopped,
            "on-failure" => Self::OnFailure,
            _ => Self::Other(s),
        }
    }
}

impl fmt::Display for RestartPolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::No => f.write_str("no"),
            Self::Always => f.write_str("always"),
            Self::UnlessStopped => f.write_str("unless-stopped"),
            Self::OnFailure => f.write_str("on-failure"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

impl RestartPolicyName {
    pub fn as_str(&self) -> &str {
        match self {
            Self::No => "no",
            Self::Always => "always",
            Self::UnlessStopped => "unless-stopped",
            Self::OnFailure => "on-failure",
            Self::Other(s) => s,
        }
    }

    /// Docker may start the container by itself (after it exits, at boot).
    pub fn restarts(&self) -> bool {
        !matches!(self, Self::No)
    }
}

/// `HostConfig.NetworkMode`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum NetworkMode {
    /// `default` (bridge on Linux), or empty.
    #[default]
    Default,
    Bridge,
    Host,
    None,
    /// `container:<name or id>`: another container's network namespace.
    Container(String),
    /// A user-defined network.
    Named(String),
}

impl From<String> for NetworkMode {
    fn from(s: String) -> Self {
        match s.as_str() {
            "" | "default" => Self::Default,
            "bridge" => Self::Bridge,
            "host" => Self::Host,
            "none" => Self::None,
            _ => match s.strip_prefix("container:") {
                Some(c) => Self::Container(c.to_string()),
                None => Self::Named(s),
            },
        }
    }
}

impl NetworkMode {
    /// Docker creates a network namespace of the container's own (every
    /// mode but `host` and `container:`): restore fails there on Docker >= 28.
    pub fn private_netns(&self) -> bool {
        !matches!(self, Self::Host | Self::Container(_))
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::Bridge => f.write_str("bridge"),
            Self::Host => f.write_str("host"),
            Self::None => f.write_str("none"),
            Self::Container(c) => write!(f, "container:{c}"),
            Self::Named(n) => f.write_str(n),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `docker run -t`.
    #[serde(default)]
    pub tty: bool,
    /// `docker run -i`.
    #[serde(default)]
    pub open_stdin: bool,
    /// Created through the API with `"NetworkDisabled": true`: no network
    /// namespace is joined at restore.
    #[serde(default)]
    pub network_disabled: bool,
}

/// One of `Mounts`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Mount {
    /// `bind`, `volume`, `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: Option<String>,
    /// The host path (empty for tmpfs).
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(rename = "RW", default)]
    pub rw: bool,
}

/// `GET /containers/{id}/checkpoints` entries.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CheckpointSummary {
    pub name: String,
}

/// `POST /containers/{id}/checkpoints` body.
#[derive(Debug, Clone, Serialize)]
pub(super) struct CheckpointCreate<'a> {
    #[serde(rename = "CheckpointID")]
    pub checkpoint_id: &'a str,
    #[serde(rename = "Exit")]
    pub exit: bool,
}

/// What `POST /containers/{id}/start` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// 204: started (restored, with a checkpoint).
    Started,
    /// 304: it was already running, and nothing was done. With a
    /// checkpoint this means nothing was restored.
    AlreadyRunning,
}

/// What `POST /containers/{id}/stop` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// 204.
    Stopped,
    /// 304: it was not running.
    AlreadyStopped,
}
