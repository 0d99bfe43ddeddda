//! A fake docker engine for tests: a unix socket in a temp dir speaking
//! HTTP/1.1 as dockerd does, one request per connection. It answers
//! scripted responses per `METHOD path` (a status, headers, a body sent
//! with a Content-Length, chunked, or until it closes; raw bytes that are
//! not HTTP; or the first bytes of an answer and then nothing), a sequence
//! of them for successive requests (a retry's first failure, then success),
//! and records every request it got (method, path with query, headers,
//! body). It can hang (accept, read, never answer) or close (accept, read,
//! close without a byte), and change its answers while running
//! (experimental false before a restart, true after). It serves on a
//! background thread and stops when dropped.

use crate::docker::Api;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a reply's body is framed on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` (none for 204 and 304, which have no body).
    Length,
    /// `Transfer-Encoding: chunked`, in chunks of at most this many bytes,
    /// each written on its own.
    Chunked(usize),
    /// No length: the body ends when the engine closes the connection.
    UntilClose,
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub framing: Framing,
    /// Send only the first this many bytes of the answer, then hold the
    /// connection open without a byte more (until the engine is dropped).
    pub stall_after: Option<usize>,
    /// These bytes, whatever they are, instead of an HTTP answer.
    pub raw: Option<Vec<u8>>,
}

impl Reply {
    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.into(),
            framing: Framing::Length,
            stall_after: None,
            raw: None,
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string(),
            ..Reply::text(status, "")
        }
    }

    /// An answer without a body: `204 No Content`, `304 Not Modified`,
    /// `201 Created` (docker's checkpoint create).
    pub fn empty(status: u16) -> Reply {
        Reply {
            headers: Vec::new(),
            ..Reply::text(status, "")
        }
    }

    /// Docker's error answer: `{"message": ...}`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, json!({ "message": message }))
    }

    /// Bytes that are not (or not only) an HTTP answer.
    pub fn raw(bytes: &[u8]) -> Reply {
        Reply {
            raw: Some(bytes.to_vec()),
            ..Reply::empty(0)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Chunked, in chunks of at most `size` bytes.
    pub fn chunked(self, size: usize) -> Reply {
        Reply {
            framing: Framing::Chunked(size.max(1)),
            ..self
        }
    }

    /// No length: the body ends when the connection closes.
    pub fn until_close(self) -> Reply {
        Reply {
            framing: Framing::UntilClose,
            ..self
        }
    }

    /// Send the first `n` bytes, then nothing more.
    pub fn stall_after(self, n: usize) -> Reply {
        Reply {
            stall_after: Some(n),
            ..self
        }
    }

    /// The answer as the writes that send it.
    fn pieces(&self) -> Vec<Vec<u8>> {
        if let Some(raw) = &self.raw {
            return vec![raw.clone()];
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("Date: Mon, 01 Jun 2026 10:00:00 GMT\r\nConnection: close\r\n");
        let no_body = matches!(self.status, 100..=199 | 204 | 304);
        let body = self.body.as_bytes();
        let mut out = Vec::new();
        match &self.framing {
            _ if no_body => {
                head.push_str("\r\n");
                out.push(head.into_bytes());
            }
            Framing::Length => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
                let mut all = head.into_bytes();
                all.extend_from_slice(body);
                out.push(all);
            }
            Framing::Chunked(size) => {
                head.push_str("Transfer-Encoding: chunked\r\n\r\n");
                out.push(head.into_bytes());
                for c in body.chunks(*size) {
                    let mut piece = format!("{:x}\r\n", c.len()).into_bytes();
                    piece.extend_from_slice(c);
                    piece.extend_from_slice(b"\r\n");
                    out.push(piece);
                }
                out.push(b"0\r\n\r\n".to_vec());
            }
            Framing::UntilClose => {
                head.push_str("\r\n");
                let mut all = head.into_bytes();
                all.extend_from_slice(body);
                out.push(all);
            }
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// How the engine treats each new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer from the script.
    Answer,
    /// Accept and read the request, then never answer (until dropped).
    Hang,
    /// Accept and read the request, then close without a byte.
    Close,
}

/// A request as the engine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target: path and query, as sent (still encoded).
    pub path: String,
    /// `HTTP/1.0`, `HTTP/1.1`.
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// The body (Content-Length bytes), as text.
    pub body: String,
}

impl Request {
    /// `GET /_ping`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query, decoded: `/containers/my app/json`.
    pub fn bare_path(&self) -> String {
        decode(self.path.split('?').next().unwrap_or_default())
    }

    /// A query parameter, decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        let (_, q) = self.path.split_once('?')?;
        q.split('&')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| decode(k) == key)
            .map(|(_, v)| decode(v))
    }

    /// The body as JSON (Null when it is none or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Percent-decoding (`%2F` is `/`; `+` stays `+`, as docker reads it).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A container the preset engine knows, for `GET /containers/json` and
/// `GET /containers/{name or id}/json` (a docker 26 inspect answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeContainer {
    pub name: String,
    pub id: String,
    /// `running`, `exited`, `created`...
    pub status: String,
    pub pid: u32,
    pub started_at: String,
    pub finished_at: String,
    pub auto_remove: bool,
    /// `no`, `always`, `unless-stopped`, `on-failure`.
    pub restart: String,
    /// `bridge`, `host`, `none`, `container:<id>`, a network's name.
    pub network_mode: String,
    pub tty: bool,
    pub open_stdin: bool,
    /// Entries of `Mounts`, as docker writes them.
    pub mounts: Vec<Value>,
}

impl FakeContainer {
    /// A running container on the default bridge, started by `docker run -d`.
    pub fn running(name: &str) -> FakeContainer {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        let x = h.finish();
        FakeContainer {
            name: name.into(),
            id: format!("{x:016x}{x:016x}{x:016x}{x:016x}"),
            status: "running".into(),
            pid: 4242,
            started_at: "2026-06-01T09:59:58.123456789Z".into(),
            finished_at: "0001-01-01T00:00:00Z".into(),
            auto_remove: false,
            restart: "no".into(),
            network_mode: "bridge".into(),
            tty: false,
            open_stdin: false,
            mounts: Vec::new(),
        }
    }

    /// The same container, stopped (exit 0).
    pub fn exited(self) -> FakeContainer {
        FakeContainer {
            status: "exited".into(),
            pid: 0,
            finished_at: "2026-06-01T10:05:00.5Z".into(),
            ..self
        }
    }

    /// `GET /containers/{id}/json` as dockerd 26.1 answers it, fields
    /// dockpoint does not read included.
    pub fn inspect(&self) -> Value {
        let running = self.status == "running";
        json!({
            "Id": self.id,
            "Created": "2026-06-01T09:59:57.5Z",
            "Path": "/app/run",
            "Args": ["--journal", "/data/journal"],
            "State": {
                "Status": self.status,
                "Running": running,
                "Paused": false,
                "Restarting": false,
                "OOMKilled": false,
                "Dead": false,
                "Pid": self.pid,
                "ExitCode": 0,
                "Error": "",
                "StartedAt": self.started_at,
                "FinishedAt": self.finished_at
            },
            "Image": "sha256:5d0da3dc976460b72c77d94c8a1ad043720b0416bfc16c52c45d4847e53fadb6",
            "ResolvConfPath": format!("/var/lib/docker/containers/{}/resolv.conf", self.id),
            "Name": format!("/{}", self.name),
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "HostConfig": {
                "Binds": null,
                "NetworkMode": self.network_mode,
                "RestartPolicy": {"Name": self.restart, "MaximumRetryCount": 0},
                "AutoRemove": self.auto_remove,
                "Privileged": false,
                "SecurityOpt": null
            },
            "Mounts": self.mounts,
            "Config": {
                "Hostname": &self.id[..12],
                "AttachStdin": false,
                "Tty": self.tty,
                "OpenStdin": self.open_stdin,
                "StdinOnce": false,
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["/app/run"],
                "Image": "bela:1.4",
                "Labels": {}
            },
            "NetworkSettings": {"Bridge": "", "SandboxID": "", "Networks": {}}
        })
    }
}

/// What the preset engine ([`FakeEngine::docker`]) reports.
#[derive(Debug, Clone)]
struct Facts {
    experimental: bool,
    version: String,
    containers: Vec<FakeContainer>,
    live_restore: bool,
}

struct State {
    /// Per route, the answers still to give: the first for the next
    /// request; the last one stays.
    routes: HashMap<String, Vec<Reply>>,
    mode: Mode,
    requests: Vec<Request>,
    facts: Facts,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on each request recorded.
    recorded: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the engine from the others.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fake engine listening on `socket()` until dropped.
pub struct FakeEngine {
    socket: PathBuf,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl FakeEngine {
    /// An engine with no routes: every request is answered 404 with
    /// dockerd's `{"message":"page not found"}`.
    pub fn start() -> FakeEngine {
        let dir = tempfile::tempdir().expect("a temp dir for the fake engine");
        let socket = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&socket).expect("bind the fake engine's socket");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                routes: HashMap::new(),
                mode: Mode::Answer,
                requests: Vec::new(),
                facts: Facts {
                    experimental: false,
                    version: "26.1.5".into(),
                    containers: Vec::new(),
                    live_restore: false,
                },
            }),
            recorded: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-engine".into())
            .spawn(move || serve(listener, sh))
            .expect("start the fake engine's thread");
        FakeEngine {
            socket,
            shared,
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// An engine answering like dockerd 26.1.5: `/_ping` (with
    /// `Docker-Experimental`), `/version` (`Experimental` only when on, as
    /// dockerd does), `/info`, `/containers/json` (no containers).
    pub fn docker(experimental: bool) -> FakeEngine {
        let e = FakeEngine::start();
        e.shared.lock().facts.experimental = experimental;
        e.refresh();
        e
    }

    /// The socket to connect to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// An [`Api`] for this engine (2 s bound).
    pub fn api(&self) -> Api {
        let mut api = Api::at(&self.socket);
        api.timeout = Duration::from_secs(2);
        api
    }

    /// Script (or re-script) the answer to `"METHOD /path"` (or
    /// `"METHOD /path?query"`, which wins over the bare path).
    pub fn set(&self, route: &str, reply: Reply) {
        self.script(route, vec![reply]);
    }

    /// Script successive answers to a route: the first to the next
    /// request, and so on; the last one answers every request after.
    pub fn script(&self, route: &str, replies: Vec<Reply>) {
        assert!(!replies.is_empty(), "no answer scripted for {route}");
        self.shared.lock().routes.insert(route.to_string(), replies);
    }

    /// Forget the answer to a route (it is then 404).
    pub fn remove(&self, route: &str) {
        self.shared.lock().routes.remove(route);
    }

    /// How new connections are treated from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().mode = mode;
    }

    /// Turn experimental on or off in the preset answers.
    pub fn set_experimental(&self, on: bool) {
        self.shared.lock().facts.experimental = on;
        self.refresh();
    }

    /// Running containers of these names (no others) in `/containers/json`.
    pub fn set_containers(&self, names: &[&str]) {
        self.shared.lock().facts.containers =
            names.iter().map(|n| FakeContainer::running(n)).collect();
        self.refresh();
    }

    /// Add a container (or replace the one of its name): it is listed by
    /// `/containers/json` (when running; `?all=1` lists it anyway), and
    /// `GET /containers/{name}/json` and `GET /containers/{id}/json` answer
    /// its inspect.
    pub fn add_container(&self, c: &FakeContainer) {
        {
            let mut st = self.shared.lock();
            st.facts.containers.retain(|x| x.name != c.name);
            st.facts.containers.push(c.clone());
            for key in [&c.name, &c.id] {
                st.routes.insert(
                    format!("GET /containers/{key}/json"),
                    vec![Reply::json(200, c.inspect())],
                );
            }
        }
        self.refresh();
    }

    /// The engine version in `/version` and `/_ping`'s `Server` header.
    pub fn set_version(&self, version: &str) {
        self.shared.lock().facts.version = version.into();
        self.refresh();
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// `GET /_ping`, ... for every request so far.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests().iter().map(Request::line).collect()
    }

    /// The requests once there are at least `n`: each recorded request
    /// wakes this up (given up after 10 s, so that a test that waits for a
    /// request never sent fails instead of hanging). For asserting after a
    /// client gave up on a hung engine, whose connection thread may record
    /// the request after the client returned.
    pub fn wait_requests(&self, n: usize) -> Vec<Request> {
        let until = Instant::now() + Duration::from_secs(10);
        let mut st = self.shared.lock();
        while st.requests.len() < n {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .shared
                .recorded
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        st.requests.clone()
    }

    /// Rewrite the preset routes from the facts.
    fn refresh(&self) {
        let mut st = self.shared.lock();
        let f = st.facts.clone();
        let ping = Reply::text(200, "OK")
            .header("Api-Version", "1.45")
            .header("Cache-Control", "no-cache, no-store, must-revalidate")
            .header(
                "Docker-Experimental",
                if f.experimental { "true" } else { "false" },
            )
            .header("Ostype", "linux")
            .header("Pragma", "no-cache")
            .header("Server", &format!("Docker/{} (linux)", f.version));
        st.routes.insert("GET /_ping".into(), vec![ping.clone()]);
        st.routes.insert(
            "HEAD /_ping".into(),
            vec![Reply {
                body: String::new(),
                ..ping
            }],
        );
        let mut version = json!({
            "Platform": {"Name": "Docker Engine - Community"},
            "Components": [
                {"Name": "Engine", "Version": f.version},
                {"Name": "containerd", "Version": "1.7.13"},
                {"Name": "runc", "Version": "1.1.12"},
            ],
            "Version": f.version,
            "ApiVersion": "1.45",
            "MinAPIVersion": "1.24",
            "Os": "linux",
            "Arch": "amd64",
        });
        if f.experimental {
            version["Experimental"] = json!(true);
        }
        st.routes
            .insert("GET /version".into(), vec![Reply::json(200, version)]);
        let running = f
            .containers
            .iter()
            .filter(|c| c.status == "running")
            .count();
        st.routes.insert(
            "GET /info".into(),
            vec![Reply::json(
                200,
                json!({
                    "ServerVersion": f.version,
                    "ExperimentalBuild": f.experimental,
                    "LiveRestoreEnabled": f.live_restore,
                    "Containers": f.containers.len(),
                    "ContainersRunning": running,
                    "DockerRootDir": "/var/lib/docker",
                    "Driver": "overlay2",
                    "KernelVersion": "6.12.38+deb13-amd64",
                }),
            )],
        );
        let entry = |c: &FakeContainer| {
            json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": "bela:1.4",
                "State": c.status,
                "Status": if c.status == "running" { "Up 2 minutes" } else { "Exited (0) 1 minute ago" },
            })
        };
        let list: Vec<Value> = f
            .containers
            .iter()
            .filter(|c| c.status == "running")
            .map(entry)
            .collect();
        st.routes.insert(
            "GET /containers/json".into(),
            vec![Reply::json(200, json!(list))],
        );
        let all: Vec<Value> = f.containers.iter().map(entry).collect();
        st.routes.insert(
            "GET /containers/json?all=1".into(),
            vec![Reply::json(200, json!(all))],
        );
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The answer to a request: the exact route, else without the query, else
/// without an API version prefix (`/v1.45/_ping`), else dockerd's 404. A
/// sequence gives its first answer and moves on, until its last.
fn reply_for(routes: &mut HashMap<String, Vec<Reply>>, req: &Request) -> Reply {
    let bare = req.path.split('?').next().unwrap_or_default();
    let strip = |p: &str| {
        p.strip_prefix("/v")
            .and_then(|r| r.split_once('/'))
            .filter(|(v, _)| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .map(|(_, rest)| format!("/{rest}"))
    };
    let candidates = [
        Some(req.path.clone()),
        Some(bare.to_string()),
        strip(&req.path),
        strip(bare),
    ];
    for p in candidates.into_iter().flatten() {
        if let Some(list) = routes.get_mut(&format!("{} {p}", req.method)) {
            return if list.len() > 1 {
                list.remove(0)
            } else {
                list[0].clone()
            };
        }
    }
    Reply::error(404, "page not found")
}

fn serve(listener: UnixListener, shared: Arc<Shared>) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let sh = shared.clone();
                conns.push(std::thread::spawn(move || handle(stream, &sh)));
                conns.retain(|h| !h.is_finished());
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    for h in conns {
        let _ = h.join();
    }
}

/// Hold a connection open, silent, until the engine is dropped.
fn hold(shared: &Shared) {
    while !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn handle(mut s: UnixStream, shared: &Shared) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(req) = read_request(&mut s) else {
        return;
    };
    let (mode, reply) = {
        let mut st = shared.lock();
        let reply = reply_for(&mut st.routes, &req);
        st.requests.push(req);
        shared.recorded.notify_all();
        (st.mode, reply)
    };
    match mode {
        Mode::Answer => {
            let mut left = reply.stall_after.unwrap_or(usize::MAX);
            for piece in reply.pieces() {
                let n = piece.len().min(left);
                if s.write_all(&piece[..n]).is_err() {
                    return;
                }
                let _ = s.flush();
                left -= n;
                if left == 0 {
                    hold(shared);
                    return;
                }
            }
        }
        Mode::Close => {}
        Mode::Hang => hold(shared),
    }
}

/// Read a request: its head (httparse), and its Content-Length body.
fn read_request(s: &mut UnixStream) -> Option<Request> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let (mut req, end) = loop {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut r = httparse::Request::new(&mut slots);
        match r.parse(&raw) {
            Ok(httparse::Status::Complete(end)) => {
                let req = Request {
                    method: r.method?.to_string(),
                    path: r.path?.to_string(),
                    version: format!("HTTP/1.{}", r.version?),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).trim().to_string(),
                            )
                        })
                        .collect(),
                    body: String::new(),
                };
                break (req, end);
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return None,
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if raw.len() > 1 << 20 {
            return None;
        }
    };
    let body_len: usize = req
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = raw[end..].to_vec();
    while body.len() < body_len {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    body.truncate(body_len);
    req.body = String::from_utf8_lossy(&body).into_owned();
    Some(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_request(sock: &Path, request: &str) -> String {
        let mut s = UnixStream::connect(sock).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn raw_get(sock: &Path, path: &str) -> String {
        raw_request(sock, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
    }

    #[test]
    fn fake_docker_engine_routes_and_records() {
        let e = FakeEngine::docker(true);
        let ping = raw_get(e.socket(), "/v1.45/_ping");
        assert!(ping.starts_with("HTTP/1.1 200 OK\r\n"), "{ping}");
        assert!(ping.contains("Docker-Experimental: true\r\n"), "{ping}");
        assert!(ping.ends_with("\r\n\r\nOK"), "{ping}");
        let missing = raw_get(e.socket(), "/nope?x=1");
        assert!(missing.starts_with("HTTP/1.1 404 Not Found"), "{missing}");
        assert!(
            missing.ends_with(r#"{"message":"page not found"}"#),
            "{missing}"
        );
        e.set("GET /containers/json", Reply::text(500, "boom"));
        let list = raw_get(e.socket(), "/containers/json?all=0");
        assert!(list.starts_with("HTTP/1.1 500"), "{list}");
        let reqs = e.requests();
        assert_eq!(
            e.request_lines(),
            [
                "GET /v1.45/_ping",
                "GET /nope?x=1",
                "GET /containers/json?all=0"
            ]
        );
        assert_eq!(reqs[0].version, "HTTP/1.1");
        assert_eq!(reqs[0].header("HOST"), Some("x"));
        assert_eq!(reqs[1].query("x").as_deref(), Some("1"));
    }

    #[test]
    fn fake_docker_engine_records_bodies_and_query() {
        let e = FakeEngine::start();
        e.set("POST /containers/my%20app/checkpoints", Reply::empty(201));
        let body = r#"{"CheckpointID":"a/b","Exit":true}"#;
        let answer = raw_request(
            e.socket(),
            &format!(
                "POST /v1.45/containers/my%20app/checkpoints?dir=%2Ftmp&x HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        );
        assert!(answer.starts_with("HTTP/1.1 201 Created\r\n"), "{answer}");
        assert!(answer.ends_with("Content-Length: 0\r\n\r\n"), "{answer}");
        let r = &e.requests()[0];
        assert_eq!(r.bare_path(), "/v1.45/containers/my app/checkpoints");
        assert_eq!(r.query("dir").as_deref(), Some("/tmp"));
        assert_eq!(r.query("x").as_deref(), Some(""));
        assert_eq!(r.query("y"), None);
        assert_eq!(r.body, body);
        assert_eq!(r.json()["CheckpointID"], "a/b");
    }

    #[test]
    fn fake_docker_engine_sequences_and_framings() {
        let e = FakeEngine::start();
        e.script(
            "POST /x",
            vec![Reply::error(500, "first"), Reply::empty(204)],
        );
        let post = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        assert!(raw_request(e.socket(), post).contains("first"));
        for _ in 0..2 {
            let a = raw_request(e.socket(), post);
            assert!(a.starts_with("HTTP/1.1 204 No Content\r\n"), "{a}");
            assert!(a.ends_with("\r\n\r\n"), "{a}");
        }
        e.set("GET /c", Reply::text(200, "hello world").chunked(4));
        let c = raw_get(e.socket(), "/c");
        assert!(c.contains("Transfer-Encoding: chunked\r\n"), "{c}");
        assert!(
            c.ends_with("\r\n\r\n4\r\nhell\r\n4\r\no wo\r\n3\r\nrld\r\n0\r\n\r\n"),
            "{c:?}"
        );
        e.set("GET /u", Reply::text(200, "to the end").until_close());
        let u = raw_get(e.socket(), "/u");
        assert!(!u.contains("Content-Length"), "{u}");
        assert!(u.ends_with("\r\n\r\nto the end"), "{u}");
        e.set("GET /r", Reply::raw(b"SSH-2.0-OpenSSH_9.2\r\n"));
        assert_eq!(raw_get(e.socket(), "/r"), "SSH-2.0-OpenSSH_9.2\r\n");
    }

    #[test]
    fn fake_docker_engine_containers() {
        let e = FakeEngine::docker(true);
        let web = FakeContainer::running("web");
        e.add_container(&web);
        e.add_container(&FakeContainer::running("old").exited());
        let list = raw_get(e.socket(), "/containers/json");
        assert!(list.contains(r#""Names":["/web"]"#), "{list}");
        assert!(!list.contains("/old"), "{list}");
        let all = raw_get(e.socket(), "/containers/json?all=1");
        assert!(all.contains("/old"), "{all}");
        let by_id = raw_get(e.socket(), &format!("/containers/{}/json", web.id));
        assert!(by_id.contains(r#""Name":"/web""#), "{by_id}");
    }

    #[test]
    fn fake_docker_engine_close_stall_and_drop() {
        let e = FakeEngine::docker(false);
        e.set_mode(Mode::Close);
        assert_eq!(raw_get(e.socket(), "/_ping"), "");
        e.set_mode(Mode::Answer);
        e.set("GET /slow", Reply::text(200, "abcdef").stall_after(20));
        let sock = e.socket().to_path_buf();
        let mut stalled = UnixStream::connect(&sock).unwrap();
        write!(stalled, "GET /slow HTTP/1.1\r\n\r\n").unwrap();
        let mut first = [0u8; 20];
        stalled.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200 OK\r\nCon");
        e.set_mode(Mode::Hang);
        let mut hung = UnixStream::connect(&sock).unwrap();
        write!(hung, "GET /_ping HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(e.wait_requests(3).len(), 3);
        // Dropping stops the engine, hung and stalled connections included.
        drop(e);
        let mut rest = Vec::new();
        hung.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        stalled.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{rest:?}");
        assert!(UnixStream::connect(&sock).is_err());
    }
}
