//! CRIU facts as data: versions, the minimums each kernel needs, and how to
//! read `criu --version` and `criu check`.

use std::fmt;

/// A dotted version like 4.1.1 (also kernels: 6.18.44-fc-v669 -> 6.18.44).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Parse the leading `X.Y[.Z]` of a version string; Debian epochs
    /// (`1:`) and revisions (`-1`, `+dfsg`) are ignored.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let s = s.split_once(':').map_or(s, |(epoch, rest)| {
            if epoch.chars().all(|c| c.is_ascii_digit()) {
                rest
            } else {
                s
            }
        });
        let mut nums = s
            .split(|c: char| !c.is_ascii_digit())
            .take_while(|p| !p.is_empty())
            .map(|p| p.parse::<u32>().ok());
        let a = nums.next()??;
        let b = nums.next().flatten().unwrap_or(0);
        let c = nums.next().flatten().unwrap_or(0);
        Some(Version(a, b, c))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// `criu --version` prints `Version: 3.17.1` (and maybe `GitID: ...`).
pub fn parse_version_output(out: &str) -> Option<Version> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))
        .and_then(Version::parse)
}

/// What a CRIU version can do on a kernel, worst first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Cannot run at all on this kernel.
    CannotRun(String),
    /// Cannot read runc.conf, so tcp-established cannot be set for docker.
    TooOldForRuncConf(String),
    /// Checkpoints, but cannot restore any container's mounts.
    NoRestore(String),
    /// Runs, but cannot checkpoint any container with a TCP socket.
    NoTcp(String),
    Ok,
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        matches!(self, Verdict::Ok)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Ok => None,
            Verdict::CannotRun(r)
            | Verdict::TooOldForRuncConf(r)
            | Verdict::NoRestore(r)
            | Verdict::NoTcp(r) => Some(r),
        }
    }
}

/// One rule of the version policy: on kernels at or above `kernel` (and on
/// `arch`, if given), CRIU below `criu` has the problem. Kernels are matched
/// by their mainline version: a version number cannot tell whether a stable
/// kernel carries a backport. Rules are in order of harm: the first that
/// applies names the problem, and the highest minimum of all that apply is
/// the one the kernel needs ([`minimum_for`]).
struct Rule {
    kernel: Version,
    arch: Option<&'static str>,
    criu: Version,
    make: fn(String) -> Verdict,
    why: &'static str,
}

const RULES: &[Rule] = &[
    Rule {
        kernel: Version(6, 13, 0),
        arch: Some("x86_64"),
        criu: Version(4, 1, 0),
        make: Verdict::CannotRun,
        why: "the vDSO was split on x86_64 kernels >= 6.13 ([vvar_vclock] in /proc/self/maps); CRIU < 4.1 fails every command with `vdso: Unexpected rt vDSO area bounds`",
    },
    Rule {
        kernel: Version(0, 0, 0),
        arch: None,
        criu: Version(3, 11, 0),
        make: Verdict::TooOldForRuncConf,
        why: "CRIU < 3.11 does not read /etc/criu/runc.conf, so docker checkpoints cannot use tcp-established",
    },
    // Kernel commit 12f147ddd6de, "do_change_type(): refuse to operate on
    // unmounted/not ours mounts" (a 2025 security fix), landed in mainline
    // 6.16 (pulled 2025-06-08) and was backported in June 2025 to the stable
    // 5.4, 5.10, 5.15, 6.1, 6.6, 6.12 and 6.15 series; CRIU 4.1.1 (2025-07-29,
    // criu#2694) is the first to restore mounts on such kernels. A follow-up,
    // cffd0441872e "use uniform permission checks for all mount propagation
    // changes" (mainline 6.17, backported in August 2025 to stable series such
    // as 6.16 and 6.6), relaxed the check for callers with CAP_SYS_ADMIN over
    // the mount's namespace, as CRIU's maintainers asked. The rule goes by the
    // mainline version (6.16); an older stable kernel with the backport is
    // not caught here, and `dockpoint explain` recognises its error
    // (criu-mount-propagation). It never raises a minimum: kernels >= 6.16
    // need CRIU >= 4.2 for TCP anyway; it names the worse problem.
    Rule {
        kernel: Version(6, 16, 0),
        arch: None,
        criu: Version(4, 1, 1),
        make: Verdict::NoRestore,
        why: "kernels >= 6.16 refuse the mount propagation change CRIU < 4.1.1 makes when it restores a container's mounts (kernel commit 12f147ddd6de, do_change_type()), so no container can be restored: `mnt-v2: Failed to make mount N slave: Invalid argument`",
    },
    Rule {
        kernel: Version(6, 16, 0),
        arch: None,
        criu: Version(4, 2, 0),
        make: Verdict::NoTcp,
        why: "kernels >= 6.16 restrict SO_PASSCRED/SO_PASSSEC to unix, netlink and bluetooth sockets; CRIU < 4.2 asks for them on every socket and fails with `Can't get 1:16 opt`, so no container with a TCP socket (a BELA container always has its HTTP listener) can be checkpointed",
    },
];

/// The version policy: what `criu` can do on kernel `kernel` of `arch`. The
/// reason names the worst problem and the minimum this kernel needs, the
/// same [`minimum_for`] the setup header and the doctor state.
pub fn verdict(criu: Version, kernel: Version, arch: &str) -> Verdict {
    for r in RULES {
        if kernel >= r.kernel && r.arch.is_none_or(|a| a == arch) && criu < r.criu {
            return (r.make)(format!(
                "CRIU {criu} on kernel {kernel} ({arch}) needs CRIU >= {}: {}",
                minimum_for(kernel, arch),
                r.why
            ));
        }
    }
    Verdict::Ok
}

/// The lowest CRIU version that does the whole job on this kernel.
pub fn minimum_for(kernel: Version, arch: &str) -> Version {
    RULES
        .iter()
        .filter(|r| kernel >= r.kernel && r.arch.is_none_or(|a| a == arch))
        .map(|r| r.criu)
        .max()
        .unwrap_or(Version(3, 11, 0))
}

/// `criu check` prints `Looks good.` on success; errors as `Error (...)`
/// lines on stderr. Judge by the text, not the status.
pub fn check_passed(stdout: &str, stderr: &str) -> bool {
    stdout.contains("Looks good.") || stderr.contains("Looks good.")
}

/// Where CRIU may be installed, relative to the root.
pub const PATHS: &[&str] = &[
    "/usr/sbin/criu",
    "/usr/bin/criu",
    "/sbin/criu",
    "/usr/local/sbin/criu",
    "/usr/local/bin/criu",
];

/// The installed CRIU binary and, on a live host, its version
/// (`criu --version`, bounded by `timeout`).
pub fn find_installed(
    host: &crate::host::Host,
    timeout: std::time::Duration,
) -> Option<(String, Option<Version>)> {
    let path = PATHS.iter().find(|p| host.fs.is_file(p))?;
    if !host.live {
        return Some((path.to_string(), None));
    }
    let v = host
        .run(&crate::host::Cmd::new(path, &["--version"]).timeout(timeout))
        .ok()
        .and_then(|o| parse_version_output(&o.stdout));
    Some((path.to_string(), v))
}

/// Run `criu check`: Err when it could not be run; Ok(Err(line)) with the
/// first error line when it ran and failed.
pub fn run_check(
    host: &crate::host::Host,
    path: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<Result<(), String>> {
    let o = host.run(&crate::host::Cmd::new(path, &["check"]).timeout(timeout))?;
    if check_passed(&o.stdout, &o.stderr) {
        return Ok(Ok(()));
    }
    Ok(Err(first_error(&o.stderr)
        .map(str::to_owned)
        .unwrap_or_else(|| o.tail(3))))
}

/// The first `Error (` line of CRIU output, for a one-line verdict.
pub fn first_error(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("Error ("))
}

fn template(family: crate::distro::Family, is_ubuntu: bool) -> &'static str {
    use crate::distro::Family;
    match family {
        Family::Debian if is_ubuntu => include_str!("../templates/criu/ubuntu.txt"),
        Family::Debian => include_str!("../templates/criu/debian.txt"),
        Family::Fedora => include_str!("../templates/criu/fedora.txt"),
        Family::Suse => include_str!("../templates/criu/suse.txt"),
        Family::Arch => include_str!("../templates/criu/arch.txt"),
        Family::Alpine => include_str!("../templates/criu/alpine.txt"),
        Family::Other => include_str!("../templates/criu/other.txt"),
    }
}

/// How to get CRIU >= `min` on this distro, with its own values filled in
/// (`candidate`: the distro's CRIU, if known).
pub fn instructions(d: &crate::distro::Distro, min: Version, candidate: Option<&str>) -> String {
    let is_ubuntu = d.id == "ubuntu" || d.ubuntu_codename.is_some();
    let t = template(d.family, is_ubuntu);
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    t.replace("{min}", &min.to_string())
        .replace("{pretty}", d.pretty_name.as_deref().unwrap_or(&d.id))
        .replace("{id}", &d.id)
        .replace("{version_id}", &dash(&d.version_id))
        .replace("{codename}", &dash(&d.codename))
        .replace(
            "{ubuntu_codename}",
            &d.ubuntu_codename
                .clone()
                .or(d.codename.clone())
                .unwrap_or_default(),
        )
        .replace("{candidate}", candidate.unwrap_or("none"))
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(Version::parse("4.1.1-1"), Some(Version(4, 1, 1)));
        assert_eq!(Version::parse("1:3.17.1-2+b1"), Some(Version(3, 17, 1)));
        assert_eq!(Version::parse("6.18.44-fc-v669"), Some(Version(6, 18, 44)));
        assert_eq!(Version::parse("4.2"), Some(Version(4, 2, 0)));
        assert_eq!(Version::parse("none"), None);
        assert_eq!(
            parse_version_output("Version: 3.17.1\nGitID: v3.17.1\n"),
            Some(Version(3, 17, 1))
        );
    }

    #[test]
    fn policy_on_this_machines_kernel() {
        let k = Version(6, 18, 44);
        assert!(matches!(
            verdict(Version(3, 17, 1), k, "x86_64"),
            Verdict::CannotRun(_)
        ));
        assert!(matches!(
            verdict(Version(4, 1, 1), k, "x86_64"),
            Verdict::NoTcp(_)
        ));
        assert_eq!(verdict(Version(4, 2, 1), k, "x86_64"), Verdict::Ok);
        assert_eq!(minimum_for(k, "x86_64"), Version(4, 2, 0));
    }

    #[test]
    fn policy_on_older_kernels() {
        assert_eq!(
            verdict(Version(3, 17, 1), Version(6, 1, 0), "x86_64"),
            Verdict::Ok
        );
        assert!(matches!(
            verdict(Version(3, 10, 0), Version(6, 1, 0), "x86_64"),
            Verdict::TooOldForRuncConf(_)
        ));
        // The vDSO split is x86_64 only.
        assert!(matches!(
            verdict(Version(3, 17, 1), Version(6, 14, 0), "aarch64"),
            Verdict::Ok
        ));
        assert!(matches!(
            verdict(Version(3, 17, 1), Version(6, 14, 0), "x86_64"),
            Verdict::CannotRun(_)
        ));
        assert_eq!(minimum_for(Version(6, 1, 0), "x86_64"), Version(3, 11, 0));
    }

    #[test]
    fn policy_mount_propagation_rule() {
        // Mainline 6.16 carries do_change_type()'s fix: CRIU < 4.1.1 restores
        // no container there (on every architecture).
        for arch in ["x86_64", "aarch64"] {
            let v = verdict(Version(4, 1, 0), Version(6, 16, 0), arch);
            assert!(matches!(v, Verdict::NoRestore(_)), "{arch}: {v:?}");
            let why = v.reason().unwrap();
            assert!(
                why.contains("mnt-v2: Failed to make mount N slave: Invalid argument"),
                "{why}"
            );
            assert!(why.contains("12f147ddd6de"), "{why}");
        }
        // 4.1.1 restores mounts there; TCP still needs 4.2.
        assert!(matches!(
            verdict(Version(4, 1, 1), Version(6, 16, 0), "x86_64"),
            Verdict::NoTcp(_)
        ));
        // By mainline version: 6.15 (whose stable releases got the backport)
        // is not caught, and the rule never raises a minimum.
        assert_eq!(
            verdict(Version(4, 1, 0), Version(6, 15, 9), "x86_64"),
            Verdict::Ok
        );
        assert_eq!(minimum_for(Version(6, 16, 0), "aarch64"), Version(4, 2, 0));
        assert_eq!(minimum_for(Version(6, 15, 9), "aarch64"), Version(3, 11, 0));
    }

    #[test]
    fn the_reason_states_the_kernels_minimum() {
        // The worst problem of CRIU 3.17.1 on 6.18 is the vDSO (4.1 fixes
        // it), but the kernel needs 4.2: the reason says 4.2.0, as the setup
        // header and the doctor's host.kernel do (both minimum_for).
        let k = Version(6, 18, 44);
        let v = verdict(Version(3, 17, 1), k, "x86_64");
        assert!(matches!(v, Verdict::CannotRun(_)));
        let why = v.reason().unwrap();
        assert!(
            why.starts_with(&format!(
                "CRIU 3.17.1 on kernel 6.18.44 (x86_64) needs CRIU >= {}: ",
                minimum_for(k, "x86_64")
            )),
            "{why}"
        );
        assert!(why.contains("vDSO"), "{why}");
        assert!(!why.contains(">= 4.1.0"), "{why}");
    }

    #[test]
    fn check_output() {
        assert!(check_passed("Looks good.\n", ""));
        assert!(!check_passed(
            "",
            "Error (criu/vdso.c:123): vdso: Unexpected rt vDSO area bounds\n"
        ));
        assert_eq!(
            first_error("Warn (x): y\nError (criu/vdso.c:1): vdso: bad\n"),
            Some("Error (criu/vdso.c:1): vdso: bad")
        );
    }
}
