//! A just-style builder: a temp directory as the host's root, the real
//! binary run against it, and helpers to look at what it left.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

pub const BIN: &str = env!("CARGO_BIN_EXE_dockpoint");

pub const DEBIAN_13: &str = "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\nID=debian\n";

pub struct Root {
    pub dir: tempfile::TempDir,
}

impl Root {
    pub fn new() -> Self {
        let r = Root {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        r.write("/etc/os-release", DEBIAN_13);
        r
    }

    pub fn empty() -> Self {
        Root {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, abs: &str) -> PathBuf {
        self.dir.path().join(abs.trim_start_matches('/'))
    }

    pub fn write(&self, abs: &str, content: impl AsRef<[u8]>) {
        let p = self.path(abs);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn read(&self, abs: &str) -> String {
        fs::read_to_string(self.path(abs)).unwrap()
    }

    pub fn exists(&self, abs: &str) -> bool {
        self.path(abs).exists()
    }

    /// Every file under the root with its bytes: to prove nothing changed.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.path());
            for e in entries {
                let p = e.path();
                let m = fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    walk(&p, out);
                } else if m.is_file() {
                    out.push((p.clone(), fs::read(&p).unwrap()));
                } else {
                    out.push((p.clone(), Vec::new()));
                }
            }
        }
        let mut v = Vec::new();
        walk(self.dir.path(), &mut v);
        v
    }

    /// `dockpoint setup --root <root> <args>`, stdin closed.
    pub fn setup(&self, args: &[&str]) -> Run {
        let mut all = vec!["setup", "--root", self.dir.path().to_str().unwrap()];
        all.extend_from_slice(args);
        run(&all)
    }

    pub fn backups(&self, abs: &str) -> Vec<PathBuf> {
        let p = self.path(abs);
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let mut v: Vec<PathBuf> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|q| {
                let n = q.file_name().unwrap().to_string_lossy();
                n.starts_with(&format!("{name}.dockpoint-")) && n.ends_with(".bak")
            })
            .collect();
        v.sort();
        v
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", self.stdout))
    }

    pub fn step(&self, id: &str) -> serde_json::Value {
        self.json()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no step {id}"))
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

pub fn run(args: &[&str]) -> Run {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run dockpoint");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Wait for a child, killing it after `secs` (a hang must fail the test,
/// not hold CI): its output, or a panic naming the hang.
#[allow(dead_code)]
pub fn wait_or_kill(mut child: std::process::Child, secs: u64) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx
            .recv_timeout(std::time::Duration::from_secs(secs))
            .is_err()
        {
            // SAFETY: kill(2) on the child we spawned.
            unsafe { libc_kill(pid as i32) };
            return true;
        }
        false
    });
    let out = child.stdout.take();
    let err = child.stderr.take();
    let mut o = Vec::new();
    let mut e = Vec::new();
    if let Some(mut s) = out {
        let _ = std::io::Read::read_to_end(&mut s, &mut o);
    }
    if let Some(mut s) = err {
        let _ = std::io::Read::read_to_end(&mut s, &mut e);
    }
    let status = child.wait().expect("wait");
    let _ = tx.send(());
    let killed = watchdog.join().unwrap_or(false);
    assert!(!killed, "the command hung for {secs}s and was killed");
    std::process::Output {
        status,
        stdout: o,
        stderr: e,
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn c_kill(pid: i32, sig: i32) -> i32;
}

/// SIGKILL a pid.
unsafe fn libc_kill(pid: i32) {
    // SAFETY: the caller passes a child's pid.
    unsafe {
        c_kill(pid, 9);
    }
}

/// Whether the tests run as root (some need to drop privileges or mount).
#[allow(dead_code)]
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// `dockpoint setup --root DIR --no-install EXTRA...` at a pseudo-terminal,
/// as a person answers it; sh reports the exit code on the terminal
/// (`exit=N`) once dockpoint has exited.
pub fn setup_at_terminal(r: &Root, extra: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "\"$0\" \"$@\"; echo \"exit=$?\"", BIN])
        .args([
            "setup",
            "--root",
            r.dir.path().to_str().unwrap(),
            "--no-install",
        ])
        .args(extra)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    rexpect::session::spawn_command(cmd, Some(20_000)).expect("spawn in a pty")
}
