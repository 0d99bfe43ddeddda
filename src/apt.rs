//! apt, driven for real: policy look-ups, the dpkg lock, updates, simulated
//! and real installs with progress and a log.

use crate::host::{Cmd, CmdOutput, Host};
use crate::runner::human;
use crate::ui::Progress;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::time::{Duration, Instant};

/// `apt-cache policy PKG`: what is installed and what would be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub installed: Option<String>,
    pub candidate: Option<String>,
}

pub fn parse_policy(text: &str) -> Policy {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(str::trim)
            .filter(|v| *v != "(none)" && !v.is_empty())
            .map(str::to_owned)
    };
    Policy {
        installed: field("Installed:"),
        candidate: field("Candidate:"),
    }
}

/// One `Inst` line of `apt-get -s`: package, old version, new version, and
/// the release it comes from (`Debian:testing`, `Debian:13.2/stable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inst {
    pub package: String,
    pub from: Option<String>,
    pub to: String,
    pub release: String,
}

/// Parse `Inst libc6 [2.36-9] (2.41-12 Debian:testing [amd64])`.
pub fn parse_sim(text: &str) -> Vec<Inst> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("Inst ")?;
            let (package, rest) = rest.split_once(' ')?;
            let (from, rest) = match rest.strip_prefix('[') {
                Some(r) => {
                    let (v, r) = r.split_once("] ")?;
                    (Some(v.to_string()), r)
                }
                None => (None, rest),
            };
            let mut words = rest.strip_prefix('(')?.split_whitespace();
            let to = words.next()?.to_string();
            let release = words.next().unwrap_or_default().to_string();
            Some(Inst {
                package: package.to_string(),
                from,
                to,
                release,
            })
        })
        .collect()
}

/// The environment apt runs in: never ask, never open a pager.
fn apt_cmd(program: &str, args: &[&str], timeout: Duration) -> Cmd {
    Cmd::new(program, args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("APT_LISTCHANGES_FRONTEND", "none")
        .env("NEEDRESTART_MODE", "a")
        .env("LC_ALL", "C")
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .timeout(timeout)
}

/// dpkg's status file: big on big hosts, bounded all the same.
const STATUS_LIMIT: u64 = 256 << 20;

/// The installed version of `pkg`, from dpkg's status file (through the
/// host door, so `--root` reads the image's).
pub fn installed_version(host: &Host, pkg: &str) -> Option<String> {
    let text = host.fs.read("/var/lib/dpkg/status", STATUS_LIMIT).ok()??;
    installed_in_status(&String::from_utf8_lossy(&text), pkg)
}

/// The `Version:` of `pkg`'s stanza when its status is `install ok installed`.
pub fn installed_in_status(status: &str, pkg: &str) -> Option<String> {
    status.split("\n\n").find_map(|stanza| {
        let mut name = None;
        let mut installed = false;
        let mut version = None;
        for l in stanza.lines() {
            if let Some(v) = l.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = l.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            } else if let Some(v) = l.strip_prefix("Version: ") {
                version = Some(v.trim().to_string());
            }
        }
        (name == Some(pkg) && installed)
            .then_some(version)
            .flatten()
    })
}

pub fn has_apt(host: &Host) -> bool {
    host.fs.exists("/usr/bin/apt-get")
}

/// Runs a command inside an image root: chroot, with /proc, /sys and /dev
/// mounted for it in a private mount namespace, so they vanish with it
/// (nothing can be left mounted, whatever happens). The host's resolv.conf
/// is bind-mounted over the root's for name resolution, the same way.
const CHROOT_SCRIPT: &str = r#"set -e
R=$1; shift
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
if [ -f /etc/resolv.conf ] && [ -f "$R/etc/resolv.conf" ] && [ ! -L "$R/etc/resolv.conf" ]; then
    mount --bind /etc/resolv.conf "$R/etc/resolv.conf"
fi
exec chroot "$R" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive APT_LISTCHANGES_FRONTEND=none LC_ALL=C "$@"
"#;

/// Whether apt can be run inside the root (image builds): the root has apt,
/// the machine has unshare and chroot, and we are root (mounts need it).
pub fn can_chroot(host: &Host) -> bool {
    !host.live
        && nix::unistd::geteuid().is_root()
        && has_apt(host)
        && ["/usr/bin/unshare", "/usr/sbin/chroot"]
            .iter()
            .all(|p| std::path::Path::new(p).exists())
        && ["/proc", "/sys", "/dev"].iter().all(|d| host.fs.is_dir(d))
}

/// `program args` on the live host, or inside the image root through chroot.
pub fn command(host: &Host, program: &str, args: &[&str], timeout: Duration) -> Cmd {
    if host.live {
        return apt_cmd(program, args, timeout);
    }
    let root = host.fs.path().display().to_string();
    let mut all = vec![
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        CHROOT_SCRIPT,
        "dockpoint-chroot",
        root.as_str(),
        program,
    ];
    all.extend_from_slice(args);
    apt_cmd("unshare", &all, timeout)
}

pub fn policy(host: &Host, pkg: &str, extra: &[String]) -> Result<Policy> {
    let mut args: Vec<&str> = extra.iter().map(String::as_str).collect();
    args.extend(["policy", pkg]);
    let out = host.run(&command(host, "apt-cache", &args, Duration::from_secs(60)))?;
    Ok(parse_policy(&out.stdout))
}

/// The pid holding a POSIX lock on the host file `abs`, if any (F_GETLK).
fn lock_holder(host: &Host, abs: &str) -> Option<i32> {
    let f = host.fs.open_file(abs).ok()??;
    crate::fsio::lock_holder(&f)
}

fn process_name(pid: i32) -> String {
    crate::rootfs::Root::live()
        .ok()
        .and_then(|proc| proc.read_quiet(&format!("/proc/{pid}/comm")))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".into())
}

/// How often the dpkg lock is looked at again while it is held.
pub const LOCK_POLL: Duration = Duration::from_millis(500);

/// Wait, with a visible countdown, while another program (unattended-upgrades,
/// a person's apt) holds the dpkg lock; fail clearly after `bound`.
pub fn wait_for_dpkg_lock(host: &Host, bound: Duration, progress: &Progress) -> Result<()> {
    wait_for_dpkg_lock_every(host, bound, LOCK_POLL, &mut |msg| progress.phase(msg))
}

/// [`wait_for_dpkg_lock`], looking at the locks every `poll`, each
/// "waiting for the dpkg lock held by pid N (command): Ns left" message
/// passed to `on_wait`. Returns as soon as a look finds both locks free; an
/// error naming the lock, the holder's pid and command once `bound` has
/// passed with the lock still held.
pub fn wait_for_dpkg_lock_every(
    host: &Host,
    bound: Duration,
    poll: Duration,
    on_wait: &mut dyn FnMut(&str),
) -> Result<()> {
    let locks = ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"];
    let start = Instant::now();
    loop {
        let held = locks
            .iter()
            .find_map(|l| lock_holder(host, l).map(|pid| (*l, pid)));
        let Some((lock, pid)) = held else {
            return Ok(());
        };
        let left = bound.saturating_sub(start.elapsed());
        if left.is_zero() {
            bail!(
                "the dpkg lock {lock} is still held by pid {pid} ({}) after {}; wait for it to finish (or stop it), then re-run",
                process_name(pid),
                human(bound)
            );
        }
        on_wait(&format!(
            "waiting for the dpkg lock held by pid {pid} ({}): {}s left",
            process_name(pid),
            left.as_millis().div_ceil(1000)
        ));
        std::thread::sleep(poll.min(left));
    }
}

/// What an apt line says about where apt is.
fn phase_of(line: &str) -> Option<String> {
    let l = line.trim();
    for (prefix, word) in [
        ("Get:", "downloading"),
        ("Hit:", "checking"),
        ("Unpacking ", "unpacking"),
        ("Setting up ", "setting up"),
        ("Preparing to unpack ", "preparing"),
        ("Selecting previously unselected package ", "selecting"),
        ("Processing triggers for ", "triggers for"),
    ] {
        if let Some(rest) = l.strip_prefix(prefix) {
            let what = match word {
                // "1 http://mirror/debian trixie/main amd64 criu amd64 4.1.1-1 [700 kB]"
                "downloading" | "checking" => {
                    let words: Vec<&str> = rest.split_whitespace().skip(2).collect();
                    let end = words
                        .iter()
                        .position(|w| w.starts_with('['))
                        .unwrap_or(words.len());
                    words[..end].join(" ")
                }
                _ => rest.split_whitespace().next().unwrap_or(rest).to_string(),
            };
            return Some(format!("{word} {what}"));
        }
    }
    if l.starts_with("Reading package lists") {
        return Some("reading package lists".into());
    }
    None
}

/// Where apt's output goes: a file under `/var/log/dockpoint` for a real
/// install, or memory for a simulation (a dry run writes nothing anywhere).
pub struct Log {
    file: Option<std::fs::File>,
    /// The host path of the file, for messages.
    pub path: Option<String>,
    lines: Vec<String>,
}

impl Log {
    /// A new log file `/var/log/dockpoint/<what>-<UTC time>.log` in the root.
    pub fn create(host: &Host, what: &str) -> Result<Log> {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let (file, path) = crate::fsio::create_new(
            host,
            "/var/log/dockpoint",
            &format!("{what}-{stamp}"),
            ".log",
            0o600,
        )?;
        Ok(Log {
            file: Some(file),
            path: Some(path),
            lines: Vec::new(),
        })
    }

    /// A log kept in memory (simulations: nothing is written).
    pub fn memory() -> Log {
        Log {
            file: None,
            path: None,
            lines: Vec::new(),
        }
    }

    fn line(&mut self, l: &str) {
        match &mut self.file {
            Some(f) => {
                let _ = writeln!(f, "{l}");
            }
            None => self.lines.push(l.to_string()),
        }
    }

    /// Where to read it: the file, or "not kept".
    pub fn describe(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| "not kept: a simulation writes nothing".into())
    }
}

/// Run an apt command with progress, its output appended to `log`.
pub fn run_logged(
    host: &Host,
    args: &[&str],
    timeout: Duration,
    log: &mut Log,
    progress: &Progress,
) -> Result<CmdOutput> {
    let cmd = command(host, "apt-get", args, timeout);
    log.line(&format!("$ {}", cmd.line()));
    let out = host
        .runner
        .stream(&cmd, &mut |line| {
            log.line(line);
            if let Some(p) = phase_of(line) {
                progress.phase(&p);
            }
        })
        .with_context(|| format!("running `{}`", cmd.line()))?;
    log.line(&format!("[exit {:?}]", out.status));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_version_comes_from_an_installed_stanza_only() {
        let status = "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u14\n\nPackage: criu\nStatus: deinstall ok config-files\nVersion: 3.17.1-2\n";
        assert_eq!(
            installed_in_status(status, "libc6").as_deref(),
            Some("2.36-9+deb12u14")
        );
        assert_eq!(
            installed_in_status(status, "criu"),
            None,
            "only its config files"
        );
        assert_eq!(installed_in_status(status, "libc6-dev"), None);
    }

    #[test]
    fn policy_text() {
        let p = parse_policy(
            "criu:\n  Installed: (none)\n  Candidate: 4.1.1-1\n  Version table:\n     4.1.1-1 500\n",
        );
        assert_eq!(p.installed, None);
        assert_eq!(p.candidate.as_deref(), Some("4.1.1-1"));
        assert_eq!(parse_policy(""), Policy::default());
        assert_eq!(
            parse_policy("criu:\n  Installed: (none)\n  Candidate: (none)\n").candidate,
            None
        );
    }

    #[test]
    fn simulation_lines() {
        let s = parse_sim(
            "NOTE: This is only a simulation!\nInst libc6 [2.36-9+deb12u10] (2.41-12 Debian:testing [amd64])\nInst criu (4.2.1-1 Debian:testing [amd64])\nConf criu (4.2.1-1 Debian:testing [amd64])\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].package, "libc6");
        assert_eq!(s[0].from.as_deref(), Some("2.36-9+deb12u10"));
        assert_eq!(s[0].to, "2.41-12");
        assert_eq!(s[0].release, "Debian:testing");
        assert_eq!(s[1].from, None);
    }

    #[test]
    fn phases() {
        assert_eq!(
            phase_of("Get:1 http://x/debian trixie/main amd64 criu amd64 4.1.1-1 [700 kB]")
                .as_deref(),
            Some("downloading trixie/main amd64 criu amd64 4.1.1-1")
        );
        assert_eq!(
            phase_of("Unpacking criu (4.1.1-1) ...").as_deref(),
            Some("unpacking criu")
        );
        assert_eq!(phase_of("random"), None);
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;
    use crate::host::{RecordingRunner, Term};
    use std::io::{BufRead, BufReader};
    use std::process::{Child, ChildStdout, Command, Stdio};

    /// A process holding an fcntl write lock on a file, as apt does: it
    /// takes the lock and says `locked`; sent a line, it releases the lock
    /// and says `released`, then stays until its stdin closes.
    struct Holder {
        child: Child,
        out: BufReader<ChildStdout>,
    }

    const HOLDER: &str = r#"
import fcntl, sys
f = open(sys.argv[1], 'w')
fcntl.lockf(f, fcntl.LOCK_EX)
print('locked', flush=True)
sys.stdin.readline()
fcntl.lockf(f, fcntl.LOCK_UN)
print('released', flush=True)
sys.stdin.read()
"#;

    impl Holder {
        fn lock(path: &std::path::Path) -> Holder {
            let mut child = Command::new("/usr/bin/python3")
                .args(["-c", HOLDER, path.to_str().unwrap()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3");
            let out = BufReader::new(child.stdout.take().unwrap());
            let mut h = Holder { child, out };
            h.expect("locked");
            h
        }

        fn expect(&mut self, word: &str) {
            let mut line = String::new();
            self.out.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), word);
        }

        /// Release the lock; returns once it is released (the holder lives on).
        fn release(&mut self) {
            use std::io::Write;
            writeln!(self.child.stdin.as_ref().unwrap()).unwrap();
            self.expect("released");
        }

        fn pid(&self) -> u32 {
            self.child.id()
        }
    }

    impl Drop for Holder {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn host(root: &std::path::Path) -> Host {
        Host::new(
            Some(root.to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap()
    }

    fn dpkg_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/lib/dpkg")).unwrap();
        d
    }

    #[test]
    fn a_held_dpkg_lock_is_waited_for_then_fails_naming_the_holder() {
        let d = dpkg_dir();
        let holder = Holder::lock(&d.path().join("var/lib/dpkg/lock-frontend"));
        let mut waits = Vec::new();
        let err = wait_for_dpkg_lock_every(
            &host(d.path()),
            Duration::from_millis(50),
            Duration::from_millis(10),
            &mut |m| waits.push(m.to_string()),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {} (python3)", holder.pid())),
            "{msg}"
        );
        assert!(msg.contains("/var/lib/dpkg/lock-frontend"), "{msg}");
        assert!(msg.contains("after 50ms"), "{msg}");
        // It said it was waiting, naming the holder, before giving up.
        assert!(!waits.is_empty());
        let want = format!(
            "waiting for the dpkg lock held by pid {} (python3)",
            holder.pid()
        );
        assert!(waits.iter().all(|w| w.starts_with(&want)), "{waits:?}");
    }

    #[test]
    fn the_wait_ends_when_the_lock_is_released() {
        let d = dpkg_dir();
        let mut holder = Holder::lock(&d.path().join("var/lib/dpkg/lock"));
        let pid = holder.pid();
        let mut waits = Vec::new();
        // The bound only ends a failure: the lock is released at the first
        // "waiting" message, and the next look finds it free.
        wait_for_dpkg_lock_every(
            &host(d.path()),
            Duration::from_secs(30),
            Duration::from_millis(10),
            &mut |m| {
                waits.push(m.to_string());
                if waits.len() == 1 {
                    holder.release();
                }
            },
        )
        .unwrap();
        assert_eq!(waits.len(), 1, "{waits:?}");
        assert!(
            waits[0].starts_with(&format!(
                "waiting for the dpkg lock held by pid {pid} (python3): "
            )),
            "{waits:?}"
        );
    }

    #[test]
    fn no_lock_files_nothing_to_wait_for() {
        let empty = tempfile::tempdir().unwrap();
        let mut waits = 0;
        wait_for_dpkg_lock_every(
            &host(empty.path()),
            Duration::ZERO,
            Duration::ZERO,
            &mut |_| waits += 1,
        )
        .unwrap();
        // Lock files nobody holds: the same.
        let d = dpkg_dir();
        std::fs::write(d.path().join("var/lib/dpkg/lock"), "").unwrap();
        std::fs::write(d.path().join("var/lib/dpkg/lock-frontend"), "").unwrap();
        wait_for_dpkg_lock_every(&host(d.path()), Duration::ZERO, Duration::ZERO, &mut |_| {
            waits += 1
        })
        .unwrap();
        assert_eq!(waits, 0);
    }
}
