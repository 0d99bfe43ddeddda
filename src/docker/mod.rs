//! The live docker daemon: which one is this host's (only a dockerd in
//! dockpoint's own pid and mount namespaces counts), which flags it runs
//! with and where they come from, which config file it reads, which init
//! system manages it (systemd is asked, not second-guessed); and the Engine
//! API over its unix socket, with a time bound on every call.
//!
//! - [`api`]: the Engine API client, DOCKER_HOST, typed errors.
//! - [`unit`]: docker.service from `systemctl show`, or its files by hand.
//! - [`procs`]: observing processes and choosing this host's dockerd.

pub mod api;
pub mod procs;
pub mod unit;

pub use api::{Api, ApiError, DEFAULT_SOCKET, Response, api_error, parse_response, wait_for_api};
pub use procs::{Choice, Ns, ProcInfo, choose_dockerd};
pub use unit::{
    ExecCommand, UnitInfo, exec_start, exec_start_command, parse_exec_start_line,
    parse_systemctl_show,
};

use crate::host::Host;

pub const DEFAULT_CONFIG: &str = "/etc/docker/daemon.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Systemd,
    SysV,
    OpenRc,
    /// A dockerd no init system manages (started by hand, a container, WSL).
    Unmanaged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rootful,
    Rootless,
    Snap,
}

/// What dockpoint knows about the host's docker daemon.
#[derive(Debug, Clone)]
pub struct Daemon {
    /// This host's running dockerd (in dockpoint's own namespaces).
    pub pid: Option<i32>,
    /// The live command line (argv[0] first), or the configured one.
    pub argv: Vec<String>,
    /// The daemon.json it reads (a host path).
    pub config_file: String,
    /// Where an `--experimental` flag comes from, if any: `ExecStart of
    /// docker.service (drop-in /etc/...)`, `DOCKER_OPTS in /etc/default/docker`, ...
    pub experimental_flag: Option<String>,
    pub kind: Kind,
    pub init: Init,
    /// The dockerd binary to validate a candidate config with.
    pub dockerd: Option<String>,
}

/// The daemon, and what discovery passed over or could not learn, one
/// sentence each (another namespace's dockerd, systemctl not answering, a
/// masked unit, a pending daemon-reload): worth showing to the user.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub daemon: Daemon,
    pub notes: Vec<String>,
}

/// Flags of interest in a dockerd argument list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub experimental: bool,
    pub config_file: Option<String>,
}

/// A boolean flag's value as dockerd's flag parser (Go's ParseBool) reads it.
fn flag_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

pub fn parse_flags<S: AsRef<str>>(args: &[S]) -> Flags {
    let mut f = Flags::default();
    let mut it = args.iter().map(AsRef::as_ref);
    while let Some(a) = it.next() {
        if a == "--experimental" {
            f.experimental = true;
        } else if let Some(v) = a.strip_prefix("--experimental=") {
            f.experimental = flag_bool(v).unwrap_or(false);
        } else if a == "--config-file" {
            f.config_file = it.next().map(str::to_owned);
        } else if let Some(p) = a.strip_prefix("--config-file=") {
            f.config_file = Some(p.to_owned());
        }
    }
    f
}

/// `DOCKER_OPTS="..."` from a shell-style defaults file.
pub fn docker_opts(text: &str) -> Option<Vec<String>> {
    let fields = crate::distro::parse(text);
    fields.get("DOCKER_OPTS").and_then(|v| shlex::split(v))
}

/// The file systemd units and the SysV script read DOCKER_OPTS from.
const DEFAULTS_FILE: &str = "/etc/default/docker";
/// OpenRC's.
const CONFD_FILE: &str = "/etc/conf.d/docker";

/// Substitute `$DOCKER_OPTS` (split into words) and `${DOCKER_OPTS}` (one
/// word), as systemd does in `ExecStart=`. The bool: it was referenced.
fn expand_docker_opts(line: &[String], opts: &[String]) -> (Vec<String>, bool) {
    let mut used = false;
    let mut out = Vec::new();
    for w in line {
        match w.as_str() {
            "$DOCKER_OPTS" => {
                used = true;
                out.extend(opts.iter().cloned());
            }
            "${DOCKER_OPTS}" => {
                used = true;
                if !opts.is_empty() {
                    out.push(opts.join(" "));
                }
            }
            _ => out.push(w.clone()),
        }
    }
    (out, used)
}

/// What discovery observed of the live system; everything else is read
/// through `host.fs`. [`discover`] fills it; tests build it by hand.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// dockpoint's own namespaces.
    pub me: Ns,
    /// Visible processes named dockerd, and systemd's MainPID.
    pub procs: Vec<ProcInfo>,
    /// `systemctl show docker.service`: None when not asked (no
    /// /run/systemd/system), else its answer or why there was none.
    pub systemd: Option<Result<UnitInfo, String>>,
}

/// Observe the live system: systemd first (its MainPID joins the candidates).
pub fn observe(host: &Host) -> Observed {
    let systemd = host
        .fs
        .is_dir("/run/systemd/system")
        .then(|| unit::systemctl_show(host));
    let main_pid = systemd
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .and_then(|u| u.main_pid);
    let (me, procs) = procs::observe(host, main_pid);
    Observed { me, procs, systemd }
}

/// Discover the daemon. Processes and systemd are the live system's: with
/// `--root` only the files are read.
pub fn discover(host: &Host) -> Daemon {
    discover_with_notes(host).daemon
}

/// [`discover`], with the notes on what was passed over.
pub fn discover_with_notes(host: &Host) -> Discovery {
    let seen = if host.live {
        observe(host)
    } else {
        Observed::default()
    };
    from_observed(host, &seen)
}

/// How docker is started: the init system, and under systemd the dockerd
/// command with where it is configured.
struct Managed {
    init: Init,
    exec: Option<(ExecCommand, String)>,
}

fn exec_label(file: Option<&str>, fragment: Option<&str>) -> String {
    match file {
        Some(f) if Some(f) == fragment => format!("ExecStart of {} ({f})", unit::UNIT),
        Some(f) => format!("ExecStart of {} (drop-in {f})", unit::UNIT),
        None => format!("ExecStart of {}", unit::UNIT),
    }
}

fn managed_by(host: &Host, seen: &Observed, notes: &mut Vec<String>) -> Managed {
    if host.fs.is_dir("/run/systemd/system") {
        match &seen.systemd {
            Some(Ok(u)) if u.loaded() => {
                // systemd's own effective ExecStart; the files only say
                // which one set it.
                let files: Vec<(String, String)> = u
                    .files()
                    .into_iter()
                    .filter_map(|p| host.fs.read_quiet(&p).map(|t| (p, t)))
                    .collect();
                let on_disk = unit::exec_start_command(&files);
                let exec = match (u.dockerd_command(), on_disk) {
                    (Some(c), Some((d, file))) => {
                        let same = c.path == d.path && c.argv.join(" ") == d.argv.join(" ");
                        if !same {
                            notes.push(format!(
                                "the ExecStart in {file} differs from the one systemd has loaded (`systemctl daemon-reload` pending?): the loaded one is used"
                            ));
                        }
                        let file = same.then_some(file);
                        Some((
                            c.clone(),
                            exec_label(file.as_deref(), u.fragment_path.as_deref()),
                        ))
                    }
                    (Some(c), None) => Some((c.clone(), exec_label(None, None))),
                    (None, Some((d, file))) => {
                        Some((d, exec_label(Some(&file), u.fragment_path.as_deref())))
                    }
                    (None, None) => None,
                };
                return Managed {
                    init: Init::Systemd,
                    exec,
                };
            }
            // systemd answered: there is no docker.service it can start.
            Some(Ok(u)) => {
                if u.load_state == "masked" {
                    notes.push(format!(
                        "{} is masked: systemd will not start docker (`systemctl unmask docker`)",
                        unit::UNIT
                    ));
                }
            }
            other => {
                let files = unit::unit_files(host);
                if !files.is_empty() {
                    if let Some(Err(e)) = other {
                        notes.push(format!(
                            "systemctl did not answer ({e}): docker.service was read from its files"
                        ));
                    }
                    let fragment = files
                        .first()
                        .map(|(p, _)| p.as_str())
                        .filter(|p| p.ends_with(&format!("/{}", unit::UNIT)));
                    let exec = unit::exec_start_command(&files)
                        .map(|(c, f)| (c, exec_label(Some(&f), fragment)));
                    return Managed {
                        init: Init::Systemd,
                        exec,
                    };
                }
            }
        }
    }
    let init = match host.fs.read_quiet("/etc/init.d/docker") {
        Some(script) if script.starts_with("#!/sbin/openrc-run") => Init::OpenRc,
        Some(_) => Init::SysV,
        None => Init::Unmanaged,
    };
    Managed { init, exec: None }
}

/// The daemon, from what was observed and the host's files.
pub fn from_observed(host: &Host, seen: &Observed) -> Discovery {
    let mut notes = Vec::new();
    let main_pid = seen
        .systemd
        .as_ref()
        .and_then(|r| r.as_ref().ok())
        .filter(|u| u.loaded())
        .and_then(|u| u.main_pid);
    let choice = choose_dockerd(&seen.procs, &seen.me, main_pid);
    notes.extend(choice.notes);
    let live = choice
        .pid
        .and_then(|p| seen.procs.iter().find(|q| q.pid == p))
        .filter(|p| !p.argv.is_empty());
    let managed = managed_by(host, seen, &mut notes);
    let known_dockerd = [
        "/usr/bin/dockerd",
        "/usr/sbin/dockerd",
        "/usr/local/bin/dockerd",
    ]
    .into_iter()
    .find(|p| host.fs.exists(p))
    .map(str::to_owned);

    // Where flags are configured, and the command line that starts docker.
    let mut sources: Vec<(String, Vec<String>)> = Vec::new();
    let configured: Vec<String> = match (&managed.init, &managed.exec) {
        (Init::Systemd, Some((cmd, label))) => {
            let line = cmd.command_line();
            let opts = host
                .fs
                .read_quiet(DEFAULTS_FILE)
                .and_then(|t| docker_opts(&t))
                .unwrap_or_default();
            let (expanded, used) = expand_docker_opts(&line, &opts);
            sources.push((label.clone(), line));
            if used && !opts.is_empty() {
                sources.push((format!("DOCKER_OPTS in {DEFAULTS_FILE}"), opts));
            }
            expanded
        }
        (Init::SysV | Init::OpenRc, _) => {
            let f = if managed.init == Init::SysV {
                DEFAULTS_FILE
            } else {
                CONFD_FILE
            };
            let opts = host
                .fs
                .read_quiet(f)
                .and_then(|t| docker_opts(&t))
                .unwrap_or_default();
            if !opts.is_empty() {
                sources.push((format!("DOCKER_OPTS in {f}"), opts.clone()));
            }
            std::iter::once(known_dockerd.clone().unwrap_or_else(|| "dockerd".into()))
                .chain(opts)
                .collect()
        }
        _ => Vec::new(),
    };
    let argv = live.map(|p| p.argv.clone()).unwrap_or(configured.clone());
    let flags = parse_flags(&argv);
    let live_exp = live.is_some_and(|p| parse_flags(&p.argv).experimental);
    let configured_exp = parse_flags(&configured).experimental;
    let experimental_flag = (flags.experimental || configured_exp).then(|| {
        sources
            .iter()
            .find(|(_, a)| parse_flags(a).experimental)
            .map(|(w, _)| w.clone())
            .unwrap_or_else(|| match live {
                Some(p) => format!("the command line of dockerd pid {}", p.pid),
                None => "the dockerd command line".into(),
            })
    });
    if let Some(p) = live
        && configured_exp
        && !live_exp
    {
        notes.push(format!(
            "dockerd pid {} runs without --experimental, but {} has it: docker was not restarted since",
            p.pid,
            experimental_flag.as_deref().unwrap_or("its configuration")
        ));
    }
    let argv0 = argv.first().cloned().unwrap_or_default();
    let kind = if argv0.starts_with("/snap/") {
        Kind::Snap
    } else if live.is_some_and(|p| p.uid.is_some_and(|u| u != 0)) {
        Kind::Rootless
    } else {
        Kind::Rootful
    };
    let exists = |p: &String| p.starts_with('/') && host.fs.exists(p);
    let dockerd = live
        .and_then(|p| p.argv.first())
        .filter(|p| exists(p))
        .or(managed
            .exec
            .as_ref()
            .map(|(c, _)| &c.path)
            .filter(|p| exists(p)))
        .cloned()
        .or(known_dockerd);
    Discovery {
        daemon: Daemon {
            pid: choice.pid,
            config_file: flags
                .config_file
                .clone()
                .unwrap_or_else(|| DEFAULT_CONFIG.into()),
            argv,
            experimental_flag,
            kind,
            init: managed.init,
            dockerd,
        },
        notes,
    }
}

impl Daemon {
    /// The live flags to validate a candidate config with (without the config file).
    pub fn flags_for_validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut it = self.argv.iter().skip(1);
        while let Some(a) = it.next() {
            if a == "--config-file" {
                it.next();
            } else if !a.starts_with("--config-file=") {
                out.push(a.clone());
            }
        }
        out
    }

    /// The command that restarts docker through its init system.
    pub fn restart_command(&self) -> Option<Vec<&'static str>> {
        match self.init {
            Init::Systemd => Some(vec!["systemctl", "restart", "docker"]),
            Init::SysV => Some(vec!["service", "docker", "restart"]),
            Init::OpenRc => Some(vec!["rc-service", "docker", "restart"]),
            Init::Unmanaged => None,
        }
    }

    pub fn describe_kind(&self) -> Option<String> {
        match self.kind {
            Kind::Rootful => None,
            Kind::Rootless => Some("rootless docker: its daemon.json is ~/.config/docker/daemon.json of the user running it, and CRIU needs privileges rootless docker does not have; checkpoints are not supported there".into()),
            Kind::Snap => Some("snap docker: it reads /var/snap/docker/current/config/daemon.json and restarts with `snap restart docker`".into()),
        }
    }
}

/// The tail of the daemon's log: the journal under systemd, else its log file.
pub fn log_tail(host: &Host, d: &Daemon, n: usize) -> String {
    use crate::host::Cmd;
    if d.init == Init::Systemd {
        let unit = if d.kind == Kind::Snap {
            "snap.docker.dockerd"
        } else {
            "docker"
        };
        let cmd = Cmd::new(
            "journalctl",
            &[
                "-u",
                unit,
                "-n",
                &n.to_string(),
                "--no-pager",
                "-o",
                "short-iso",
            ],
        );
        if let Ok(out) = host.run(&cmd) {
            return out.stdout.trim_end().to_string();
        }
    }
    for f in ["/var/log/docker.log", "/var/log/docker/docker.log"] {
        if let Some(t) = host.fs.read_tail(f, 256 << 10) {
            let lines: Vec<&str> = t.lines().collect();
            return lines[lines.len().saturating_sub(n)..].join("\n");
        }
    }
    String::from("(no docker log found)")
}

#[cfg(test)]
mod tests;
