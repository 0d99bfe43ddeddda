//! apt, driven for real: policy look-ups, the dpkg lock, updates, simulated
//! and real installs with progress and a log.

use crate::host::{Cmd, CmdOutput, Host};
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
    use nix::fcntl::{FcntlArg, fcntl};
    let f = host.fs.open_file(abs).ok()??;
    let mut fl = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    fcntl(&f, FcntlArg::F_GETLK(&mut fl)).ok()?;
    (fl.l_type != nix::libc::F_UNLCK as i16).then_some(fl.l_pid)
}

fn process_name(host: &Host, pid: i32) -> String {
    host.fs
        .read_quiet(&format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// Wait, with a visible countdown, while another program (unattended-upgrades,
/// a person's apt) holds the dpkg lock; fail clearly after `bound`.
pub fn wait_for_dpkg_lock(host: &Host, bound: Duration, progress: &Progress) -> Result<()> {
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
                "the dpkg lock {lock} is still held by pid {pid} ({}) after {}s; wait for it to finish (or stop it), then re-run",
                process_name(host, pid),
                bound.as_secs()
            );
        }
        progress.phase(&format!(
            "waiting for the dpkg lock held by pid {pid} ({}): {}s left",
            process_name(host, pid),
            left.as_secs()
        ));
        std::thread::sleep(Duration::from_millis(500));
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

    /// A child process holding an fcntl write lock on `path`, as apt does.
    fn hold_lock(path: &std::path::Path, secs: f32) -> std::process::Child {
        let mut child = std::process::Command::new("/usr/bin/python3")
            .args([
                "-c",
                "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(float(sys.argv[2]))",
                path.to_str().unwrap(),
                &secs.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        child
    }

    fn host(root: &std::path::Path) -> Host {
        Host::new(
            Some(root.to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap()
    }

    #[test]
    fn a_held_dpkg_lock_is_waited_for_then_fails_naming_the_holder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/lib/dpkg")).unwrap();
        let lock = d.path().join("var/lib/dpkg/lock-frontend");
        let mut child = hold_lock(&lock, 30.0);
        let h = host(d.path());
        let p = Progress::start(&Term::plain(), "test");
        let t = Instant::now();
        let err = wait_for_dpkg_lock(&h, Duration::from_secs(1), &p).unwrap_err();
        assert!(t.elapsed() >= Duration::from_secs(1));
        let msg = err.to_string();
        assert!(msg.contains(&format!("pid {}", child.id())), "{msg}");
        assert!(msg.contains("/var/lib/dpkg/lock-frontend"), "{msg}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_lock_released_in_time_lets_apt_go() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("var/lib/dpkg")).unwrap();
        let mut child = hold_lock(&d.path().join("var/lib/dpkg/lock"), 0.6);
        let h = host(d.path());
        let p = Progress::start(&Term::plain(), "test");
        let t = Instant::now();
        wait_for_dpkg_lock(&h, Duration::from_secs(10), &p).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(300), "it did wait");
        child.wait().unwrap();
        // No lock files at all: nothing to wait for.
        let empty = tempfile::tempdir().unwrap();
        wait_for_dpkg_lock(&host(empty.path()), Duration::from_secs(1), &p).unwrap();
    }
}
