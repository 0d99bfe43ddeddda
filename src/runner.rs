//! Running commands: the one way dockpoint starts a process, each bounded
//! by a timeout; a real runner and a recording fake for unit tests.

use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// A command to run: program, arguments, extra environment, time bound.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
}

impl Cmd {
    pub fn new(program: &str, args: &[&str]) -> Self {
        Cmd {
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    /// The command line as a person would type it.
    pub fn line(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

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

    /// The last `n` lines of stderr and stdout, for error messages.
    pub fn tail(&self, n: usize) -> String {
        let all = format!("{}{}", self.stdout, self.stderr);
        let lines: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Runs commands on the host. A trait so decision logic can be tested with a
/// recording fake; the real one is [`SystemRunner`].
pub trait Runner: Send + Sync {
    /// Run to completion; `on_line` sees each line of stdout and stderr as
    /// it comes (for progress).
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> std::io::Result<CmdOutput>;

    fn run(&self, cmd: &Cmd) -> std::io::Result<CmdOutput> {
        self.stream(cmd, &mut |_| {})
    }
}

/// Runs real processes, killing them after their timeout.
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> std::io::Result<CmdOutput> {
        use std::io::BufRead;
        use std::sync::mpsc;
        let mut child = Command::new(&cmd.program)
            .args(&cmd.args)
            .envs(cmd.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let (tx, rx) = mpsc::channel::<(bool, String)>();
        let spawn_reader = |r: Box<dyn std::io::Read + Send>, is_err: bool| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut r = std::io::BufReader::new(r);
                let mut buf = Vec::new();
                while let Ok(n) = r.read_until(b'\n', &mut buf) {
                    if n == 0 {
                        break;
                    }
                    let _ = tx.send((is_err, String::from_utf8_lossy(&buf).into_owned()));
                    buf.clear();
                }
            })
        };
        let t1 = spawn_reader(Box::new(child.stdout.take().expect("piped")), false);
        let t2 = spawn_reader(Box::new(child.stderr.take().expect("piped")), true);
        drop(tx);
        let deadline = std::time::Instant::now() + cmd.timeout;
        let mut out = CmdOutput::default();
        loop {
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok((is_err, line)) => {
                    on_line(line.trim_end());
                    if is_err {
                        out.stderr.push_str(&line);
                    } else {
                        out.stdout.push_str(&line);
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(st) = child.try_wait()? {
                let _ = (t1.join(), t2.join());
                while let Ok((is_err, line)) = rx.try_recv() {
                    on_line(line.trim_end());
                    if is_err {
                        out.stderr.push_str(&line);
                    } else {
                        out.stdout.push_str(&line);
                    }
                }
                out.status = st.code();
                return Ok(out);
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "`{}` did not finish within {}s",
                        cmd.line(),
                        cmd.timeout.as_secs()
                    ),
                ));
            }
        }
    }
}

/// A fake for unit tests of decision logic: records every command line and
/// answers from a script of (command-line prefix, output) pairs.
#[derive(Default)]
pub struct RecordingRunner {
    pub calls: Mutex<Vec<String>>,
    pub answers: Vec<(String, CmdOutput)>,
}

impl RecordingRunner {
    pub fn answer(mut self, prefix: &str, status: i32, stdout: &str, stderr: &str) -> Self {
        self.answers.push((
            prefix.into(),
            CmdOutput {
                status: Some(status),
                stdout: stdout.into(),
                stderr: stderr.into(),
            },
        ));
        self
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }
}

impl Runner for RecordingRunner {
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> std::io::Result<CmdOutput> {
        let line = cmd.line();
        self.calls.lock().expect("lock").push(line.clone());
        let out = self
            .answers
            .iter()
            .find(|(prefix, _)| line.starts_with(prefix.as_str()))
            .map(|(_, out)| out.clone())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, line))?;
        for l in out.stdout.lines().chain(out.stderr.lines()) {
            on_line(l);
        }
        Ok(out)
    }
}

/// A shared runner (tests keep a handle on a recording runner they lend out).
impl<T: Runner> Runner for std::sync::Arc<T> {
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> std::io::Result<CmdOutput> {
        (**self).stream(cmd, on_line)
    }
}
