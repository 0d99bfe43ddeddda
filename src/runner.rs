//! Running commands: the one way dockpoint starts a process, each bounded
//! by a timeout; a real runner and a recording fake for unit tests.
//!
//! # How the real runner ends a command
//!
//! Each command starts in a process group of its own, led by the command.
//! Its output is read in the calling thread with `poll(2)` on the two pipes
//! and on an exit event (a helper thread waits for the command's exit with
//! `waitid(WNOWAIT)`, leaving it unreaped, and closes a pipe when it comes).
//!
//! * When the command exits by itself, what it wrote is read (what is in the
//!   pipes at that moment, no more than their capacity) and the run ends,
//!   even if a process it left behind still holds the pipes open:
//!   `service docker restart` legitimately leaves dockerd running, and
//!   nothing is ever killed after a normal exit. Such a leftover writing to
//!   the closed pipes later gets EPIPE, as after a closed terminal.
//! * When the timeout passes first, the whole group gets SIGTERM (and
//!   SIGCONT, so a stopped member can act on it), has [`GRACE`] to finish
//!   (the command exiting and the pipes closing end it early: apt's dpkg
//!   keeps the pipes until it is gone), then what is left of the group gets
//!   SIGKILL and the command is reaped. The command is reaped only after
//!   the last signal, so its pid, the group's id, cannot be reused by then.
//!   A daemon that made itself a session of its own (start-stop-daemon,
//!   `setsid`) is out of the group and is not touched.
//!
//! A command in its own group is not in the terminal's foreground group, so
//! Ctrl-C at the terminal would reach dockpoint only. The first real run
//! therefore installs handlers for SIGINT, SIGTERM, SIGHUP and SIGQUIT
//! (where they are still at their default) that pass the signal on to the
//! groups of the commands running at that moment, then end dockpoint the
//! way the signal would have. A handler the program installed itself is
//! kept; it can pass the signal on with [`signal_running_commands`].

use memchr::memchr;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// A command to run: program, arguments, extra environment, time bound.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A command equals a command line when its [`Cmd::line`] is that line
/// (environment and timeout aside), so tests can write
/// `assert_eq!(runner.calls(), ["apt-cache policy criu"])`.
impl PartialEq<str> for Cmd {
    fn eq(&self, line: &str) -> bool {
        self.line() == line
    }
}

impl PartialEq<&str> for Cmd {
    fn eq(&self, line: &&str) -> bool {
        self.line() == *line
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
    /// it comes (for progress). A command that cannot be started is the
    /// spawn error (`NotFound` for a missing program); one that outlives its
    /// timeout is an error of kind `TimedOut`.
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> io::Result<CmdOutput>;

    fn run(&self, cmd: &Cmd) -> io::Result<CmdOutput> {
        self.stream(cmd, &mut |_| {})
    }
}

/// A duration as a person reads it: `30s`, `1.5s`, `200ms`.
pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The error of a command that outlived its timeout (`tail`: its last output).
fn timed_out(cmd: &Cmd, tail: &str) -> io::Error {
    let mut msg = format!(
        "`{}` did not finish within {}; it was stopped (with the processes it started)",
        cmd.line(),
        human(cmd.timeout)
    );
    if !tail.is_empty() {
        msg.push_str("; its last output:\n");
        msg.push_str(tail);
    }
    io::Error::new(io::ErrorKind::TimedOut, msg)
}

/// How long a timed-out command's group has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// Runs real processes, each in its own process group, which is killed
/// after the timeout (see the module documentation).
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> io::Result<CmdOutput> {
        if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
            crate::ui::eline(&format!("+ {}", cmd.line()));
        }
        run_system(cmd, GRACE, on_line)
    }
}

/// `-v`: each command a [`SystemRunner`] runs is shown on stderr as it
/// starts.
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// [`SystemRunner`] with the SIGTERM-to-SIGKILL grace as a parameter.
fn run_system(cmd: &Cmd, grace: Duration, on_line: &mut dyn FnMut(&str)) -> io::Result<CmdOutput> {
    forward_signals_once();
    let mut child = Command::new(&cmd.program)
        .args(&cmd.args)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    // From here on the guard kills and reaps the group on any early return.
    let mut group = Group::new(child);
    let mut pipes = [
        Pipe::new(stdout.into(), false)?,
        Pipe::new(stderr.into(), true)?,
    ];
    let exit = watch_exit(group.pid())?;
    let mut out = CmdOutput::default();
    let mut exited = false;
    let deadline = Instant::now().checked_add(cmd.timeout);
    let finished = pump(
        &mut pipes,
        &exit,
        &mut exited,
        deadline,
        |exited, _| exited,
        &mut out,
        on_line,
    )?;
    if finished {
        // The command is gone; what it wrote is in the pipes. Take that and
        // stop: a process it left behind may hold the pipes for ever.
        for p in &mut pipes {
            let capacity = p.capacity();
            p.read_available(capacity, &mut out, on_line)?;
            p.finish(&mut out, on_line);
        }
        drop(pipes);
        out.status = group.reap()?.code();
        return Ok(out);
    }
    group.signal(Signal::SIGTERM);
    group.signal(Signal::SIGCONT);
    let _ = pump(
        &mut pipes,
        &exit,
        &mut exited,
        Instant::now().checked_add(grace),
        |exited, pipes| exited && pipes.iter().all(|p| p.fd.is_none()),
        &mut out,
        on_line,
    );
    group.signal(Signal::SIGKILL);
    for p in &mut pipes {
        p.finish(&mut out, on_line);
    }
    drop(pipes);
    let _ = group.reap();
    Err(timed_out(cmd, &out.tail(5)))
}

/// Read the pipes until `done(exited, pipes)` or `until` (None: no bound).
/// Returns whether `done` was reached.
fn pump(
    pipes: &mut [Pipe; 2],
    exit: &OwnedFd,
    exited: &mut bool,
    until: Option<Instant>,
    done: impl Fn(bool, &[Pipe; 2]) -> bool,
    out: &mut CmdOutput,
    on_line: &mut dyn FnMut(&str),
) -> io::Result<bool> {
    /// At most this much is read from a pipe per turn, so a command that
    /// writes without pause cannot keep the deadline from being looked at.
    const TURN: usize = 1 << 20;
    loop {
        if done(*exited, pipes) {
            return Ok(true);
        }
        let left = match until {
            Some(t) => match t.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Ok(false),
            },
            None => None,
        };
        let mut fds: Vec<BorrowedFd> = pipes
            .iter()
            .filter_map(|p| p.fd.as_ref())
            .map(AsFd::as_fd)
            .collect();
        let exit_at = (!*exited).then(|| {
            fds.push(exit.as_fd());
            fds.len() - 1
        });
        let ready = poll(&fds, left)?;
        for p in pipes.iter_mut() {
            p.read_available(TURN, out, on_line)?;
        }
        if let Some(i) = exit_at {
            *exited = ready[i];
        }
    }
}

/// Whether each fd is readable or hung up, waiting at most `timeout` (None:
/// without bound). An interrupted wait reports nothing ready.
fn poll(fds: &[BorrowedFd], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    use nix::libc;
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = match timeout {
        // Rounded up: a wait that ends before the deadline only loops again.
        Some(t) => i32::try_from(t.as_micros().div_ceil(1000)).unwrap_or(i32::MAX),
        None => -1,
    };
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs, and
    // the fds are borrowed for the whole call.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds.iter().map(|p| p.revents != 0).collect())
}

/// A pipe that becomes readable (hung up) when process `pid`, our child,
/// has exited. The child is left unreaped (`WNOWAIT`) so its pid, and so
/// its group's id, stay ours until we reap it.
fn watch_exit(pid: Pid) -> io::Result<OwnedFd> {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    std::thread::Builder::new()
        .name("dockpoint-wait".into())
        .spawn(move || {
            while let Err(Errno::EINTR) =
                waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT)
            {}
            drop(w);
        })?;
    Ok(r)
}

/// One output pipe of a command: its read end (None once at end of file)
/// and the start of a line not yet ended.
struct Pipe {
    fd: Option<OwnedFd>,
    pending: Vec<u8>,
    is_err: bool,
}

impl Pipe {
    fn new(fd: OwnedFd, is_err: bool) -> io::Result<Pipe> {
        use nix::fcntl::{FcntlArg, OFlag, fcntl};
        let flags = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL)?);
        fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(Pipe {
            fd: Some(fd),
            pending: Vec::new(),
            is_err,
        })
    }

    /// How much the pipe can hold: all a command that has exited can have
    /// left in it.
    fn capacity(&self) -> usize {
        use nix::fcntl::{FcntlArg, fcntl};
        self.fd
            .as_ref()
            .and_then(|fd| fcntl(fd, FcntlArg::F_GETPIPE_SZ).ok())
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1 << 20)
    }

    /// Read what is there now, at most about `limit` bytes, passing on each
    /// whole line; at end of file the pipe is closed.
    fn read_available(
        &mut self,
        limit: usize,
        out: &mut CmdOutput,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<()> {
        let Some(fd) = &self.fd else {
            return Ok(());
        };
        let mut buf = [0u8; 16 << 10];
        let mut total = 0;
        let mut eof = false;
        while total < limit {
            let want = buf.len().min(limit - total);
            match nix::unistd::read(fd, &mut buf[..want]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    total += n;
                    self.pending.extend_from_slice(&buf[..n]);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(e.into()),
            }
        }
        if eof {
            self.fd = None;
        }
        // Pass on every whole line read, keep the unfinished rest.
        if let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') {
            let rest = self.pending.split_off(last + 1);
            let whole = std::mem::replace(&mut self.pending, rest);
            let mut s = whole.as_slice();
            while let Some(i) = memchr(b'\n', s) {
                self.emit(&s[..=i], out, on_line);
                s = &s[i + 1..];
            }
        }
        Ok(())
    }

    /// Pass on an unfinished last line.
    fn finish(&mut self, out: &mut CmdOutput, on_line: &mut dyn FnMut(&str)) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.emit(&rest, out, on_line);
        }
    }

    fn emit(&self, line: &[u8], out: &mut CmdOutput, on_line: &mut dyn FnMut(&str)) {
        let text = String::from_utf8_lossy(line);
        on_line(text.trim_end());
        if self.is_err {
            out.stderr.push_str(&text);
        } else {
            out.stdout.push_str(&text);
        }
    }
}

/// A running command and its process group (same id). Dropped before it was
/// reaped (an early error, a panicking `on_line`), it kills the group and
/// reaps the command.
struct Group {
    child: Child,
    reaped: bool,
}

impl Group {
    fn new(child: Child) -> Group {
        register(child.id() as i32);
        Group {
            child,
            reaped: false,
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Signal every process of the group. Only before [`Group::reap`]: until
    /// then the command, even exited, holds the group's id.
    fn signal(&self, sig: Signal) {
        if !self.reaped {
            let _ = killpg(self.pid(), sig);
        }
    }

    fn reap(&mut self) -> io::Result<ExitStatus> {
        unregister(self.child.id() as i32);
        self.reaped = true;
        self.child.wait()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            self.signal(Signal::SIGKILL);
            let _ = self.reap();
        }
    }
}

/// The process groups of the commands running now, for the signal handler
/// (0: a free slot). More commands at once than slots go unregistered.
static GROUPS: [AtomicI32; 32] = [const { AtomicI32::new(0) }; 32];

fn register(pgid: i32) {
    for slot in &GROUPS {
        if slot
            .compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

fn unregister(pgid: i32) {
    for slot in &GROUPS {
        if slot
            .compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
}

/// Send `sig` to the process group of every command the real runner is
/// running now. Async-signal-safe (atomic loads and kill(2) only): for a
/// signal handler of the program's own, e.g. one that lets the current step
/// finish on Ctrl-C but should still stop the command it is running.
pub fn signal_running_commands(sig: nix::libc::c_int) {
    for slot in &GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) is async-signal-safe and takes plain integers.
            unsafe { nix::libc::kill(-pgid, sig) };
        }
    }
}

/// Pass the signal on to the running commands' groups, then end the way
/// the signal would have without a handler. Async-signal-safe.
extern "C" fn forward_signal(sig: nix::libc::c_int) {
    use nix::libc;
    signal_running_commands(sig);
    // SAFETY: async-signal-safe calls with valid arguments; the signal stays
    // blocked until the handler returns, then its default action runs.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Install [`forward_signal`] for the signals that end a program from its
/// terminal or its supervisor, where they are at their default (an ignored
/// SIGHUP under nohup, or a handler of the program's own, is kept).
fn forward_signals_once() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, sigaction};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let ours = SigAction::new(
            SigHandler::Handler(forward_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            // SAFETY: the handler only makes async-signal-safe calls.
            unsafe {
                if let Ok(old) = sigaction(sig, &ours)
                    && !matches!(old.handler(), SigHandler::SigDfl)
                {
                    let _ = sigaction(sig, &old);
                }
            }
        }
    });
}

/// A scripted answer of the [`RecordingRunner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The command ran and ended with this.
    Output(CmdOutput),
    /// The command could not be run: an io error of this kind (`NotFound`:
    /// the program is missing).
    Error(io::ErrorKind),
    /// The command outlived its timeout (an error of kind `TimedOut`, worded
    /// as the real runner words it).
    TimedOut,
}

impl Reply {
    pub fn output(status: i32, stdout: &str, stderr: &str) -> Reply {
        Reply::Output(CmdOutput {
            status: Some(status),
            stdout: stdout.into(),
            stderr: stderr.into(),
        })
    }
}

/// The replies scripted for one command-line prefix, and how many were used.
#[derive(Debug)]
struct Script {
    prefix: String,
    replies: Vec<Reply>,
    used: usize,
}

/// A fake for unit tests of decision logic: records every command (program,
/// arguments, environment, timeout) and answers from a script.
///
/// The script is a list of command-line prefixes, each with its replies in
/// order. A command is answered by the first prefix (in the order they were
/// added) its line starts with: by that prefix's next reply, the last one
/// repeating once all were used. So `.answer("service docker restart", 1,
/// ..).answer("service docker restart", 0, ..)` fails the first restart and
/// lets every later one succeed. A command no prefix matches gets a
/// `NotFound` error, as a missing program would.
#[derive(Debug, Default)]
pub struct RecordingRunner {
    calls: Mutex<Vec<Cmd>>,
    scripts: Mutex<Vec<Script>>,
}

impl RecordingRunner {
    /// Reply to commands starting with `prefix` with this output (after the
    /// replies already scripted for the same prefix).
    pub fn answer(self, prefix: &str, status: i32, stdout: &str, stderr: &str) -> Self {
        self.reply(prefix, Reply::output(status, stdout, stderr))
    }

    /// Add a reply for commands starting with `prefix` (after the replies
    /// already scripted for the same prefix).
    pub fn reply(self, prefix: &str, reply: Reply) -> Self {
        {
            let mut scripts = self.scripts.lock().expect("lock");
            match scripts.iter_mut().find(|s| s.prefix == prefix) {
                Some(s) => s.replies.push(reply),
                None => scripts.push(Script {
                    prefix: prefix.into(),
                    replies: vec![reply],
                    used: 0,
                }),
            }
        }
        self
    }

    /// The program is missing: an io error of kind `NotFound`.
    pub fn missing(self, prefix: &str) -> Self {
        self.reply(prefix, Reply::Error(io::ErrorKind::NotFound))
    }

    /// The command outlives its timeout.
    pub fn time_out(self, prefix: &str) -> Self {
        self.reply(prefix, Reply::TimedOut)
    }

    /// Every command run so far, in order.
    pub fn calls(&self) -> Vec<Cmd> {
        self.calls.lock().expect("lock").clone()
    }

    /// The command line of every command run so far, in order.
    pub fn lines(&self) -> Vec<String> {
        self.calls().iter().map(Cmd::line).collect()
    }
}

impl Runner for RecordingRunner {
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> io::Result<CmdOutput> {
        let line = cmd.line();
        self.calls.lock().expect("lock").push(cmd.clone());
        let reply = {
            let mut scripts = self.scripts.lock().expect("lock");
            let script = scripts
                .iter_mut()
                .find(|s| line.starts_with(s.prefix.as_str()));
            script.map(|s| {
                let r = s.replies[s.used.min(s.replies.len() - 1)].clone();
                s.used += 1;
                r
            })
        };
        match reply {
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{line}: no scripted answer (a missing program)"),
            )),
            Some(Reply::Error(kind)) => Err(io::Error::new(kind, format!("{line}: {kind}"))),
            Some(Reply::TimedOut) => Err(timed_out(cmd, "")),
            Some(Reply::Output(out)) => {
                for l in out.stdout.lines().chain(out.stderr.lines()) {
                    on_line(l);
                }
                Ok(out)
            }
        }
    }
}

/// A shared runner (tests keep a handle on a recording runner they lend out).
impl<T: Runner> Runner for std::sync::Arc<T> {
    fn stream(&self, cmd: &Cmd, on_line: &mut dyn FnMut(&str)) -> io::Result<CmdOutput> {
        (**self).stream(cmd, on_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::kill;
    use std::sync::Arc;

    /// A command for the real runner, in a temp dir `$D`: `main.sh` (the
    /// direct child) and `grandchild.sh`, which the main script starts in
    /// the background. The grandchild holds the FIFO `$D/fifo` open for
    /// writing as long as it lives (the test holds the reading end: it
    /// hangs up exactly when the grandchild is gone), writes its pid to
    /// `$D/pid` once it holds the FIFO, then waits on a `sleep` of its own
    /// (which does not hold the FIFO), answering SIGUSR1 with `alive` on
    /// the FIFO.
    struct Scene {
        dir: tempfile::TempDir,
        fifo: OwnedFd,
    }

    const GRANDCHILD: &str = r#"[ -n "$IGNORE_TERM" ] && trap '' TERM
trap 'echo alive >&3' USR1
exec 3>"$D/fifo"
echo $$ > "$D/pid.tmp" && mv "$D/pid.tmp" "$D/pid"
sleep 1000 3>&- &
S=$!
while kill -0 $S 2>/dev/null; do wait $S; done
"#;

    /// Start the grandchild and wait until it holds the FIFO.
    const START_GRANDCHILD: &str = r#"sh "$D/grandchild.sh" &
while [ ! -e "$D/pid" ]; do sleep 0.01; done
"#;

    impl Scene {
        fn new(main: &str) -> Scene {
            use nix::fcntl::OFlag;
            use nix::sys::stat::Mode;
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("grandchild.sh"), GRANDCHILD).unwrap();
            std::fs::write(dir.path().join("main.sh"), main).unwrap();
            let fifo = dir.path().join("fifo");
            nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
            let fifo = nix::fcntl::open(
                &fifo,
                OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .unwrap();
            Scene { dir, fifo }
        }

        fn cmd(&self, timeout: Duration) -> Cmd {
            let main = self.dir.path().join("main.sh");
            Cmd::new("sh", &[main.to_str().unwrap()])
                .env("D", self.dir.path().to_str().unwrap())
                .timeout(timeout)
        }

        fn grandchild(&self) -> Option<i32> {
            let text = std::fs::read_to_string(self.dir.path().join("pid")).ok()?;
            text.trim().parse().ok()
        }

        /// Whether the grandchild is gone (the FIFO hung up), waiting for
        /// that at most `bound`.
        fn grandchild_gone_within(&self, bound: Duration) -> bool {
            poll(&[self.fifo.as_fd()], Some(bound)).unwrap()[0] && self.read_fifo().is_empty()
        }

        /// Whether the grandchild is alive: asked with SIGUSR1, it answers
        /// `alive` on the FIFO (dead, or killed before it could answer, the
        /// FIFO hangs up without a word).
        fn grandchild_answers(&self) -> bool {
            let Some(pid) = self.grandchild() else {
                return false;
            };
            if kill(Pid::from_raw(pid), Signal::SIGUSR1).is_err() {
                return false;
            }
            // The bound only ends a failure: a live grandchild answers.
            poll(&[self.fifo.as_fd()], Some(Duration::from_secs(20))).unwrap()[0]
                && self.read_fifo() == "alive\n"
        }

        fn read_fifo(&self) -> String {
            let mut buf = [0u8; 64];
            match nix::unistd::read(&self.fifo, &mut buf) {
                Ok(n) => String::from_utf8_lossy(&buf[..n]).into_owned(),
                Err(_) => String::new(),
            }
        }
    }

    impl Drop for Scene {
        /// Kill a grandchild still alive (still holding the FIFO) and its
        /// sleep: their process group, the command's, if it is not ours.
        fn drop(&mut self) {
            if let Some(pid) = self.grandchild()
                && !self.grandchild_gone_within(Duration::ZERO)
            {
                let pid = Pid::from_raw(pid);
                match nix::unistd::getpgid(Some(pid)) {
                    Ok(pg) if pg != nix::unistd::getpgrp() => {
                        let _ = killpg(pg, Signal::SIGKILL);
                    }
                    _ => {
                        let _ = kill(pid, Signal::SIGKILL);
                    }
                }
            }
        }
    }

    /// Dead: no such process, or a zombie not yet reaped by its new parent.
    fn dead(pid: i32) -> bool {
        if kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH) {
            return true;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit_once(')').map(|(_, r)| r.trim_start());
        state.is_none_or(|s| s.starts_with('Z') || s.starts_with('X'))
    }

    /// Whether `pid` becomes dead within `bound`, looking every 10ms.
    fn dies_within(pid: i32, bound: Duration) -> bool {
        let end = Instant::now() + bound;
        while !dead(pid) {
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Run `main` (which prints `ready` once set up, then never ends by
    /// itself) until its timeout. The timeout starts short and doubles until
    /// the command got ready before it, so no timing is assumed. Returns the
    /// scene, the lines seen and the error.
    fn time_out_when_ready(main: &str, grace: Duration) -> (Scene, Vec<String>, io::Error) {
        let mut timeout = Duration::from_millis(100);
        loop {
            let scene = Scene::new(main);
            let mut lines = Vec::new();
            let result = run_system(&scene.cmd(timeout), grace, &mut |l| {
                lines.push(l.to_string())
            });
            let err = result.expect_err("the command does not end by itself");
            if lines.iter().any(|l| l == "ready") {
                return (scene, lines, err);
            }
            assert!(timeout < Duration::from_secs(60), "never got ready: {err}");
            timeout *= 2;
        }
    }

    #[test]
    fn a_timeout_stops_the_whole_group_with_sigterm_first() {
        let main = format!("trap 'echo term; exit 3' TERM\n{START_GRANDCHILD}echo ready\nwait\n");
        let (scene, lines, err) = time_out_when_ready(&main, Duration::from_secs(60));
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("did not finish within"), "{err}");
        // The command's SIGTERM trap ran: it was asked before it was killed.
        assert!(lines.iter().any(|l| l == "term"), "{lines:?}");
        // The grandchild, in the command's group, is gone too.
        let pid = scene.grandchild().expect("the grandchild wrote its pid");
        assert!(
            scene.grandchild_gone_within(Duration::from_secs(20)),
            "the grandchild {pid} survived the timeout"
        );
        assert!(dies_within(pid, Duration::from_secs(20)), "{pid} lives");
    }

    #[test]
    fn a_group_that_ignores_sigterm_is_killed_after_the_grace() {
        let main =
            format!("trap '' TERM\nexport IGNORE_TERM=1\n{START_GRANDCHILD}echo ready\nwait\n");
        let (scene, _, err) = time_out_when_ready(&main, Duration::from_millis(50));
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let pid = scene.grandchild().expect("the grandchild wrote its pid");
        assert!(
            scene.grandchild_gone_within(Duration::from_secs(20)),
            "the grandchild {pid} survived SIGKILL"
        );
        assert!(dies_within(pid, Duration::from_secs(20)), "{pid} lives");
    }

    #[test]
    fn a_stopped_command_is_continued_to_act_on_sigterm() {
        // Stopped, a process acts on SIGTERM only once continued; without
        // SIGCONT the trap would never run (SIGKILL after the grace).
        let main = "trap 'echo term; exit 3' TERM\necho ready\nkill -STOP $$\necho continued\nsleep 1000 & wait\n";
        let (_scene, lines, err) = time_out_when_ready(main, Duration::from_secs(60));
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(lines.iter().any(|l| l == "term"), "{lines:?}");
    }

    #[test]
    fn a_daemon_left_holding_the_pipes_neither_hangs_the_run_nor_is_killed() {
        let scene = Scene::new(&format!("{START_GRANDCHILD}echo hi\necho warn >&2\n"));
        // The timeout only bounds a failure (a run that waits for the pipes).
        let out = SystemRunner
            .run(&scene.cmd(Duration::from_secs(60)))
            .expect("the run ends when the command does");
        assert_eq!(out.status, Some(0));
        assert_eq!(out.stdout, "hi\n");
        assert_eq!(out.stderr, "warn\n");
        assert!(
            scene.grandchild_answers(),
            "the daemon was killed after a normal exit"
        );
        // Scene's drop kills it.
    }

    #[test]
    fn every_line_written_before_the_exit_is_read() {
        // More than a pipe holds (read while it runs) and the rest left in
        // the pipes at the exit, with a daemon still holding them.
        let scene = Scene::new(&format!(
            "{START_GRANDCHILD}seq 1 30000\nseq 1 700 >&2\nprintf 'no newline'\n"
        ));
        let mut seen = 0;
        let out = SystemRunner
            .stream(&scene.cmd(Duration::from_secs(60)), &mut |_| seen += 1)
            .unwrap();
        let seq = |n: u32| (1..=n).map(|i| format!("{i}\n")).collect::<String>();
        // (Not assert_eq: a failure would print 170 kB.)
        let stdout_ok = out.stdout == seq(30000) + "no newline";
        assert!(stdout_ok, "stdout: {} lines", out.stdout.lines().count());
        assert!(
            out.stderr == seq(700),
            "stderr: {} lines",
            out.stderr.lines().count()
        );
        assert_eq!(seen, 30000 + 700 + 1);
        assert!(scene.grandchild_answers());
    }

    #[test]
    fn status_output_and_a_missing_program() {
        let out = SystemRunner
            .run(&Cmd::new("sh", &["-c", "echo out; echo err >&2; exit 7"]))
            .unwrap();
        assert_eq!(
            out,
            CmdOutput {
                status: Some(7),
                stdout: "out\n".into(),
                stderr: "err\n".into()
            }
        );
        let err = SystemRunner
            .run(&Cmd::new("/nonexistent/dockpoint-test", &[]))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // Killed by a signal: no status.
        let out = SystemRunner
            .run(&Cmd::new("sh", &["-c", "kill -KILL $$"]))
            .unwrap();
        assert_eq!(out.status, None);
    }

    #[test]
    fn the_fake_records_whole_commands() {
        let r = RecordingRunner::default().answer("apt-get", 0, "done\n", "");
        let cmd = Cmd::new("apt-get", &["-y", "install", "criu"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .timeout(Duration::from_secs(900));
        let mut seen = Vec::new();
        r.stream(&cmd, &mut |l| seen.push(l.to_string())).unwrap();
        assert_eq!(seen, ["done"]);
        assert_eq!(r.calls(), std::slice::from_ref(&cmd));
        assert_eq!(
            r.calls()[0].env,
            [("DEBIAN_FRONTEND".into(), "noninteractive".into())]
        );
        assert_eq!(r.calls()[0].timeout, Duration::from_secs(900));
        assert_eq!(r.lines(), ["apt-get -y install criu"]);
        assert_eq!(r.calls(), ["apt-get -y install criu"]);
    }

    #[test]
    fn the_fake_answers_in_order_per_prefix() {
        let r = RecordingRunner::default()
            .answer("service docker restart", 1, "", "failed\n")
            .answer("service docker restart", 0, "", "")
            .missing("criu")
            .time_out("docker info")
            .answer("docker", 0, "any docker\n", "");
        let restart = Cmd::new("service", &["docker", "restart"]);
        assert_eq!(r.run(&restart).unwrap().status, Some(1));
        assert_eq!(r.run(&restart).unwrap().status, Some(0));
        // The last reply repeats.
        assert_eq!(r.run(&restart).unwrap().status, Some(0));
        let err = r.run(&Cmd::new("criu", &["check"])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = r
            .run(&Cmd::new("docker", &["info"]).timeout(Duration::from_secs(5)))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            err.to_string()
                .contains("`docker info` did not finish within 5s"),
            "{err}"
        );
        // The first prefix added that matches answers.
        let out = r.run(&Cmd::new("docker", &["ps"])).unwrap();
        assert_eq!(out.stdout, "any docker\n");
        // Nothing scripted: a missing program.
        let err = r.run(&Cmd::new("unshare", &[])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // Through an Arc, as tests lend it out.
        let shared = Arc::new(r);
        let lent: Box<dyn Runner> = Box::new(shared.clone());
        lent.run(&restart).unwrap();
        assert_eq!(shared.lines().len(), 8);
        assert_eq!(shared.lines()[7], "service docker restart");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_secs(900)), "900s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_millis(50)), "50ms");
    }
}
