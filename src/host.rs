//! The one host context passed everywhere: the root directory every path is
//! resolved under, the command runner, and the terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Runs commands on the host. A trait so decision logic can be tested with a
/// recording fake; the real one is [`SystemRunner`].
pub trait Runner: Send + Sync {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> std::io::Result<CmdOutput>;
}

/// Runs real processes, killing them after the timeout.
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> std::io::Result<CmdOutput> {
        use std::io::Read;
        let mut child = Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            if let Some(st) = child.try_wait()? {
                break st.code();
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("`{program}` did not finish within {}s", timeout.as_secs()),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok(CmdOutput {
            status,
            stdout: String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned(),
            stderr: String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned(),
        })
    }
}

/// A fake for unit tests of decision logic: records every call and answers
/// from a script of (program, output) pairs.
#[derive(Default)]
pub struct RecordingRunner {
    pub calls: Mutex<Vec<String>>,
    pub answers: Vec<(String, CmdOutput)>,
}

impl Runner for RecordingRunner {
    fn run(&self, program: &str, args: &[&str], _: Duration) -> std::io::Result<CmdOutput> {
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        self.calls.lock().expect("lock").push(line.clone());
        self.answers
            .iter()
            .find(|(prefix, _)| line.starts_with(prefix.as_str()))
            .map(|(_, out)| out.clone())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, line))
    }
}

/// The terminal: whether we may prompt, and whether to colour.
#[derive(Debug, Clone, Copy)]
pub struct Term {
    pub interactive: bool,
    pub color: bool,
}

impl Term {
    pub fn detect() -> Self {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let color = allowed && std::io::stderr().is_terminal();
        console::set_colors_enabled(allowed && std::io::stdout().is_terminal());
        console::set_colors_enabled_stderr(color);
        Term { interactive, color }
    }
}

pub struct Host {
    /// The directory treated as the host's `/`.
    pub root: PathBuf,
    /// True when `root` is the live system (no `--root`): live-only steps run.
    pub live: bool,
    pub runner: Box<dyn Runner>,
    pub term: Term,
}

impl Host {
    pub fn new(root: Option<PathBuf>, runner: Box<dyn Runner>, term: Term) -> Self {
        let live = root.is_none();
        Host {
            root: root.unwrap_or_else(|| PathBuf::from("/")),
            live,
            runner,
            term,
        }
    }

    /// The path of host path `abs` (like `/etc/criu/runc.conf`) under the root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }
}
