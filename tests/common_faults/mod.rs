//! Helpers for the confinement and safe-write tests: a temp dir `T` with the
//! root `T/box/R` and victims beside it (`T/outside`, `T` itself), a
//! snapshot of everything outside the root, and runs of the real binary
//! under a watchdog (a hang fails the test instead of hanging CI).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_dockpoint");

/// Long enough for a slow debug build on a loaded 2-core CI machine; only
/// there to turn a hang into a failure, never a timing assertion.
pub const WATCHDOG: Duration = Duration::from_secs(60);

pub const DEBIAN_13: &str = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\nID=debian\n";

/// Every victim line carries this: it must never show up in any output.
pub const SECRET: &str = "SECRET-LINE";

/// A victim secret file.
pub const VICTIM_SECRET: &str = "SECRET-LINE-1 the first line of an outside file\nSECRET-LINE-2\n";
/// A victim daemon.json: valid JSON, experimental of the wrong type (so a
/// plain run refuses it, a `--repair` run rewrites it, a diff shows it).
pub const VICTIM_DAEMON: &str =
    "{\n  \"SECRET-LINE-3\": \"x\",\n  \"experimental\": \"SECRET-LINE-4\"\n}\n";
/// A victim runc.conf: every line bad (a `--repair` run comments them all out).
pub const VICTIM_RUNC: &str = "SECRET-LINE-5 is not a CRIU option\nSECRET-LINE-6\n";
/// A victim os-release.
pub const VICTIM_OS: &str = "PRETTY_NAME=\"SECRET-LINE-7 Linux\"\nID=debian\nVERSION_ID=\"12\"\n";
/// A victim CRIU log: a line the catalogue recognises, with a secret on it.
pub const VICTIM_LOG: &str = "(00.010000) SECRET-LINE-8\n(00.034869) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option. SECRET-LINE-9\n";

/// `T/box/R` as the root, victims in `T/outside` and `T`.
pub struct Jail {
    pub t: tempfile::TempDir,
    pub root: PathBuf,
    pub outside: PathBuf,
}

impl Default for Jail {
    fn default() -> Self {
        Self::new()
    }
}

impl Jail {
    /// A root with a Debian os-release, and the victims outside it:
    /// `T/outside/{secret.txt,daemon.json,runc.conf,os-release,x.log}`,
    /// `T/outside/docker/daemon.json`, `T/outside/criu/runc.conf`,
    /// `T/daemon.json`, `T/runc.conf`, `T/x`.
    pub fn new() -> Self {
        let t = tempfile::tempdir().expect("tempdir");
        let root = t.path().join("box/R");
        let outside = t.path().join("outside");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/os-release"), DEBIAN_13).unwrap();
        let j = Jail { t, root, outside };
        for (rel, text) in [
            ("outside/secret.txt", VICTIM_SECRET),
            ("outside/daemon.json", VICTIM_DAEMON),
            ("outside/runc.conf", VICTIM_RUNC),
            ("outside/os-release", VICTIM_OS),
            ("outside/x.log", VICTIM_LOG),
            ("outside/docker/daemon.json", VICTIM_DAEMON),
            ("outside/criu/runc.conf", VICTIM_RUNC),
            ("outside/etc/os-release", VICTIM_OS),
            ("daemon.json", VICTIM_DAEMON),
            ("runc.conf", VICTIM_RUNC),
            ("x", VICTIM_RUNC),
        ] {
            let p = j.t.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, text).unwrap();
        }
        // Distinct modes, so a chmod through a link would show too.
        fs::set_permissions(
            j.outside.join("daemon.json"),
            fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        j
    }

    /// `T` itself.
    pub fn top(&self) -> &Path {
        self.t.path()
    }

    /// The root as a string for `--root`.
    pub fn root_arg(&self) -> &str {
        self.root.to_str().unwrap()
    }

    /// A host path inside the root, as a path on this machine.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    /// The machine path of `T/outside`, as a host path inside the root
    /// (where a link to it lands when `--root` is a chroot).
    pub fn outside_in_root(&self) -> PathBuf {
        self.root
            .join(self.outside.strip_prefix("/").expect("absolute temp dir"))
    }

    pub fn write(&self, abs: &str, content: impl AsRef<[u8]>) {
        let p = self.path(abs);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn mkdir(&self, abs: &str) {
        fs::create_dir_all(self.path(abs)).unwrap();
    }

    /// `ln -s target <root>/abs` (parents created).
    pub fn link(&self, abs: &str, target: impl AsRef<Path>) {
        let p = self.path(abs);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    /// Everything in `T` outside the root: path, kind, mode, owner, bytes.
    pub fn snapshot_outside(&self) -> Snapshot {
        snapshot(self.top(), std::slice::from_ref(&self.root))
    }

    /// Assert nothing outside the root changed and no new path appeared.
    pub fn assert_outside_unchanged(&self, before: &Snapshot, what: &str) {
        let after = self.snapshot_outside();
        assert_same(before, &after, what);
    }

    pub fn dockpoint(&self, args: &[&str]) -> Out {
        run(Command::new(BIN).args(args))
    }

    /// `dockpoint setup --root R ARGS`.
    pub fn setup(&self, args: &[&str]) -> Out {
        let mut all = vec!["setup", "--root", self.root_arg()];
        all.extend_from_slice(args);
        self.dockpoint(&all)
    }

    /// `dockpoint doctor --root R ARGS`.
    pub fn doctor(&self, args: &[&str]) -> Out {
        let mut all = vec!["doctor", "--root", self.root_arg()];
        all.extend_from_slice(args);
        self.dockpoint(&all)
    }

    /// `dockpoint explain --root R ARGS`.
    pub fn explain(&self, args: &[&str]) -> Out {
        let mut all = vec!["explain", "--root", self.root_arg()];
        all.extend_from_slice(args);
        self.dockpoint(&all)
    }
}

/// One entry of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        bytes: Vec<u8>,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Link(PathBuf),
    Other {
        mode: u32,
    },
}

pub type Snapshot = BTreeMap<PathBuf, Node>;

/// Every path under `top` (not following links, not descending into `skip`).
pub fn snapshot(top: &Path, skip: &[PathBuf]) -> Snapshot {
    fn walk(dir: &Path, skip: &[PathBuf], out: &mut Snapshot) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let node = if ft.is_symlink() {
                Node::Link(fs::read_link(&p).unwrap())
            } else if ft.is_dir() {
                Node::Dir {
                    mode: m.mode(),
                    uid: m.uid(),
                    gid: m.gid(),
                }
            } else if ft.is_file() {
                Node::File {
                    mode: m.mode(),
                    uid: m.uid(),
                    gid: m.gid(),
                    bytes: fs::read(&p).unwrap(),
                }
            } else {
                Node::Other { mode: m.mode() }
            };
            let descend = ft.is_dir() && !skip.contains(&p);
            out.insert(p.clone(), node);
            if descend {
                walk(&p, skip, out);
            }
        }
    }
    let mut out = Snapshot::new();
    walk(top, skip, &mut out);
    out
}

/// Two snapshots are the same; the message names every difference.
pub fn assert_same(before: &Snapshot, after: &Snapshot, what: &str) {
    let mut diffs = Vec::new();
    for (p, n) in before {
        match after.get(p) {
            None => diffs.push(format!("removed: {}", p.display())),
            Some(m) if m != n => diffs.push(format!(
                "changed: {}\n    before: {}\n    after:  {}",
                p.display(),
                show(n),
                show(m)
            )),
            _ => {}
        }
    }
    for (p, n) in after {
        if !before.contains_key(p) {
            diffs.push(format!("NEW: {} ({})", p.display(), show(n)));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: paths outside the root changed:\n{}",
        diffs.join("\n")
    );
}

fn show(n: &Node) -> String {
    match n {
        Node::File {
            mode,
            uid,
            gid,
            bytes,
        } => format!(
            "file {:o} {uid}:{gid} {:?}",
            mode & 0o7777,
            String::from_utf8_lossy(bytes)
        ),
        Node::Dir { mode, uid, gid } => format!("dir {:o} {uid}:{gid}", mode & 0o7777),
        Node::Link(t) => format!("link -> {}", t.display()),
        Node::Other { mode } => format!("special {mode:o}"),
    }
}

/// A finished run.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn all(&self) -> String {
        format!(
            "`{}` exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what, self.status, self.stdout, self.stderr
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", self.all()))
    }

    pub fn step(&self, id: &str) -> serde_json::Value {
        self.json()["steps"]
            .as_array()
            .unwrap_or_else(|| panic!("no steps:\n{}", self.all()))
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no step {id}:\n{}", self.all()))
    }

    /// Never a panic, never a signal, never an exit code outside `allowed`.
    pub fn assert_exit_in(&self, allowed: &[i32]) {
        if let Err(e) = self.exit_in(allowed) {
            panic!("{e}");
        }
    }

    /// [`Out::assert_exit_in`] as a result, for tests that collect failures.
    pub fn exit_in(&self, allowed: &[i32]) -> Result<(), String> {
        if self.stderr.contains("panicked") {
            return Err(format!("dockpoint panicked:\n{}", self.all()));
        }
        match self.code() {
            Some(c) if allowed.contains(&c) => Ok(()),
            _ => Err(format!("exit must be one of {allowed:?}:\n{}", self.all())),
        }
    }

    /// No victim line in stdout or stderr.
    pub fn assert_no_secret(&self) {
        assert!(
            !self.stdout.contains(SECRET) && !self.stderr.contains(SECRET),
            "a line of a file outside the root was printed:\n{}",
            self.all()
        );
    }
}

/// A command for the binary (give it to [`run`]).
pub fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    c
}

/// Run to completion under the watchdog, capturing stdout and stderr
/// (stdin closed, NO_COLOR set).
pub fn run(c: &mut Command) -> Out {
    c.env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = describe(c);
    let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_bounded(&mut child, WATCHDOG, &what);
    Out {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        what,
    }
}

pub fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Read a pipe to its end on a thread.
pub fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Wait for a child; past `bound` kill it (by its pid: it is ours) and fail.
pub fn wait_bounded(child: &mut std::process::Child, bound: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{what}` did not finish within {}s: it hangs (killed it)",
                bound.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until `cond` holds; past `bound` fail with `what`.
pub fn wait_for(bound: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "waited {}s for {what}",
            bound.as_secs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `strace` is here and may trace a child of ours.
pub fn have_strace() -> bool {
    Command::new("strace")
        .args(["-f", "-o", "/dev/null", "-e", "trace=none", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The names in a directory (empty when it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Names of dockpoint's backups of `name` in `dir`.
pub fn backups(dir: &Path, name: &str) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(&format!("{name}.dockpoint-")) && n.ends_with(".bak"))
        .collect()
}

/// Names of backups being written or waiting for their final name
/// (`.NAME.dockpoint-tmp-RAND.bak-partial`, `....bak-STAMP`).
pub fn backups_in_progress(dir: &Path, name: &str) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(&format!(".{name}.dockpoint-tmp-")) && n.contains(".bak-"))
        .collect()
}

/// Names of dockpoint's temp files for new content in `dir` (not backups
/// in progress).
pub fn temps(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.contains(".dockpoint-tmp-") && !n.contains(".bak-"))
        .collect()
}

/// Every dockpoint temp file anywhere under `top`.
pub fn temps_under(top: &Path) -> Vec<PathBuf> {
    snapshot(top, &[])
        .into_keys()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".dockpoint-tmp-"))
        })
        .collect()
}

/// A dockpoint run under `strace -f` with an injection, stopped (by an
/// injected SIGSTOP) at a syscall until [`Traced::resume`].
pub struct Traced {
    pub child: std::process::Child,
    pub trace: PathBuf,
    pub what: String,
    pid: Option<i32>,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
    _dir: tempfile::TempDir,
}

impl Traced {
    /// `strace -f -o TRACE -e trace=SYSCALL -e inject=SYSCALL:signal=SIGSTOP:when=N dockpoint ARGS`,
    /// waited on until the tracee is stopped. Returns it and the pid of the
    /// stopped dockpoint.
    pub fn stopped_at(syscall: &str, when: u32, args: &[&str]) -> (Traced, i32) {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace");
        let mut c = Command::new("strace");
        c.arg("-f")
            .arg("-o")
            .arg(&trace)
            .arg("-e")
            .arg(format!("trace={syscall}"))
            .arg("-e")
            .arg(format!("inject={syscall}:signal=SIGSTOP:when={when}"))
            .arg(BIN)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = describe(&c);
        let mut child = c.spawn().expect("spawn strace");
        let out = Some(drain(child.stdout.take()));
        let err = Some(drain(child.stderr.take()));
        let mut t = Traced {
            child,
            trace,
            what,
            pid: None,
            out,
            err,
            _dir: dir,
        };
        let mut pid = None;
        let deadline = Instant::now() + WATCHDOG;
        while pid.is_none() {
            let text = fs::read_to_string(&t.trace).unwrap_or_default();
            pid = text
                .lines()
                .find(|l| l.contains("--- stopped by SIGSTOP ---"))
                .and_then(|l| l.split_whitespace().next()?.parse::<i32>().ok());
            if pid.is_some() {
                break;
            }
            if let Some(st) = t.child.try_wait().unwrap() {
                let (o, e) = t.outputs();
                panic!(
                    "`{}` ended ({st}) before stopping at {syscall} #{when}:\n{text}\n--- stdout ---\n{o}\n--- stderr ---\n{e}",
                    t.what
                );
            }
            if Instant::now() >= deadline {
                let _ = t.child.kill();
                let _ = t.child.wait();
                panic!("`{}` never stopped at {syscall} #{when}", t.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        t.pid = pid;
        (t, pid.unwrap())
    }

    fn outputs(&mut self) -> (String, String) {
        let o = self
            .out
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        let e = self
            .err
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        (o, e)
    }

    /// SIGCONT the stopped tracee and wait for the run to end.
    pub fn resume(mut self, pid: i32) -> Out {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGCONT,
        )
        .expect("SIGCONT");
        let status = wait_bounded(&mut self.child, WATCHDOG, &self.what);
        let (stdout, stderr) = self.outputs();
        Out {
            status,
            stdout,
            stderr,
            what: self.what.clone(),
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        // A failed assertion while stopped: end the stopped dockpoint and
        // our strace, each by its pid (both were started here).
        if let Ok(None) = self.child.try_wait() {
            if let Some(p) = self.pid {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Skip (with the reason printed) unless running as root.
pub fn need_root(test: &str) -> bool {
    if !is_root() {
        println!("SKIPPED {test}: needs root");
        eprintln!("SKIPPED {test}: needs root");
        return false;
    }
    true
}

/// Skip (with the reason printed) unless strace runs here.
pub fn need_strace(test: &str) -> bool {
    if !have_strace() {
        println!("SKIPPED {test}: needs strace (apt-get install strace)");
        eprintln!("SKIPPED {test}: needs strace (apt-get install strace)");
        return false;
    }
    true
}

/// Failures collected over the cases of one test, so that one run names
/// every failing case.
#[derive(Default)]
pub struct Failures(pub Vec<String>);

impl Failures {
    pub fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.0.push(msg());
        }
    }

    pub fn result(&mut self, r: Result<(), String>, ctx: &str) {
        if let Err(e) = r {
            self.0.push(format!("{ctx}: {e}"));
        }
    }

    pub fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} failing case(s):\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}
