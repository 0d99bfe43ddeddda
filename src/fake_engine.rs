//! A fake docker engine for tests: a unix socket in a temp dir answering
//! scripted HTTP/1.0 responses per `METHOD path`, recording every request,
//! able to hang (accept, read, never answer) or close (accept, read, close
//! without a byte), and to change its answers while running (experimental
//! false before a restart, true after). It serves on a background thread and
//! stops when dropped.

use crate::docker::Api;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: body.into(),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = format!("HTTP/1.0 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        out.push_str(&self.body);
        out.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        500 => "Internal Server Error",
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
    pub path: String,
    /// `HTTP/1.0`, `HTTP/1.1`.
    pub version: String,
    pub headers: Vec<(String, String)>,
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
}

/// What the preset engine ([`FakeEngine::docker`]) reports.
#[derive(Debug, Clone)]
struct Facts {
    experimental: bool,
    version: String,
    containers: Vec<String>,
    live_restore: bool,
}

struct State {
    routes: HashMap<String, Reply>,
    mode: Mode,
    requests: Vec<Request>,
    facts: Facts,
}

struct Shared {
    state: Mutex<State>,
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

    /// Script (or re-script) the answer to `"METHOD /path"`.
    pub fn set(&self, route: &str, reply: Reply) {
        self.shared.lock().routes.insert(route.to_string(), reply);
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

    /// The running containers' names in `/containers/json`.
    pub fn set_containers(&self, names: &[&str]) {
        self.shared.lock().facts.containers = names.iter().map(|s| s.to_string()).collect();
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

    /// The requests once there are at least `n` (waiting up to 10 s for
    /// connection threads to record them), for asserting after a client
    /// gave up on a hung engine.
    pub fn wait_requests(&self, n: usize) -> Vec<Request> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.requests();
            if r.len() >= n || Instant::now() >= until {
                return r;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Rewrite the preset routes from the facts.
    fn refresh(&self) {
        let mut st = self.shared.lock();
        let f = st.facts.clone();
        let ping = Reply::text(200, "OK")
            .header("Api-Version", "1.45")
            .header(
                "Docker-Experimental",
                if f.experimental { "true" } else { "false" },
            )
            .header("Ostype", "linux")
            .header("Server", &format!("Docker/{} (linux)", f.version));
        st.routes.insert("GET /_ping".into(), ping.clone());
        st.routes.insert(
            "HEAD /_ping".into(),
            Reply {
                body: String::new(),
                ..ping
            },
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
            .insert("GET /version".into(), Reply::json(200, version));
        st.routes.insert(
            "GET /info".into(),
            Reply::json(
                200,
                json!({
                    "ServerVersion": f.version,
                    "ExperimentalBuild": f.experimental,
                    "LiveRestoreEnabled": f.live_restore,
                    "Containers": f.containers.len(),
                    "ContainersRunning": f.containers.len(),
                }),
            ),
        );
        let list: Vec<Value> = f
            .containers
            .iter()
            .enumerate()
            .map(|(i, n)| json!({"Id": format!("{i:064x}"), "Names": [format!("/{n}")], "State": "running"}))
            .collect();
        st.routes
            .insert("GET /containers/json".into(), Reply::json(200, json!(list)));
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
/// without an API version prefix (`/v1.45/_ping`), else dockerd's 404.
fn reply_for(routes: &HashMap<String, Reply>, req: &Request) -> Reply {
    let bare = req.path.split('?').next().unwrap_or_default();
    let unversioned = bare
        .strip_prefix("/v")
        .and_then(|r| r.split_once('/'))
        .filter(|(v, _)| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .map(|(_, rest)| format!("/{rest}"));
    [Some(req.path.clone()), Some(bare.to_string()), unversioned]
        .into_iter()
        .flatten()
        .find_map(|p| routes.get(&format!("{} {p}", req.method)).cloned())
        .unwrap_or_else(|| Reply::json(404, json!({"message": "page not found"})))
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

fn handle(mut s: UnixStream, shared: &Shared) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(req) = read_request(&mut s) else {
        return;
    };
    let (mode, reply) = {
        let mut st = shared.lock();
        let reply = reply_for(&st.routes, &req);
        st.requests.push(req);
        (st.mode, reply)
    };
    match mode {
        Mode::Answer => {
            let _ = s.write_all(&reply.bytes());
        }
        Mode::Close => {}
        Mode::Hang => {
            while !shared.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Read a request's head (and a Content-Length body, which is dropped).
fn read_request(s: &mut UnixStream) -> Option<Request> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(at) = memchr::memmem::find(&raw, b"\r\n\r\n") {
            break at;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if raw.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let (method, path, version) = (first.next()?, first.next()?, first.next().unwrap_or(""));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let req = Request {
        method: method.into(),
        path: path.into(),
        version: version.into(),
        headers,
    };
    let body_len: usize = req
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut have = raw.len() - end - 4;
    while have < body_len {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => have += n,
        }
    }
    Some(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_get(sock: &Path, path: &str) -> String {
        let mut s = UnixStream::connect(sock).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn fake_docker_engine_routes_and_records() {
        let e = FakeEngine::docker(true);
        let ping = raw_get(e.socket(), "/v1.45/_ping");
        assert!(ping.starts_with("HTTP/1.0 200 OK\r\n"), "{ping}");
        assert!(ping.contains("Docker-Experimental: true\r\n"), "{ping}");
        assert!(ping.ends_with("\r\n\r\nOK"), "{ping}");
        let missing = raw_get(e.socket(), "/nope?x=1");
        assert!(missing.starts_with("HTTP/1.0 404 Not Found"), "{missing}");
        assert!(
            missing.ends_with(r#"{"message":"page not found"}"#),
            "{missing}"
        );
        e.set("GET /containers/json", Reply::text(500, "boom"));
        let list = raw_get(e.socket(), "/containers/json?all=1");
        assert!(list.starts_with("HTTP/1.0 500"), "{list}");
        let reqs = e.requests();
        assert_eq!(
            e.request_lines(),
            [
                "GET /v1.45/_ping",
                "GET /nope?x=1",
                "GET /containers/json?all=1"
            ]
        );
        assert_eq!(reqs[0].version, "HTTP/1.1");
        assert_eq!(reqs[0].header("HOST"), Some("x"));
    }

    #[test]
    fn fake_docker_engine_close_and_drop() {
        let e = FakeEngine::docker(false);
        e.set_mode(Mode::Close);
        assert_eq!(raw_get(e.socket(), "/_ping"), "");
        e.set_mode(Mode::Hang);
        let sock = e.socket().to_path_buf();
        let mut hung = UnixStream::connect(&sock).unwrap();
        write!(hung, "GET /_ping HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(e.wait_requests(2).len(), 2);
        // Dropping stops the engine, hung connections included.
        drop(e);
        let mut rest = Vec::new();
        hung.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert!(UnixStream::connect(&sock).is_err());
    }
}
