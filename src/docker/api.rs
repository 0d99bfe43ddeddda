//! The Engine API over this host's unix socket: HTTP/1.1 requests (GET,
//! POST with a JSON body, DELETE; query parameters encoded), each bounded
//! as a whole by a timeout (connect, write and read), answers of any
//! framing (Content-Length, chunked, until close) read into typed values,
//! and errors a caller can tell apart: not running, refused, hung, closed,
//! not HTTP, an HTTP error with docker's own message.
//!
//! The wire is in `api/wire.rs` (httparse reads the head and the chunk
//! sizes; the framing is decided there); the typed answers in `api/types.rs`.

use crate::host::Host;
use anyhow::Result;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod types;
mod wire;

pub use types::{
    Component, ContainerConfig, ContainerInspect, ContainerState, ContainerStatus,
    ContainerSummary, HostConfig, Info, Mount, NetworkMode, Ping, Platform, RestartPolicy,
    RestartPolicyName, Started, Stopped, Version,
};
pub use wire::Response;

/// The engine's socket when DOCKER_HOST is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

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
    /// An HTTP error status, with the engine's message verbatim (the
    /// `message` of its JSON body): what the explain catalogue matches.
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

    /// Docker's own message, verbatim, when it answered with an error:
    /// `No such container: web`, `failed to upload checkpoint to
    /// containerd: commit failed: content sha256:...: already exists`.
    pub fn message(&self) -> Option<&str> {
        match self {
            ApiError::Status { message, .. } => Some(message),
            _ => None,
        }
    }

    /// 404: no such container (or checkpoint).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// What to do next, in a sentence, for a message that has none of its
    /// own. An HTTP error's next step depends on docker's message: the
    /// explain catalogue says it better than this generic one.
    pub fn next_step(&self) -> String {
        match self {
            ApiError::NotUnix { .. } => {
                format!("unset DOCKER_HOST or set it to unix://{DEFAULT_SOCKET}")
            }
            e if e.is_permission_denied() => {
                "run as root, or as a member of the docker group".into()
            }
            ApiError::Connect { .. } => {
                "start docker (systemctl start docker), or point DOCKER_HOST at its socket".into()
            }
            ApiError::Timeout { .. } => {
                "docker is hung or busy: read its log (journalctl -u docker), then try again".into()
            }
            ApiError::Closed { .. } => {
                "docker dropped the connection (restarting?): read its log (journalctl -u docker), then try again".into()
            }
            ApiError::Protocol { .. } => {
                "check that DOCKER_HOST (or /var/run/docker.sock) is docker's engine socket".into()
            }
            ApiError::Status { status: 404, .. } => {
                "check the name: docker ps -a (and docker checkpoint ls CONTAINER)".into()
            }
            ApiError::Status { status: 501, .. } => {
                "turn docker's experimental features on: dockpoint setup".into()
            }
            ApiError::Status { .. } => {
                "dockpoint explain with this message, or read docker's log (journalctl -u docker)"
                    .into()
            }
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

/// Parse a complete HTTP answer (to a GET): a head, then a body framed by
/// its Content-Length, chunked, or running to the end of `raw`.
pub fn parse_response(raw: &[u8]) -> Result<Response> {
    wire::parse(raw, "GET").map_err(|e| match e {
        wire::ReadError::Closed { received: 0 } => anyhow::anyhow!("an empty answer"),
        wire::ReadError::Closed { received } => {
            anyhow::anyhow!("an answer cut short after {received} bytes")
        }
        wire::ReadError::Malformed(d) => anyhow::anyhow!(d),
        wire::ReadError::TooLarge => anyhow::anyhow!(too_large()),
        wire::ReadError::Timeout => anyhow::anyhow!("no answer in time"),
    })
}

fn too_large() -> String {
    format!("an answer larger than {} MiB", wire::ANSWER_LIMIT >> 20)
}

/// A path segment (a container's name or id, a checkpoint's name),
/// percent-encoded so that no name can change the request.
fn seg(s: &str) -> String {
    wire::encode(s)
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

    /// The same engine with another bound on each call: a checkpoint of a
    /// large container or its restore takes far longer than the default.
    pub fn with_timeout(&self, timeout: Duration) -> Api {
        Api {
            timeout,
            ..self.clone()
        }
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

    /// One request on a connection of its own, bounded as a whole by
    /// `bound`: any status is an answer; transport problems are errors.
    fn call(
        &self,
        method: &str,
        target: &str,
        body: Option<&[u8]>,
        bound: Duration,
    ) -> Result<Response, ApiError> {
        if let Some(e) = self.target_error() {
            return Err(e);
        }
        let what = format!("{method} {target} on {}", self.socket.display());
        let deadline = Instant::now() + bound;
        let timeout = || ApiError::Timeout {
            what: what.clone(),
            limit: bound,
        };
        let s = match wire::connect(&self.socket, deadline) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return Err(timeout()),
            Err(io) => {
                return Err(ApiError::Connect {
                    what: what.clone(),
                    io,
                });
            }
        };
        let mut conn = wire::Deadlined { s: &s, deadline };
        if let Err(e) = conn.send(&wire::request_bytes(method, target, body)) {
            return Err(match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => timeout(),
                _ => ApiError::Closed {
                    what: what.clone(),
                    received: 0,
                },
            });
        }
        let read = wire::read_response(&mut conn, method);
        read.map_err(|e| match e {
            wire::ReadError::Timeout => timeout(),
            wire::ReadError::Closed { received } => ApiError::Closed {
                what: what.clone(),
                received,
            },
            wire::ReadError::Malformed(detail) => ApiError::Protocol {
                what: what.clone(),
                detail,
            },
            wire::ReadError::TooLarge => ApiError::Protocol {
                what: what.clone(),
                detail: too_large(),
            },
        })
    }

    /// `METHOD path?query` with an optional JSON body, bounded by the
    /// Api's timeout: any status is an answer. For what the typed calls do
    /// not cover.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Response, ApiError> {
        let body = body.map(|b| b.to_string().into_bytes());
        self.call(
            method,
            &wire::target(path, query),
            body.as_deref(),
            self.timeout,
        )
    }

    /// [`Api::call`] that must answer 2xx (or 304, where `not_modified`
    /// is an answer: start and stop): an error status is
    /// [`ApiError::Status`] with the engine's message.
    fn call_ok(
        &self,
        method: &str,
        target: &str,
        body: Option<&[u8]>,
        bound: Duration,
        not_modified: bool,
    ) -> Result<Response, ApiError> {
        let r = self.call(method, target, body, bound)?;
        let ok = (200..300).contains(&r.status) || (not_modified && r.status == 304);
        if !ok {
            return Err(ApiError::Status {
                what: format!("{method} {target}"),
                status: r.status,
                message: r.error_message(),
            });
        }
        Ok(r)
    }

    /// `GET target` that must answer 2xx, as `T`.
    fn get_as<T: DeserializeOwned>(&self, target: &str) -> Result<T, ApiError> {
        let r = self.call_ok("GET", target, None, self.timeout, false)?;
        serde_json::from_str(&r.body).map_err(|e| ApiError::Protocol {
            what: format!("GET {target} on {}", self.socket.display()),
            detail: format!("the answer is not the JSON expected ({e})"),
        })
    }

    /// `GET path`: any status; transport problems are errors.
    pub fn get(&self, path: &str) -> Result<Response> {
        Ok(self.call("GET", path, None, self.timeout)?)
    }

    /// `GET path` as JSON.
    pub fn json(&self, path: &str) -> Result<serde_json::Value> {
        Ok(self.get_as(path)?)
    }

    /// `GET /_ping`: its headers.
    pub fn ping(&self) -> Result<Ping, ApiError> {
        let r = self.call_ok("GET", "/_ping", None, self.timeout, false)?;
        Ok(Ping {
            api_version: r.header("Api-Version").map(str::to_owned),
            experimental: r
                .header("Docker-Experimental")
                .map(|v| v.trim().eq_ignore_ascii_case("true")),
            server: r.header("Server").map(str::to_owned),
        })
    }

    /// Whether experimental features are on: `GET /_ping`'s
    /// `Docker-Experimental` header; an engine that sends no such header is
    /// asked `GET /version` (which has `"Experimental": true` only when on).
    pub fn experimental(&self) -> Result<bool> {
        match self.ping()?.experimental {
            Some(on) => Ok(on),
            None => Ok(self.version()?.experimental),
        }
    }

    /// `GET /version`.
    pub fn version(&self) -> Result<Version, ApiError> {
        self.get_as("/version")
    }

    /// `GET /info`.
    pub fn info(&self) -> Result<Info, ApiError> {
        self.get_as("/info")
    }

    /// `GET /containers/json` (`?all=1`: stopped ones too).
    pub fn containers(&self, all: bool) -> Result<Vec<ContainerSummary>, ApiError> {
        let target = if all {
            wire::target("/containers/json", &[("all", "1")])
        } else {
            "/containers/json".to_string()
        };
        self.get_as::<Option<Vec<ContainerSummary>>>(&target)
            .map(Option::unwrap_or_default)
    }

    /// Names of the running containers.
    pub fn running_containers(&self) -> Result<Vec<String>> {
        Ok(self
            .containers(false)?
            .iter()
            .filter_map(ContainerSummary::name)
            .map(str::to_owned)
            .collect())
    }

    /// `GET /containers/{id}/json`: a name or an id.
    pub fn inspect(&self, container: &str) -> Result<ContainerInspect, ApiError> {
        self.get_as(&format!("/containers/{}/json", seg(container)))
    }

    /// `GET /containers/{id}/checkpoints`: the checkpoints' names, in
    /// docker's order (a `null` from docker < 29 is none).
    pub fn checkpoints(&self, container: &str) -> Result<Vec<String>, ApiError> {
        let list: Option<Vec<types::CheckpointSummary>> =
            self.get_as(&format!("/containers/{}/checkpoints", seg(container)))?;
        Ok(list
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect())
    }

    /// `POST /containers/{id}/checkpoints` `{"CheckpointID": name, "Exit":
    /// exit}`: CRIU dumps the container; with `exit` it is stopped after.
    /// It takes as long as the dump: bound it with [`Api::with_timeout`].
    pub fn create_checkpoint(
        &self,
        container: &str,
        name: &str,
        exit: bool,
    ) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&types::CheckpointCreate {
            checkpoint_id: name,
            exit,
        })
        .expect("a checkpoint request serialises");
        let target = format!("/containers/{}/checkpoints", seg(container));
        self.call_ok("POST", &target, Some(&body), self.timeout, false)?;
        Ok(())
    }

    /// `DELETE /containers/{id}/checkpoints/{name}`.
    pub fn delete_checkpoint(&self, container: &str, name: &str) -> Result<(), ApiError> {
        let target = format!("/containers/{}/checkpoints/{}", seg(container), seg(name));
        self.call_ok("DELETE", &target, None, self.timeout, false)?;
        Ok(())
    }

    /// `POST /containers/{id}/start`, from a checkpoint when one is named
    /// (`?checkpoint=NAME`: the restore). [`Started::AlreadyRunning`] (304)
    /// means nothing was done: with a checkpoint, nothing was restored. A
    /// restore takes as long as CRIU's: bound it with [`Api::with_timeout`].
    pub fn start(&self, container: &str, checkpoint: Option<&str>) -> Result<Started, ApiError> {
        let path = format!("/containers/{}/start", seg(container));
        let target = match checkpoint {
            Some(c) => wire::target(&path, &[("checkpoint", c)]),
            None => path,
        };
        let r = self.call_ok("POST", &target, None, self.timeout, true)?;
        Ok(match r.status {
            304 => Started::AlreadyRunning,
            _ => Started::Started,
        })
    }

    /// `POST /containers/{id}/stop?t=SECS`: SIGTERM, then SIGKILL after
    /// `secs`. The call is bounded by `secs` more than the Api's timeout.
    pub fn stop(&self, container: &str, secs: u32) -> Result<Stopped, ApiError> {
        let target = wire::target(
            &format!("/containers/{}/stop", seg(container)),
            &[("t", &secs.to_string())],
        );
        let bound = self.timeout + Duration::from_secs(secs.into());
        let r = self.call_ok("POST", &target, None, bound, true)?;
        Ok(match r.status {
            304 => Stopped::AlreadyStopped,
            _ => Stopped::Stopped,
        })
    }

    /// `POST /containers/{id}/update` with a restart policy (`docker update
    /// --restart NAME`).
    pub fn set_restart_policy(&self, container: &str, name: &str) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&serde_json::json!({"RestartPolicy": {"Name": name}}))
            .expect("a restart policy serialises");
        let target = format!("/containers/{}/update", seg(container));
        self.call_ok("POST", &target, Some(&body), self.timeout, false)?;
        Ok(())
    }

    /// `POST /containers/{id}/pause`: freeze every process of the container
    /// (the cgroup freezer); nothing of it runs until unpaused or killed.
    pub fn pause(&self, container: &str) -> Result<(), ApiError> {
        let target = format!("/containers/{}/pause", seg(container));
        self.call_ok("POST", &target, None, self.timeout, false)?;
        Ok(())
    }

    /// `POST /containers/{id}/unpause`.
    pub fn unpause(&self, container: &str) -> Result<(), ApiError> {
        let target = format!("/containers/{}/unpause", seg(container));
        self.call_ok("POST", &target, None, self.timeout, false)?;
        Ok(())
    }

    /// `POST /containers/{id}/kill?signal=SIG`: `HUP`, `SIGHUP` or `1`. A
    /// container that is not running is HTTP 409.
    pub fn kill(&self, container: &str, signal: &str) -> Result<(), ApiError> {
        let target = wire::target(
            &format!("/containers/{}/kill", seg(container)),
            &[("signal", signal)],
        );
        self.call_ok("POST", &target, None, self.timeout, false)?;
        Ok(())
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
        let attempt = api.with_timeout(api.timeout.min(left.max(Duration::from_millis(100))));
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
mod tests;
