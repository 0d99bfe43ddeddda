//! The one observer of the host, shared by `setup` and `doctor`: every fact
//! (distro, kernel, CRIU and its `criu check`, apt, the docker daemon, the
//! engine's answers, the config files) is gathered once, on first use, and
//! kept. Observing changes nothing.

use crate::apt::{self, Policy};
use crate::criu::{self, Version};
use crate::distro::{self, Distro, Family};
use crate::docker::{self, Api, Daemon};
use crate::host::Host;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// runc passes this file to CRIU on every checkpoint and restore.
pub const RUNC_CONF: &str = "/etc/criu/runc.conf";
/// dockerd's config file unless `--config-file` says otherwise.
pub const DAEMON_JSON: &str = docker::DEFAULT_CONFIG;

/// The running kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// The lowest CRIU that does the whole job on this kernel.
    pub fn min_criu(&self) -> Version {
        criu::minimum_for(self.version, &self.arch)
    }
}

/// Whether this daemon is an installed docker engine: a dockerd runs, or a
/// dockerd binary is there. A unit file or a `docker` client alone is not
/// one. Setup and the doctor both decide by this.
pub fn docker_installed(d: &Daemon) -> bool {
    d.pid.is_some() || d.dockerd.is_some()
}

/// The setup header's docker line on a live host where no docker engine is
/// installed (no running dockerd, no dockerd binary); None otherwise (under
/// --root, or where the header describes the daemon that was found).
pub fn docker_not_installed_line(live: bool, docker: Option<&Daemon>) -> Option<String> {
    (live && !docker.is_some_and(docker_installed)).then(|| {
        "Docker: not installed (no dockerd running, no dockerd binary): nothing to restart; install docker, then re-run dockpoint setup".to_string()
    })
}

/// The lowest CRIU that does the whole job on `kernel` (4.2 when it is
/// unknown, as under --root: images boot on current kernels).
pub fn min_criu(kernel: Option<&Kernel>) -> Version {
    kernel.map_or(Version(4, 2, 0), Kernel::min_criu)
}

/// The installed CRIU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criu {
    pub path: String,
    /// `criu --version` (live hosts only).
    pub version: Option<Version>,
}

/// The verdict of `criu check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriuCheck {
    Passed,
    /// It ran and failed: the first error line.
    Failed(String),
    /// Not run: `criu check` needs root.
    NeedsRoot,
    /// Not run, for the reason given (not installed, under --root, ...).
    NotRun(String),
    /// It could not be run (timed out, could not start).
    Error(String),
}

/// A config file as it was read: its bytes (None: absent), or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFact {
    pub host_path: String,
    pub content: Result<Option<Vec<u8>>, String>,
}

/// The engine's answers over its socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// `GET /_ping`'s Docker-Experimental header, or why there is no answer.
    pub experimental: Result<bool, String>,
    /// `Platform.Name` of `GET /version` (Docker Desktop says so there).
    pub platform: Option<String>,
    /// Names of the running containers.
    pub running: Vec<String>,
    pub live_restore: bool,
}

/// apt on the host (Debian family only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apt {
    /// `apt-cache policy criu`.
    pub policy: Policy,
    /// apt has package lists (else an `apt-get update` comes first).
    pub lists: bool,
    /// An image root where apt can run through chroot.
    pub chroot: bool,
    /// The host's own Debian mirror, from its apt sources.
    pub mirror: Option<String>,
}

/// Facts, each gathered once on first use. Checks of the doctor run
/// concurrently, so every fact is behind a `OnceLock`.
pub struct Observer {
    pub host: Host,
    pub distro: Distro,
    pub kernel: Option<Kernel>,
    /// Whether dockpoint runs as root.
    pub is_root: bool,
    pub timeout: Duration,
    /// The operator chose not to install CRIU (setup --no-install): the
    /// doctor's fixes must not send them to an install they declined.
    pub no_install: bool,
    criu: OnceLock<Option<Criu>>,
    criu_check: OnceLock<CriuCheck>,
    docker: OnceLock<(Option<Daemon>, Vec<String>)>,
    api: OnceLock<Result<Api, String>>,
    version: OnceLock<Result<serde_json::Value, String>>,
    engine: OnceLock<Option<Engine>>,
    apt: OnceLock<Option<Apt>>,
    info: OnceLock<Result<crate::docker::api::Info, String>>,
    containers: std::sync::Mutex<HashMap<String, Arc<OnceLock<Arc<ContainerObs>>>>>,
    leftovers: OnceLock<crate::container::Leftovers>,
}

/// One container's facts, gathered once: the doctor's container checks and
/// the workflow read the same.
#[derive(Debug)]
pub struct ContainerObs {
    pub name: String,
    /// `GET /containers/{name}/json` as docker answered it (the doctor's
    /// older checks read fields the typed form does not carry).
    pub raw: Result<serde_json::Value, String>,
    /// The same answer, typed.
    pub inspect: Result<crate::docker::api::ContainerInspect, String>,
    /// Its processes, sockets, files and memory (running containers only).
    pub facts: Option<crate::container::ContainerFacts>,
    /// The room a checkpoint of it needs, filesystem by filesystem (None:
    /// its memory is unknown).
    pub space: Option<Vec<crate::container::FsNeed>>,
}

impl Observer {
    /// The live host's observer for a workflow command (engine calls
    /// bounded by 30 s); a host that cannot be opened is said, and is the
    /// command's exit.
    pub fn live(term: crate::host::Term) -> Result<Self, crate::exit::Exit> {
        match Host::new(None, Box::new(crate::host::SystemRunner), term) {
            Ok(host) => Ok(Observer::new(host, Duration::from_secs(30))),
            Err(e) => {
                crate::ui::error(&format!("{e:#}"));
                Err(crate::exit::Exit::Failed)
            }
        }
    }

    pub fn new(host: Host, timeout: Duration) -> Self {
        let distro = distro::detect(&host.fs);
        let kernel = if host.live { Kernel::detect() } else { None };
        Observer {
            host,
            distro,
            kernel,
            is_root: nix::unistd::geteuid().is_root(),
            timeout,
            no_install: false,
            criu: OnceLock::new(),
            criu_check: OnceLock::new(),
            docker: OnceLock::new(),
            api: OnceLock::new(),
            version: OnceLock::new(),
            engine: OnceLock::new(),
            apt: OnceLock::new(),
            info: OnceLock::new(),
            containers: std::sync::Mutex::new(HashMap::new()),
            leftovers: OnceLock::new(),
        }
    }

    /// `GET /info`, once.
    pub fn info(&self) -> Result<&crate::docker::api::Info, String> {
        self.info
            .get_or_init(|| self.api()?.info().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// docker's data root (`/info`'s DockerRootDir; /var/lib/docker when
    /// docker does not say).
    pub fn docker_root(&self) -> String {
        self.info()
            .ok()
            .map(|i| i.docker_root_dir.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/var/lib/docker".into())
    }

    /// The engine's version (`/version`'s Version).
    pub fn docker_version(&self) -> Option<String> {
        self.version()
            .ok()
            .and_then(|v| v["Version"].as_str().map(str::to_owned))
    }

    /// Leftover `/tmp/ctrd-checkpoint*` directories, once.
    pub fn leftovers(&self) -> &crate::container::Leftovers {
        self.leftovers.get_or_init(|| {
            crate::container::observe_leftovers(
                &self.host,
                crate::container::DEFAULT_TMP,
                crate::container::MAX_WALK,
            )
        })
    }

    /// One container's facts, gathered once however many checks ask.
    pub fn container(&self, name: &str) -> Arc<ContainerObs> {
        let cell = {
            let mut m = self
                .containers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            m.entry(name.to_string()).or_default().clone()
        };
        cell.get_or_init(|| Arc::new(self.gather_container(name)))
            .clone()
    }

    fn gather_container(&self, name: &str) -> ContainerObs {
        use crate::container as c;
        // One request, read both ways.
        let raw = self.api().and_then(|a| {
            a.json(&format!("/containers/{name}/json"))
                .map_err(|e| format!("cannot inspect container {name}: {e:#}"))
        });
        let inspect: Result<crate::docker::api::ContainerInspect, String> =
            raw.clone().and_then(|v| {
                serde_json::from_value(v).map_err(|e| {
                    format!(
                        "cannot inspect container {name}: the answer is not the JSON expected ({e})"
                    )
                })
            });
        let facts = inspect
            .as_ref()
            .ok()
            .filter(|i| i.state.running && i.state.pid > 0)
            .map(|i| c::observe(&self.host, i.state.pid as i32));
        let space = facts
            .as_ref()
            .and_then(|f| f.memory.estimate())
            .map(|bytes| {
                let root = self.docker_root();
                let places = c::Places {
                    containerd_root: c::containerd_root_guess(&self.host, &root),
                    ..c::Places::new(&root)
                };
                c::plan_space(
                    &c::space_needed(bytes),
                    &c::observe_space(&self.host, &places),
                )
            });
        ContainerObs {
            name: name.to_string(),
            raw,
            inspect,
            facts,
            space,
        }
    }

    /// The lowest CRIU that does the whole job here (4.2 when the kernel is
    /// unknown, as under --root: images boot on current kernels).
    pub fn min_criu(&self) -> Version {
        min_criu(self.kernel.as_ref())
    }

    /// The CRIU binary and (live) its version.
    pub fn criu(&self) -> Option<&Criu> {
        self.criu
            .get_or_init(|| {
                criu::find_installed(&self.host, self.timeout)
                    .map(|(path, version)| Criu { path, version })
            })
            .as_ref()
    }

    /// `criu check`: run once, as root, on a live host only.
    pub fn criu_check(&self) -> &CriuCheck {
        self.criu_check.get_or_init(|| {
            let Some(c) = self.criu() else {
                return CriuCheck::NotRun("CRIU is not installed".into());
            };
            if !self.host.live {
                return CriuCheck::NotRun(
                    "--root: criu check tests the running kernel, not the image's".into(),
                );
            }
            if !self.is_root {
                return CriuCheck::NeedsRoot;
            }
            match criu::run_check(&self.host, &c.path, self.timeout) {
                Ok(Ok(())) => CriuCheck::Passed,
                Ok(Err(line)) => CriuCheck::Failed(line),
                Err(e) => CriuCheck::Error(format!("{e:#}")),
            }
        })
    }

    fn discovery(&self) -> &(Option<Daemon>, Vec<String>) {
        self.docker.get_or_init(|| {
            if !self.host.live {
                return (None, Vec::new());
            }
            let found = docker::discover_with_notes(&self.host);
            let d = found.daemon;
            (docker_installed(&d).then_some(d), found.notes)
        })
    }

    /// The docker daemon of this host (live hosts only): only a dockerd in
    /// dockpoint's own pid and mount namespaces counts.
    pub fn docker(&self) -> Option<&Daemon> {
        self.discovery().0.as_ref()
    }

    /// What docker discovery skipped or could not learn.
    pub fn docker_notes(&self) -> Vec<String> {
        self.discovery().1.clone()
    }

    /// Use this engine API (tests: a fake engine).
    pub fn with_api(self, api: Api) -> Self {
        let _ = self.api.set(Ok(api));
        self
    }

    /// The engine API client (live hosts only), or why there is none.
    pub fn api(&self) -> Result<&Api, String> {
        self.api
            .get_or_init(|| {
                if !self.host.live {
                    return Err("--root: no live docker".into());
                }
                let mut api = Api::for_host(&self.host);
                api.timeout = self.timeout.min(Duration::from_secs(5));
                Ok(api)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// `GET /version`, once.
    pub fn version(&self) -> Result<serde_json::Value, String> {
        self.version
            .get_or_init(|| self.api()?.json("/version").map_err(|e| format!("{e:#}")))
            .clone()
    }

    /// What the engine says (live hosts with docker only).
    pub fn engine(&self) -> Option<&Engine> {
        self.engine
            .get_or_init(|| {
                let api = self.api().ok()?;
                let experimental = api.experimental().map_err(|e| format!("{e:#}"));
                let answers = experimental.is_ok();
                Some(Engine {
                    experimental,
                    platform: self
                        .version()
                        .ok()
                        .and_then(|v| v["Platform"]["Name"].as_str().map(str::to_owned)),
                    running: if answers {
                        api.running_containers().unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                    live_restore: answers
                        && api
                            .json("/info")
                            .ok()
                            .and_then(|i| i["LiveRestoreEnabled"].as_bool())
                            .unwrap_or(false),
                })
            })
            .as_ref()
    }

    /// apt, on Debian-family hosts that have it.
    pub fn apt(&self) -> Option<&Apt> {
        self.apt
            .get_or_init(|| {
                if self.distro.family != Family::Debian || !apt::has_apt(&self.host) {
                    return None;
                }
                let chroot = apt::can_chroot(&self.host);
                let policy = if self.host.live || chroot {
                    apt::policy(&self.host, "criu", &[]).unwrap_or_default()
                } else {
                    Policy::default()
                };
                Some(Apt {
                    policy,
                    lists: has_apt_lists(&self.host),
                    chroot,
                    mirror: debian_mirror(&self.host),
                })
            })
            .as_ref()
    }

    /// A config file, read now (bounded, regular files only).
    pub fn file(&self, abs: &str) -> FileFact {
        FileFact {
            host_path: abs.to_string(),
            content: self
                .host
                .fs
                .read(abs, crate::rootfs::CONFIG_LIMIT)
                .map_err(|e| format!("{e:#}")),
        }
    }

    /// The daemon.json dockerd reads here (`--config-file` may move it).
    pub fn daemon_json_path(&self) -> String {
        self.docker()
            .map_or_else(|| DAEMON_JSON.to_string(), |d| d.config_file.clone())
    }
}

/// The suffixes apt stores package lists with: plain, or compressed as
/// `Acquire::GzipIndexes` / `Acquire::CompressionTypes::Order` leave them
/// (apt-get update keeps `*_Packages.lz4` on some cloud images).
const LIST_SUFFIXES: &[&str] = &[
    "_Packages",
    "_Packages.lz4",
    "_Packages.gz",
    "_Packages.xz",
    "_Packages.zst",
    "_Packages.bz2",
    "_Packages.lzma",
];

/// Whether apt has package lists (else `apt-get update` must come first).
pub fn has_apt_lists(host: &Host) -> bool {
    host.fs
        .read_dir("/var/lib/apt/lists")
        .map(|names| {
            names
                .iter()
                .any(|n| LIST_SUFFIXES.iter().any(|s| n.ends_with(s)))
        })
        .unwrap_or(false)
}

/// The host's own Debian mirror, from its apt sources (never a built-in one).
pub fn debian_mirror(host: &Host) -> Option<String> {
    let mut texts: Vec<String> = Vec::new();
    for f in host
        .fs
        .read_dir("/etc/apt/sources.list.d")
        .unwrap_or_default()
    {
        if f.contains("dockpoint") {
            continue;
        }
        if let Some(t) = host.fs.read_quiet(&format!("/etc/apt/sources.list.d/{f}")) {
            texts.push(t);
        }
    }
    if let Some(t) = host.fs.read_quiet("/etc/apt/sources.list") {
        texts.push(t);
    }
    texts.iter().flat_map(|t| t.lines()).find_map(|l| {
        let l = l.trim();
        let uri = if let Some(rest) = l.strip_prefix("URIs:") {
            rest.split_whitespace().next()
        } else if l.starts_with("deb ") {
            l.split_whitespace().skip(1).find(|w| !w.starts_with('['))
        } else {
            None
        }?;
        let uri = uri.trim_end_matches('/');
        (uri.ends_with("/debian") && uri.starts_with("http")).then(|| uri.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{RecordingRunner, Term};
    use crate::rootfs::Root;

    fn host_with_lists(names: &[&str]) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        let lists = dir.path().join("var/lib/apt/lists");
        std::fs::create_dir_all(lists.join("partial")).unwrap();
        for n in names {
            std::fs::write(lists.join(n), "").unwrap();
        }
        let host = Host {
            fs: Root::open(dir.path()).unwrap(),
            live: false,
            runner: Box::new(RecordingRunner::default()),
            term: Term::plain(),
        };
        (dir, host)
    }

    #[test]
    fn compressed_package_lists_count_as_lists() {
        for name in [
            "deb.example_debian_dists_bookworm_main_binary-amd64_Packages",
            "deb.example_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
            "deb.example_debian_dists_bookworm_main_binary-amd64_Packages.gz",
            "deb.example_debian_dists_bookworm_main_binary-amd64_Packages.xz",
            "deb.example_debian_dists_bookworm_main_binary-amd64_Packages.zst",
            "deb.example_debian_dists_bookworm_main_binary-amd64_Packages.bz2",
        ] {
            let (_dir, host) = host_with_lists(&["lock", name]);
            assert!(has_apt_lists(&host), "{name}");
        }
    }

    #[test]
    fn no_package_lists_means_an_update_first() {
        // Only the lock, partial/ and the Release files: no package lists.
        let (_dir, host) = host_with_lists(&[
            "lock",
            "deb.example_debian_dists_bookworm_InRelease",
            "deb.example_debian_dists_bookworm_main_i18n_Translation-en.lz4",
        ]);
        assert!(!has_apt_lists(&host));
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            fs: Root::open(dir.path()).unwrap(),
            live: false,
            runner: Box::new(RecordingRunner::default()),
            term: Term::plain(),
        };
        assert!(!has_apt_lists(&host), "no lists directory at all");
    }
}
