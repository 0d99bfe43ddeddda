//! The Engine API over this host's unix socket: tiny HTTP/1.0 requests, each
//! bounded as a whole by a timeout (connect, write and read), with errors a
//! caller can tell apart: not running, refused, hung, closed, an HTTP error.

use crate::host::Host;
use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The engine's socket when DOCKER_HOST is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The largest answer read from the engine (a `/containers/json` of a busy
/// host is far below this).
const ANSWER_LIMIT: usize = 64 << 20;

/// Why an Engine API call did not give an answer. Every error the [`Api`]
/// methods return has one of these at its root: `e.downcast_ref::<ApiError>()`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// DOCKER_HOST names something that is not a unix socket on this host.
    #[error(
        "DOCKER_HOST={value} points at {target}: dockpoint talks to this host's engine over its unix socket; unset DOCKER_HOST or set it to unix://{DEFAULT_SOCKET}"
    )]
    NotUnix { value: String, target: &'static str },
    /// The socket could not be connected to (absent, stale, no permission).
    #[error("{what}: cannot connect: {io}")]
    Connect { what: String, io: std::io::Error },
    /// Connected, or queued, but no complete answer within the time bound.
    #[error("{what}: no answer within {}", fmt_duration(*.limit))]
    Timeout { what: String, limit: Duration },
    /// The engine closed the connection before a complete answer.
    #[error("{what}: the connection was closed {}", closed_after(*.received))]
    Closed { what: String, received: usize },
    /// An answer that is not the HTTP (or the JSON) expected.
    #[error("{what}: {detail}")]
    Protocol { what: String, detail: String },
    /// An HTTP error status, with the engine's message.
    #[error("{what} answered HTTP {status}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
}

fn closed_after(received: usize) -> String {
    if received == 0 {
        "without an answer".into()
    } else {
        format!("after {received} bytes, before the answer was complete")
    }
}

/// `300ms`, `5s`, `1.5s`.
fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

impl ApiError {
    /// Nothing listens there: no socket file, or a stale one. Docker is not
    /// running (or DOCKER_HOST names the wrong socket).
    pub fn is_not_running(&self) -> bool {
        matches!(self, ApiError::Connect { io, .. }
            if matches!(io.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused))
    }

    /// The socket exists but this user may not use it.
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, ApiError::Connect { io, .. } if io.kind() == std::io::ErrorKind::PermissionDenied)
    }

    /// Something holds the socket but does not answer in time: a hung engine.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ApiError::Timeout { .. })
    }

    /// The HTTP status, when the engine answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The [`ApiError`] at the root of an error from an [`Api`] call, if any.
pub fn api_error(e: &anyhow::Error) -> Option<&ApiError> {
    e.downcast_ref::<ApiError>()
}

/// The only place dockpoint reads DOCKER_HOST (to move into the host
/// context once it carries the environment).
fn docker_host_env() -> Option<String> {
    std::env::var("DOCKER_HOST").ok()
}

/// The socket a DOCKER_HOST value names: unset or empty is the default
/// socket; `unix:///path` is that path (`unix://` alone is the default, as
/// for docker's own client). Anything else (tcp, ssh, fd, npipe, a bare
/// path) is an error that says so, never the default socket in its place.
pub fn socket_for(docker_host: Option<&str>) -> Result<PathBuf, ApiError> {
    let Some(value) = docker_host.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(PathBuf::from(DEFAULT_SOCKET));
    };
    let not_unix = |target| ApiError::NotUnix {
        value: value.to_string(),
        target,
    };
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(not_unix(
            "no engine address docker knows (expected unix:///path/to/docker.sock)",
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "unix" if rest.is_empty() => Ok(PathBuf::from(DEFAULT_SOCKET)),
        "unix" => Ok(PathBuf::from(rest)),
        "tcp" | "http" | "https" => Err(not_unix("a remote engine")),
        "ssh" => Err(not_unix("a remote engine over ssh")),
        "fd" => Err(not_unix(
            "a socket systemd hands to dockerd at start, not an address a client can use",
        )),
        "npipe" => Err(not_unix("a Windows named pipe")),
        _ => Err(not_unix("an address scheme docker does not know")),
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

    /// The engine's own words for an error status: the `message` of its
    /// JSON body, else the body itself (shortened), else the status alone.
    pub fn error_message(&self) -> String {
        let body = self.body.trim();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
            && let Some(m) = v["message"].as_str()
        {
            return m.to_string();
        }
        match body {
            "" => "(no message)".into(),
            b if b.chars().count() > 500 => {
                format!("{}...", b.chars().take(500).collect::<String>())
            }
            b => b.to_string(),
        }
    }
}

/// Parse a complete HTTP answer.
pub fn parse_response(raw: &[u8]) -> Result<Response> {
    let (head, body) = split_head(raw).context("the answer has no HTTP header")?;
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/")
        .and_then(|s| s.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad HTTP status line `{status_line}`"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(body).into_owned(),
    })
}

/// The header block and the body, when the header is complete.
fn split_head(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = memchr::memmem::find(raw, b"\r\n\r\n")?;
    Some((&raw[..at], &raw[at + 4..]))
}

/// True when `raw` holds a whole answer: a header, and as much body as its
/// Content-Length says (without one, the answer ends when the engine
/// closes the connection, as an HTTP/1.0 answer does).
fn complete(raw: &[u8]) -> bool {
    let Some((head, body)) = split_head(raw) else {
        return false;
    };
    String::from_utf8_lossy(head)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

/// Connect to a unix socket, giving up at `deadline`. A plain connect()
/// blocks while the listener's queue is full (a hung engine that no longer
/// accepts): non-blocking, that is EAGAIN, retried until the deadline.
fn connect(path: &Path, deadline: Instant) -> std::io::Result<UnixStream> {
    use nix::errno::Errno;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, socket};
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?;
    let addr = UnixAddr::new(path)?;
    loop {
        match nix::sys::socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(Errno::EAGAIN | Errno::EINTR) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(Errno::EAGAIN) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "its listen queue stayed full",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let s = UnixStream::from(fd);
    s.set_nonblocking(false)?;
    Ok(s)
}

/// The Engine API over a unix socket.
#[derive(Debug, Clone)]
pub struct Api {
    pub socket: PathBuf,
    /// The bound on each call as a whole.
    pub timeout: Duration,
    /// DOCKER_HOST named no unix socket (its value, what it names): every
    /// call fails with [`ApiError::NotUnix`] and connects nowhere.
    refused: Option<(String, &'static str)>,
}

impl Api {
    /// The engine at `socket`, with the default 5 s bound.
    pub fn at(socket: impl Into<PathBuf>) -> Api {
        Api {
            socket: socket.into(),
            timeout: Duration::from_secs(5),
            refused: None,
        }
    }

    /// This host's engine: the socket DOCKER_HOST names (`unix://...`), else
    /// /var/run/docker.sock. A DOCKER_HOST naming anything else (tcp, ssh,
    /// fd) gives an Api whose every call fails with [`ApiError::NotUnix`],
    /// saying so: never the default socket in its place. Callers that want
    /// to say it up front use [`Api::target_error`] or [`Api::try_for_host`].
    pub fn for_host(_host: &Host) -> Api {
        Api::from_docker_host(docker_host_env().as_deref())
    }

    /// [`Api::for_host`] for a given DOCKER_HOST value.
    pub fn from_docker_host(docker_host: Option<&str>) -> Api {
        match socket_for(docker_host) {
            Ok(socket) => Api::at(socket),
            Err(ApiError::NotUnix { value, target }) => Api {
                socket: PathBuf::new(),
                timeout: Duration::from_secs(5),
                refused: Some((value, target)),
            },
            Err(other) => unreachable!("socket_for only refuses: {other}"),
        }
    }

    /// [`Api::for_host`], failing at once on a DOCKER_HOST that names no
    /// unix socket.
    pub fn try_for_host(_host: &Host) -> Result<Api, ApiError> {
        socket_for(docker_host_env().as_deref()).map(Api::at)
    }

    /// Why this Api talks to no engine at all (DOCKER_HOST=tcp://...).
    pub fn target_error(&self) -> Option<ApiError> {
        self.refused
            .as_ref()
            .map(|(value, target)| ApiError::NotUnix {
                value: value.clone(),
                target,
            })
    }

    /// The engine as a person would name it: `unix:///var/run/docker.sock`,
    /// or why there is none.
    pub fn describe_target(&self) -> String {
        match self.target_error() {
            Some(e) => e.to_string(),
            None => format!("unix://{}", self.socket.display()),
        }
    }

    /// One request, bounded as a whole by `self.timeout`.
    fn request(&self, method: &str, path: &str) -> Result<Response, ApiError> {
        if let Some(e) = self.target_error() {
            return Err(e);
        }
        let what = format!("{method} {path} on {}", self.socket.display());
        let deadline = Instant::now() + self.timeout;
        let timeout = || ApiError::Timeout {
            what: what.clone(),
            limit: self.timeout,
        };
        let mut s = match connect(&self.socket, deadline) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(timeout()),
            Err(io) => {
                return Err(ApiError::Connect {
                    what: what.clone(),
                    io,
                });
            }
        };
        let left = |deadline: Instant| {
            let d = deadline.saturating_duration_since(Instant::now());
            (!d.is_zero()).then_some(d)
        };
        let Some(d) = left(deadline) else {
            return Err(timeout());
        };
        let _ = s.set_write_timeout(Some(d));
        let req =
            format!("{method} {path} HTTP/1.0\r\nHost: docker\r\nUser-Agent: dockpoint\r\n\r\n");
        if let Err(e) = s.write_all(req.as_bytes()) {
            return Err(match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => timeout(),
                _ => ApiError::Closed {
                    what: what.clone(),
                    received: 0,
                },
            });
        }
        let mut raw = Vec::new();
        let mut buf = [0u8; 16384];
        while !complete(&raw) {
            let Some(d) = left(deadline) else {
                return Err(timeout());
            };
            let _ = s.set_read_timeout(Some(d));
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(timeout());
                }
                Err(_) => break,
            }
            if raw.len() > ANSWER_LIMIT {
                return Err(ApiError::Protocol {
                    what,
                    detail: format!("an answer larger than {} MiB", ANSWER_LIMIT >> 20),
                });
            }
        }
        if split_head(&raw).is_none() {
            return Err(ApiError::Closed {
                what,
                received: raw.len(),
            });
        }
        parse_response(&raw).map_err(|e| ApiError::Protocol {
            what,
            detail: format!("{e:#}"),
        })
    }

    /// `GET path`: any status; transport problems are errors.
    pub fn get(&self, path: &str) -> Result<Response> {
        Ok(self.request("GET", path)?)
    }

    /// `GET path` that must answer 2xx: an error status is
    /// [`ApiError::Status`] with the engine's message.
    fn get_ok(&self, path: &str) -> Result<Response, ApiError> {
        let r = self.request("GET", path)?;
        if !(200..300).contains(&r.status) {
            return Err(ApiError::Status {
                what: format!("GET {path}"),
                status: r.status,
                message: r.error_message(),
            });
        }
        Ok(r)
    }

    /// Whether experimental features are on: `GET /_ping`'s
    /// `Docker-Experimental` header; an engine that sends no such header is
    /// asked `GET /version` (which has `"Experimental": true` only when on).
    pub fn experimental(&self) -> Result<bool> {
        let r = self.get_ok("/_ping")?;
        match r.header("Docker-Experimental") {
            Some(v) => Ok(v.trim().eq_ignore_ascii_case("true")),
            None => Ok(self.json("/version")?["Experimental"].as_bool() == Some(true)),
        }
    }

    /// `GET path` as JSON.
    pub fn json(&self, path: &str) -> Result<serde_json::Value> {
        let r = self.get_ok(path)?;
        serde_json::from_str(&r.body).map_err(|e| {
            ApiError::Protocol {
                what: format!("GET {path} on {}", self.socket.display()),
                detail: format!("the answer is not JSON ({e})"),
            }
            .into()
        })
    }

    /// Names of the running containers.
    pub fn running_containers(&self) -> Result<Vec<String>> {
        let v = self.json("/containers/json")?;
        let Some(list) = v.as_array() else {
            return Err(ApiError::Protocol {
                what: format!("GET /containers/json on {}", self.socket.display()),
                detail: "the answer is not a list".into(),
            }
            .into());
        };
        Ok(list
            .iter()
            .filter_map(|c| c["Names"][0].as_str())
            .map(|n| n.trim_start_matches('/').to_string())
            .collect())
    }
}

/// Wait until the API answers, up to `bound`, telling `tick` the seconds
/// left after each failed try. Each try is bounded by the API's timeout and
/// by what is left of `bound`. The answer is whether experimental is on.
pub fn wait_for_api(api: &Api, bound: Duration, tick: &dyn Fn(u64)) -> Result<bool> {
    // No engine to wait for: say so at once.
    if let Some(e) = api.target_error() {
        return Err(e.into());
    }
    let start = Instant::now();
    loop {
        let left = bound.saturating_sub(start.elapsed());
        let attempt = Api {
            timeout: api.timeout.min(left.max(Duration::from_millis(100))),
            ..api.clone()
        };
        match attempt.experimental() {
            Ok(exp) => return Ok(exp),
            Err(e) if start.elapsed() >= bound => {
                return Err(e.context(format!(
                    "docker did not answer within {}",
                    fmt_duration(bound)
                )));
            }
            Err(_) => {
                let left = bound.saturating_sub(start.elapsed());
                tick(left.as_secs());
                std::thread::sleep(Duration::from_millis(250).min(left));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_engine::{FakeEngine, Mode, Reply};

    fn err_of(e: &anyhow::Error) -> &ApiError {
        api_error(e).unwrap_or_else(|| panic!("not an ApiError: {e:#}"))
    }

    #[test]
    fn docker_experimental_comes_from_the_ping_header() {
        let engine = FakeEngine::docker(false);
        let api = engine.api();
        assert!(!api.experimental().unwrap());
        engine.set_experimental(true);
        assert!(api.experimental().unwrap());
        let reqs = engine.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].line(), "GET /_ping");
        assert_eq!(reqs[0].version, "HTTP/1.0");
        assert_eq!(reqs[0].header("host"), Some("docker"));
        assert_eq!(reqs[0].header("User-Agent"), Some("dockpoint"));
    }

    #[test]
    fn docker_experimental_without_the_header_asks_version() {
        let engine = FakeEngine::docker(true);
        engine.set("GET /_ping", Reply::text(200, "OK"));
        assert!(engine.api().experimental().unwrap());
        engine.set_experimental(false);
        engine.set("GET /_ping", Reply::text(200, "OK"));
        assert!(!engine.api().experimental().unwrap());
        assert_eq!(
            engine.request_lines(),
            ["GET /_ping", "GET /version", "GET /_ping", "GET /version"]
        );
    }

    #[test]
    fn docker_version_json() {
        let engine = FakeEngine::docker(false);
        let v = engine.api().json("/version").unwrap();
        assert_eq!(v["Version"], "26.1.5");
        assert_eq!(v["ApiVersion"], "1.45");
        assert!(v.get("Experimental").is_none(), "{v}");
        engine.set_version("28.5.2");
        engine.set_experimental(true);
        let v = engine.api().json("/version").unwrap();
        assert_eq!(v["Version"], "28.5.2");
        assert_eq!(v["Experimental"], true);
    }

    #[test]
    fn docker_running_containers() {
        let engine = FakeEngine::docker(true);
        assert!(engine.api().running_containers().unwrap().is_empty());
        engine.set_containers(&["bela", "db"]);
        assert_eq!(engine.api().running_containers().unwrap(), ["bela", "db"]);
        engine.set(
            "GET /containers/json",
            Reply::json(200, serde_json::json!({})),
        );
        let e = engine.api().running_containers().unwrap_err();
        assert!(matches!(err_of(&e), ApiError::Protocol { .. }), "{e:#}");
    }

    #[test]
    fn docker_a_hung_engine_costs_the_timeout_not_a_hang() {
        let engine = FakeEngine::docker(true);
        engine.set_mode(Mode::Hang);
        let mut api = engine.api();
        api.timeout = Duration::from_millis(300);
        let e = api.experimental().unwrap_err();
        assert!(err_of(&e).is_timeout(), "{e:#}");
        assert!(format!("{e:#}").contains("no answer within 300ms"), "{e:#}");
        // It was asked: the request reached the engine.
        let seen = engine.wait_requests(1);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].line(), "GET /_ping");
    }

    #[test]
    fn docker_a_full_listen_queue_costs_the_timeout_not_a_hang() {
        use nix::sys::socket::{
            AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, listen, socket,
        };
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stuck.sock");
        let l = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        bind(l.as_raw_fd(), &UnixAddr::new(&path).unwrap()).unwrap();
        listen(&l, Backlog::new(0).unwrap()).unwrap();
        // Fill the queue: nobody ever accepts.
        let _queued = UnixStream::connect(&path).unwrap();
        let mut api = Api::at(&path);
        api.timeout = Duration::from_millis(200);
        let e = api.get("/_ping").unwrap_err();
        assert!(err_of(&e).is_timeout(), "{e:#}");
    }

    #[test]
    fn docker_a_closed_connection_is_not_an_answer() {
        let engine = FakeEngine::docker(true);
        engine.set_mode(Mode::Close);
        let e = engine.api().experimental().unwrap_err();
        assert!(
            matches!(err_of(&e), ApiError::Closed { received: 0, .. }),
            "{e:#}"
        );
        assert!(
            format!("{e:#}").contains("closed without an answer"),
            "{e:#}"
        );
    }

    #[test]
    fn docker_http_errors_carry_the_engine_message() {
        let engine = FakeEngine::docker(true);
        let e = engine.api().json("/containers/nope/json").unwrap_err();
        assert_eq!(err_of(&e).status(), Some(404), "{e:#}");
        engine.set(
            "GET /containers/nope/json",
            Reply::json(
                404,
                serde_json::json!({"message": "No such container: nope"}),
            ),
        );
        let e = engine.api().json("/containers/nope/json").unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "GET /containers/nope/json answered HTTP 404: No such container: nope"
        );
        engine.set("GET /_ping", Reply::text(500, "daemon is shutting down"));
        let e = engine.api().experimental().unwrap_err();
        assert_eq!(err_of(&e).status(), Some(500));
        assert!(
            format!("{e:#}").contains("daemon is shutting down"),
            "{e:#}"
        );
    }

    #[test]
    fn docker_not_running_is_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let absent = Api::at(dir.path().join("absent.sock"));
        let e = absent.experimental().unwrap_err();
        assert!(err_of(&e).is_not_running(), "{e:#}");
        // A stale socket file: the engine died without removing it.
        let stale = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
        let e = Api::at(&stale).experimental().unwrap_err();
        assert!(err_of(&e).is_not_running(), "{e:#}");
        assert!(!err_of(&e).is_timeout());
    }

    #[test]
    fn docker_wait_for_api_sees_the_restarted_engine() {
        let engine = FakeEngine::docker(false);
        engine.set_mode(Mode::Close);
        let ticks = std::cell::Cell::new(0);
        let on = wait_for_api(&engine.api(), Duration::from_secs(30), &|_| {
            // The restart completes while dockpoint waits.
            ticks.set(ticks.get() + 1);
            engine.set_experimental(true);
            engine.set_mode(Mode::Answer);
        })
        .unwrap();
        assert!(on);
        assert_eq!(ticks.get(), 1);
        assert_eq!(engine.request_lines(), ["GET /_ping", "GET /_ping"]);
    }

    #[test]
    fn docker_wait_for_api_gives_up_with_the_last_error() {
        let engine = FakeEngine::docker(false);
        engine.set_mode(Mode::Close);
        let e = wait_for_api(&engine.api(), Duration::from_millis(300), &|_| {}).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("docker did not answer within 300ms: "),
            "{e:#}"
        );
        assert!(matches!(err_of(&e), ApiError::Closed { .. }), "{e:#}");
    }

    #[test]
    fn docker_host_not_unix_is_never_the_default_socket() {
        let api = Api::from_docker_host(Some("tcp://10.0.0.5:2375"));
        let e = api.experimental().unwrap_err();
        assert!(matches!(err_of(&e), ApiError::NotUnix { .. }), "{e:#}");
        assert!(
            format!("{e:#}")
                .starts_with("DOCKER_HOST=tcp://10.0.0.5:2375 points at a remote engine"),
            "{e:#}"
        );
        assert_eq!(api.describe_target(), err_of(&e).to_string());
        // It connects nowhere, even where an engine listens.
        let engine = FakeEngine::docker(true);
        let mut api = Api::from_docker_host(Some("ssh://me@far"));
        api.socket = engine.socket().to_path_buf();
        assert!(api.json("/version").is_err());
        assert!(api.running_containers().is_err());
        let ticks = std::cell::Cell::new(0);
        let e = wait_for_api(&api, Duration::from_secs(60), &|_| {
            ticks.set(ticks.get() + 1)
        })
        .unwrap_err();
        assert!(matches!(err_of(&e), ApiError::NotUnix { .. }), "{e:#}");
        assert_eq!(ticks.get(), 0, "waited for an engine there is none of");
        assert!(engine.requests().is_empty());
        let api = Api::from_docker_host(Some(&format!("unix://{}", engine.socket().display())));
        assert!(api.target_error().is_none());
        assert!(api.experimental().unwrap());
        assert_eq!(
            api.describe_target(),
            format!("unix://{}", engine.socket().display())
        );
        let api = Api::from_docker_host(None);
        assert_eq!(api.socket, PathBuf::from(DEFAULT_SOCKET));
    }

    #[test]
    fn docker_host_values() {
        let d = PathBuf::from(DEFAULT_SOCKET);
        assert_eq!(socket_for(None).unwrap(), d);
        assert_eq!(socket_for(Some("")).unwrap(), d);
        assert_eq!(socket_for(Some("unix://")).unwrap(), d);
        assert_eq!(
            socket_for(Some("unix:///run/user/1000/docker.sock")).unwrap(),
            PathBuf::from("/run/user/1000/docker.sock")
        );
        let e = socket_for(Some("tcp://10.0.0.5:2375")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "DOCKER_HOST=tcp://10.0.0.5:2375 points at a remote engine: dockpoint talks to this host's engine over its unix socket; unset DOCKER_HOST or set it to unix:///var/run/docker.sock"
        );
        for v in [
            "ssh://me@far",
            "fd://",
            "npipe:////./pipe/docker_engine",
            "/var/run/docker.sock",
            "bogus://x",
        ] {
            let e = socket_for(Some(v)).unwrap_err();
            assert!(matches!(e, ApiError::NotUnix { .. }), "{v}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("DOCKER_HOST={v} points at"))
            );
        }
    }

    #[test]
    fn docker_http_answer() {
        let r = parse_response(
            b"HTTP/1.0 200 OK\r\nApi-Version: 1.45\r\nDocker-Experimental: true\r\n\r\nOK",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("docker-experimental"), Some("true"));
        assert_eq!(r.body, "OK");
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
        assert!(complete(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK"));
        assert!(!complete(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nOK"));
        assert!(!complete(b"HTTP/1.0 200 OK\r\n\r\nOK"));
    }
}
