//! The live docker daemon: where it is, which flags it runs with and where
//! they come from, which config file it reads, which init system manages
//! it; and the Engine API over its unix socket, with a timeout on every call.

use crate::host::Host;
use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

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
    pub pid: Option<i32>,
    /// The live command line (argv[0] first), or the configured one.
    pub argv: Vec<String>,
    /// The daemon.json it reads (a host path).
    pub config_file: String,
    /// Where an `--experimental` flag comes from, if any.
    pub experimental_flag: Option<String>,
    pub kind: Kind,
    pub init: Init,
    /// The dockerd binary to validate a candidate config with.
    pub dockerd: Option<String>,
}

/// Flags of interest in a dockerd argument list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub experimental: bool,
    pub config_file: Option<String>,
}

pub fn parse_flags<S: AsRef<str>>(args: &[S]) -> Flags {
    let mut f = Flags::default();
    let mut it = args.iter().map(AsRef::as_ref).peekable();
    while let Some(a) = it.next() {
        match a {
            "--experimental" | "--experimental=true" => f.experimental = true,
            "--experimental=false" => f.experimental = false,
            "--config-file" => f.config_file = it.next().map(str::to_owned),
            _ => {
                if let Some(p) = a.strip_prefix("--config-file=") {
                    f.config_file = Some(p.to_owned());
                }
            }
        }
    }
    f
}

/// The effective `ExecStart=` of a unit and its drop-ins, in order (an
/// empty `ExecStart=` resets), with the file it came from.
pub fn exec_start(files: &[(String, String)]) -> Option<(String, String)> {
    let mut cur: Option<(String, String)> = None;
    for (path, text) in files {
        let mut in_service = false;
        for line in text.lines() {
            let l = line.trim();
            if l.starts_with('[') {
                in_service = l == "[Service]";
                continue;
            }
            if !in_service {
                continue;
            }
            if let Some(v) = l.strip_prefix("ExecStart=") {
                let v = v.trim();
                cur = (!v.is_empty()).then(|| (v.to_string(), path.clone()));
            }
        }
    }
    cur
}

/// `DOCKER_OPTS="..."` from a shell-style defaults file.
pub fn docker_opts(text: &str) -> Option<Vec<String>> {
    let fields = crate::distro::parse(text);
    fields.get("DOCKER_OPTS").and_then(|v| shlex::split(v))
}

fn read(host: &Host, abs: &str) -> Option<String> {
    host.fs.read_quiet(abs)
}

/// The unit file and drop-ins of docker.service, in systemd's order: the
/// unit from /etc overrides the packaged one; drop-ins follow, by name.
fn unit_files(host: &Host) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = [
        "/etc/systemd/system/docker.service",
        "/lib/systemd/system/docker.service",
        "/usr/lib/systemd/system/docker.service",
    ]
    .iter()
    .find_map(|p| read(host, p).map(|t| (p.to_string(), t)))
    .into_iter()
    .collect();
    let mut drop_ins: Vec<(String, String)> = Vec::new();
    for dir in [
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
        "/run/systemd/system",
        "/etc/systemd/system",
    ] {
        let d = format!("{dir}/docker.service.d");
        for name in host.fs.read_dir(&d).unwrap_or_default() {
            let p = format!("{d}/{name}");
            if let (true, Some(t)) = (name.ends_with(".conf"), read(host, &p)) {
                // A later directory's file of the same name overrides.
                drop_ins.retain(|(q, _)| !q.ends_with(&format!("/{name}")));
                drop_ins.push((p, t));
            }
        }
    }
    drop_ins.sort_by(|a, b| a.0.rsplit('/').next().cmp(&b.0.rsplit('/').next()));
    out.extend(drop_ins);
    out
}

/// The running dockerd: the oldest process named `dockerd`, preferring root's.
fn find_pid(host: &Host) -> Option<i32> {
    let mut found: Vec<(u32, i32)> = host
        .fs
        .read_dir("/proc")
        .ok()?
        .into_iter()
        .filter_map(|name| {
            let pid: i32 = name.parse().ok()?;
            let comm = host.fs.read_quiet(&format!("/proc/{pid}/comm"))?;
            let uid = host
                .fs
                .stat(&format!("/proc/{pid}"))
                .map_or(0, |s| s.st_uid);
            (comm.trim() == "dockerd").then_some((uid, pid))
        })
        .collect();
    found.sort();
    found.first().map(|(_, pid)| *pid)
}

fn detect_init(host: &Host) -> Init {
    let systemd = host.fs.is_dir("/run/systemd/system");
    if systemd && !unit_files(host).is_empty() {
        return Init::Systemd;
    }
    if let Some(script) = read(host, "/etc/init.d/docker") {
        return if script.starts_with("#!/sbin/openrc-run") {
            Init::OpenRc
        } else {
            Init::SysV
        };
    }
    Init::Unmanaged
}

/// Discover the daemon (live host only).
pub fn discover(host: &Host) -> Daemon {
    let pid = find_pid(host);
    let live_argv: Option<Vec<String>> = pid.and_then(|p| {
        let raw = host
            .fs
            .read(&format!("/proc/{p}/cmdline"), 1 << 20)
            .ok()??;
        Some(
            raw.split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
        )
    });
    let init = detect_init(host);
    // Where flags are configured: the unit's ExecStart and DOCKER_OPTS.
    let mut sources: Vec<(String, Vec<String>)> = Vec::new();
    if init == Init::Systemd
        && let Some((line, file)) = exec_start(&unit_files(host))
    {
        sources.push((
            format!("ExecStart in {file}"),
            shlex::split(&line).unwrap_or_default(),
        ));
    }
    for f in ["/etc/default/docker", "/etc/conf.d/docker"] {
        if let Some(opts) = read(host, f).and_then(|t| docker_opts(&t)) {
            sources.push((format!("DOCKER_OPTS in {f}"), opts));
        }
    }
    let configured: Vec<String> = sources.iter().flat_map(|(_, a)| a.clone()).collect();
    let argv = live_argv.clone().unwrap_or(configured);
    let flags = parse_flags(&argv);
    let experimental_flag = flags.experimental.then(|| {
        sources
            .iter()
            .find(|(_, a)| parse_flags(a).experimental)
            .map(|(w, _)| w.clone())
            .unwrap_or_else(|| "the dockerd command line".into())
    });
    let argv0 = argv.first().cloned().unwrap_or_default();
    let uid = pid.and_then(|p| host.fs.stat(&format!("/proc/{p}")).map(|s| s.st_uid));
    let kind = if argv0.starts_with("/snap/") {
        Kind::Snap
    } else if uid.is_some_and(|u| u != 0) {
        Kind::Rootless
    } else {
        Kind::Rootful
    };
    let dockerd = [
        "/usr/bin/dockerd",
        "/usr/sbin/dockerd",
        "/usr/local/bin/dockerd",
    ]
    .into_iter()
    .find(|p| host.fs.exists(p))
    .map(str::to_owned);
    Daemon {
        pid,
        config_file: flags
            .config_file
            .clone()
            .unwrap_or_else(|| DEFAULT_CONFIG.into()),
        argv,
        experimental_flag,
        kind,
        init,
        dockerd,
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

/// A response from the Engine API.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The Engine API over a unix socket: tiny HTTP/1.0 GETs, each bounded.
pub struct Api {
    pub socket: PathBuf,
    pub timeout: Duration,
}

impl Api {
    /// `DOCKER_HOST=unix:///path` if set (under the root), else /var/run/docker.sock.
    pub fn for_host(_host: &Host) -> Self {
        let from_env = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|v| v.strip_prefix("unix://").map(str::to_owned));
        let sock = from_env.unwrap_or_else(|| "/var/run/docker.sock".into());
        Api {
            socket: PathBuf::from(sock),
            timeout: Duration::from_secs(5),
        }
    }

    pub fn get(&self, path: &str) -> Result<Response> {
        use std::os::unix::net::UnixStream;
        let what = || format!("GET {path} on {}", self.socket.display());
        let mut s = UnixStream::connect(&self.socket).with_context(what)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        write!(
            s,
            "GET {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: dockpoint\r\n\r\n"
        )
        .with_context(what)?;
        let mut raw = Vec::new();
        let deadline = std::time::Instant::now() + self.timeout;
        let mut buf = [0u8; 16384];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("{}: no answer within {}s", what(), self.timeout.as_secs())
                    });
                }
            }
            if std::time::Instant::now() > deadline {
                bail!(
                    "{}: no complete answer within {}s",
                    what(),
                    self.timeout.as_secs()
                );
            }
        }
        parse_response(&raw).with_context(what)
    }

    /// `GET /_ping`: whether experimental features are on.
    pub fn experimental(&self) -> Result<bool> {
        let r = self.get("/_ping")?;
        if r.status != 200 {
            bail!("GET /_ping answered HTTP {}", r.status);
        }
        Ok(r.header("Docker-Experimental") == Some("true"))
    }

    pub fn json(&self, path: &str) -> Result<serde_json::Value> {
        let r = self.get(path)?;
        if r.status != 200 {
            bail!("GET {path} answered HTTP {}: {}", r.status, r.body.trim());
        }
        serde_json::from_str(&r.body).with_context(|| format!("GET {path}: not JSON"))
    }

    /// Names of the running containers.
    pub fn running_containers(&self) -> Result<Vec<String>> {
        let v = self.json("/containers/json")?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["Names"][0].as_str())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .collect()
            })
            .unwrap_or_default())
    }
}

pub fn parse_response(raw: &[u8]) -> Result<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("the answer has no HTTP header")?;
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad HTTP status line `{status_line}`"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Wait until the API answers, up to `bound`, telling `tick` the seconds left.
pub fn wait_for_api(api: &Api, bound: Duration, tick: &dyn Fn(u64)) -> Result<bool> {
    let start = std::time::Instant::now();
    loop {
        match api.experimental() {
            Ok(exp) => return Ok(exp),
            Err(e) if start.elapsed() >= bound => {
                return Err(e.context(format!("docker did not answer within {}s", bound.as_secs())));
            }
            Err(_) => {
                tick(bound.saturating_sub(start.elapsed()).as_secs());
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
}

/// The tail of the daemon's log: the journal under systemd, else its log file.
pub fn log_tail(host: &Host, d: &Daemon, n: usize) -> String {
    use crate::host::Cmd;
    if d.init == Init::Systemd {
        let cmd = Cmd::new(
            "journalctl",
            &[
                "-u",
                "docker",
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
mod tests {
    use super::*;

    #[test]
    fn flags() {
        let f = parse_flags(&[
            "/usr/sbin/dockerd",
            "-H",
            "fd://",
            "--experimental",
            "--config-file",
            "/x.json",
        ]);
        assert!(f.experimental);
        assert_eq!(f.config_file.as_deref(), Some("/x.json"));
        let f = parse_flags(&["dockerd", "--config-file=/y.json"]);
        assert!(!f.experimental);
        assert_eq!(f.config_file.as_deref(), Some("/y.json"));
    }

    #[test]
    fn exec_start_with_drop_in_reset() {
        let files = vec![
            (
                "/lib/systemd/system/docker.service".to_string(),
                "[Unit]\nDescription=x\n[Service]\nExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS\n".to_string(),
            ),
            (
                "/etc/systemd/system/docker.service.d/exp.conf".to_string(),
                "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --experimental\n".to_string(),
            ),
        ];
        let (line, file) = exec_start(&files).unwrap();
        assert!(line.ends_with("--experimental"));
        assert!(file.ends_with("exp.conf"));
        assert_eq!(
            exec_start(&files[..1]).unwrap().1,
            "/lib/systemd/system/docker.service"
        );
    }

    #[test]
    fn defaults_file() {
        assert_eq!(
            docker_opts("# comment\nDOCKER_OPTS=\"--experimental --dns 8.8.8.8\"\n").unwrap(),
            vec!["--experimental", "--dns", "8.8.8.8"]
        );
        assert_eq!(docker_opts("#DOCKER_OPTS=\"--experimental\"\n"), None);
    }

    #[test]
    fn http_answer() {
        let r = parse_response(
            b"HTTP/1.0 200 OK\r\nApi-Version: 1.45\r\nDocker-Experimental: true\r\n\r\nOK",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("docker-experimental"), Some("true"));
        assert_eq!(r.body, "OK");
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn a_hung_socket_costs_the_timeout_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("hung.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let api = Api {
            socket: sock,
            timeout: Duration::from_millis(300),
        };
        let t = std::time::Instant::now();
        let err = api.experimental().unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(3));
        assert!(format!("{err:#}").contains("no answer"), "{err:#}");
        drop(listener);
    }
}
