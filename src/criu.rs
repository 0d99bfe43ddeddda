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

/// What the Ubuntu archive has for `criu` on a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Archive {
    /// Not a way on this release, whatever the kernel: why.
    Never(&'static str),
    /// This version: a way where the version policy allows it.
    Has(Version),
    /// Not checked: `apt-cache policy criu` says.
    Unknown,
}

/// The Ubuntu releases and their archive's CRIU, checked in public sources
/// (Ubuntu's package and manual pages per release, criu#2011, criu#2404,
/// LP#2066148): (codename, version, archive).
const UBUNTU: &[(&str, &str, Archive)] = &[
    (
        "focal",
        "20.04",
        Archive::Never("Ubuntu 20.04's archive has no criu package"),
    ),
    (
        "jammy",
        "22.04",
        Archive::Never(
            "Ubuntu 22.04's criu is 3.16.1, which CRIU's maintainers call broken for containers on glibc >= 2.35 (no rseq support; CRIU >= 3.17 is needed), and 22.04's own glibc is 2.35",
        ),
    ),
    ("kinetic", "22.10", Archive::Has(Version(3, 17, 1))),
    ("lunar", "23.04", Archive::Has(Version(3, 17, 1))),
    ("mantic", "23.10", Archive::Unknown),
    (
        "noble",
        "24.04",
        Archive::Never(
            "Ubuntu 24.04's criu package is not installable in practice (criu#2404, LP#2066148)",
        ),
    ),
    ("oracular", "24.10", Archive::Unknown),
    ("plucky", "25.04", Archive::Has(Version(4, 0, 0))),
    ("questing", "25.10", Archive::Unknown),
];

/// The Ubuntu release of an Ubuntu or Ubuntu-based host: its codename
/// (UBUNTU_CODENAME, else Ubuntu's own VERSION_CODENAME) and version (from
/// the table, else Ubuntu's own VERSION_ID), and what its archive has.
fn ubuntu_release(d: &crate::distro::Distro) -> (Option<String>, Option<String>, Archive) {
    let own = d.id == "ubuntu";
    let codename = d
        .ubuntu_codename
        .clone()
        .or_else(|| own.then(|| d.codename.clone()).flatten());
    let version = own.then(|| d.version_id.clone()).flatten();
    let row = UBUNTU.iter().find(|(c, v, _)| {
        codename.as_deref() == Some(*c) || (codename.is_none() && version.as_deref() == Some(*v))
    });
    match row {
        Some((c, v, a)) => (Some(c.to_string()), Some(v.to_string()), *a),
        None => (codename, version, Archive::Unknown),
    }
}

/// The lines about the Ubuntu archive's CRIU: the archive install when it
/// can do the job on this kernel, else why it is not a way.
fn ubuntu_archive(d: &crate::distro::Distro, min: Version, candidate: Option<&str>) -> String {
    let (_, _, archive) = ubuntu_release(d);
    let candidate = candidate.and_then(Version::parse);
    let has = match archive {
        Archive::Never(why) => {
            return format!(
                "The archive's criu is not a way here: {why}.\nBy hand, from the CRIU team:"
            );
        }
        Archive::Has(v) => Some(candidate.unwrap_or(v)),
        Archive::Unknown => candidate,
    };
    match has {
        Some(v) if v >= min => format!(
            "  apt-get update && apt-get install criu            # the archive's CRIU {v}: new enough for this kernel\nNewer, by hand, from the CRIU team:"
        ),
        Some(v) => format!(
            "The archive's criu is not a way here: it is {v}, and this kernel needs CRIU >= {min}.\nBy hand, from the CRIU team:"
        ),
        None => format!(
            "  apt-get update && apt-get install criu            # the archive's CRIU, only if `apt-cache policy criu` shows >= {min}\nOr, by hand, from the CRIU team:"
        ),
    }
}

/// Debian's own CRIU per release (seen with `apt-cache policy criu`), for
/// when apt's candidate is not known (an image, the doctor).
const DEBIAN: &[(&str, &str)] = &[("12", "3.17.1"), ("13", "4.1.1")];

/// The lines about a Debian-family distro's own CRIU (`candidate`, from
/// `apt-cache policy criu`, else Debian's per release): a way only when the
/// version policy lets it do the job on this kernel.
fn distro_archive(d: &crate::distro::Distro, min: Version, candidate: Option<&str>) -> String {
    let known = (d.id == "debian")
        .then(|| {
            DEBIAN
                .iter()
                .find(|(v, _)| d.version_id.as_deref() == Some(*v))
        })
        .flatten()
        .map(|(_, c)| *c);
    match candidate.or(known).map(|c| (c, Version::parse(c))) {
        Some((c, Some(v))) if v >= min => format!(
            "  apt-get update && apt-get install criu            # the distro's CRIU {c}: new enough for this kernel\nNewer, by hand:"
        ),
        Some((c, Some(_))) => format!(
            "The distro's criu {c} is not a way here: this kernel needs CRIU >= {min}.\nBy hand:"
        ),
        _ => format!(
            "  apt-get update && apt-get install criu            # the distro's CRIU, only if `apt-cache policy criu` shows >= {min}\nOr, by hand:"
        ),
    }
}

/// What dockpoint's `--criu-base URL` is, said with the instructions of
/// distros whose ways (listed before the instructions by setup and the
/// doctor) include a source that takes it. dockpoint carries no download
/// host of its own.
pub const CRIU_BASE_UBUNTU: &str = "dockpoint's --criu-base URL: the base of the PPA's (or the openSUSE Build Service's) download server, or your mirror of it";
const CRIU_BASE_DEBIAN: &str = "dockpoint's --criu-base URL: the base of the openSUSE Build Service's download server, or your mirror of it";

/// How to get CRIU >= `min` on this distro, with its own values filled in
/// (`candidate`: the distro's CRIU, if known).
pub fn instructions(d: &crate::distro::Distro, min: Version, candidate: Option<&str>) -> String {
    let is_ubuntu = d.id == "ubuntu" || d.ubuntu_codename.is_some();
    let t = template(d.family, is_ubuntu);
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let (ubuntu_codename, ubuntu_version, _) = ubuntu_release(d);
    let ubuntu_name = match (&ubuntu_version, &ubuntu_codename) {
        (Some(v), Some(c)) => format!("{v}, {c}"),
        (Some(x), None) | (None, Some(x)) => x.clone(),
        (None, None) => "release unknown".into(),
    };
    let t = if is_ubuntu {
        t.replace("{archive}", &ubuntu_archive(d, min, candidate))
    } else {
        t.replace("{archive}", &distro_archive(d, min, candidate))
            .replace(
                "{base_note}\n",
                if d.id == "debian" { "{base}\n" } else { "" },
            )
    };
    t.replace("{min}", &min.to_string())
        .replace("{pretty}", d.pretty_name.as_deref().unwrap_or(&d.id))
        .replace("{id}", &d.id)
        .replace("{version_id}", &dash(&d.version_id))
        .replace("{codename}", &dash(&d.codename))
        .replace("{ubuntu}", &ubuntu_name)
        .replace(
            "{ubuntu_version}",
            ubuntu_version.as_deref().unwrap_or("<release>"),
        )
        .replace("{tool}", d.package_tool().unwrap_or("dnf"))
        .replace(
            "{base}",
            if is_ubuntu {
                CRIU_BASE_UBUNTU
            } else {
                CRIU_BASE_DEBIAN
            },
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

    fn distro(os_release: &str) -> crate::distro::Distro {
        crate::distro::Distro::from_fields(
            &crate::distro::parse(os_release),
            Some("/etc/os-release".into()),
        )
    }

    const NOBLE: &str = "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n";

    /// The line of `text` that holds `needle`, by index.
    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    }

    #[test]
    fn ubuntu_says_why_the_archive_is_not_a_way_then_the_criu_teams_ways() {
        for (os, why) in [
            (
                "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"20.04\"\nVERSION_CODENAME=focal\nUBUNTU_CODENAME=focal\n",
                "Ubuntu 20.04's archive has no criu package",
            ),
            (
                "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"22.04\"\nVERSION_CODENAME=jammy\nUBUNTU_CODENAME=jammy\n",
                "3.16.1, which CRIU's maintainers call broken for containers on glibc >= 2.35 (no rseq support; CRIU >= 3.17 is needed)",
            ),
            (NOBLE, "not installable in practice (criu#2404, LP#2066148)"),
            // A derivative: its Ubuntu release comes from UBUNTU_CODENAME.
            (
                "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"22\"\nVERSION_CODENAME=wilma\nUBUNTU_CODENAME=noble\n",
                "Ubuntu 24.04's criu package",
            ),
        ] {
            // Even on an old kernel (CRIU >= 3.11 would do).
            for min in [Version(3, 11, 0), Version(4, 2, 0)] {
                let t = instructions(&distro(os), min, None);
                assert!(
                    t.contains("\nThe archive's criu is not a way here: "),
                    "{t}"
                );
                assert!(t.contains(why), "{t}");
                let why = line_of(&t, why);
                let hand = line_of(
                    &t,
                    "  add-apt-repository ppa:criu/ppa && apt-get update && apt-get install criu",
                );
                let obs = line_of(
                    &t,
                    "  or its openSUSE Build Service project devel:tools:criu",
                );
                assert!(why < hand && hand < obs, "{t}");
                // dockpoint's own sources are listed before these by setup
                // and the doctor (criu_sources::offers), not here.
                assert!(!t.contains("dockpoint setup --criu-source"), "{t}");
                assert!(t.contains("dockpoint's --criu-base URL: the base of the PPA's (or the openSUSE Build Service's) download server, or your mirror of it"), "{t}");
                assert!(
                    !t.contains("apt-get update && apt-get install criu            #"),
                    "{t}"
                );
            }
        }
        let t = instructions(&distro(NOBLE), Version(4, 2, 0), None);
        assert!(t.contains("(Ubuntu 24.04, noble)"), "{t}");
        assert!(t.contains("repository xUbuntu_24.04"), "{t}");
    }

    #[test]
    fn ubuntu_archive_is_a_way_only_where_the_policy_allows_it() {
        let plucky = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"25.04\"\nVERSION_CODENAME=plucky\nUBUNTU_CODENAME=plucky\n";
        // 25.04 has 4.0: fine where the kernel needs <= 4.0 ...
        let t = instructions(&distro(plucky), Version(3, 11, 0), None);
        let archive = line_of(
            &t,
            "apt-get update && apt-get install criu            # the archive's CRIU 4.0.0",
        );
        assert!(
            archive < line_of(&t, "add-apt-repository ppa:criu/ppa"),
            "{t}"
        );
        // ... not where it needs 4.1 or 4.2.
        let t = instructions(&distro(plucky), Version(4, 1, 0), None);
        assert!(t.contains("The archive's criu is not a way here: it is 4.0.0, and this kernel needs CRIU >= 4.1.0"), "{t}");
        // A later release: the archive's, if apt's candidate is new enough.
        let later = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"26.04\"\nVERSION_CODENAME=resolute\nUBUNTU_CODENAME=resolute\n";
        let t = instructions(&distro(later), Version(4, 2, 0), Some("4.2.1-1"));
        assert!(t.contains("# the archive's CRIU 4.2.1: new enough"), "{t}");
        let t = instructions(&distro(later), Version(4, 2, 0), Some("4.1.1-1"));
        assert!(
            t.contains("it is 4.1.1, and this kernel needs CRIU >= 4.2.0"),
            "{t}"
        );
        let t = instructions(&distro(later), Version(4, 2, 0), None);
        assert!(
            t.contains("only if `apt-cache policy criu` shows >= 4.2.0"),
            "{t}"
        );
        assert!(t.contains("xUbuntu_26.04"), "{t}");
    }

    #[test]
    fn debian_offers_its_own_criu_only_when_it_can_do_the_job() {
        let bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";
        let t = instructions(
            &distro(bookworm),
            Version(4, 2, 0),
            Some("3.17.1-2+deb12u2"),
        );
        assert!(t.contains("The distro's criu 3.17.1-2+deb12u2 is not a way here: this kernel needs CRIU >= 4.2.0"), "{t}");
        assert!(!t.contains("apt-get update && apt-get install criu"), "{t}");
        // dockpoint's sources are listed by criu_sources::offers, before.
        assert!(!t.contains("dockpoint setup --criu-source"), "{t}");
        assert!(t.contains("dockpoint's --criu-base URL: the base of the openSUSE Build Service's download server"), "{t}");
        let t = instructions(
            &distro(bookworm),
            Version(3, 11, 0),
            Some("3.17.1-2+deb12u2"),
        );
        assert!(t.contains("apt-get update && apt-get install criu            # the distro's CRIU 3.17.1-2+deb12u2: new enough"), "{t}");
        // Without apt's candidate: Debian 12's own.
        let t = instructions(&distro(bookworm), Version(4, 2, 0), None);
        assert!(
            t.contains("The distro's criu 3.17.1 is not a way here"),
            "{t}"
        );
        // Derivatives: judged by apt's candidate only; no OBS note.
        let deepin = "NAME=\"Deepin\"\nVERSION_ID=\"20.9\"\nID=Deepin\n";
        let t = instructions(&distro(deepin), Version(4, 2, 0), None);
        assert!(
            t.contains("only if `apt-cache policy criu` shows >= 4.2.0"),
            "{t}"
        );
        assert!(!t.contains("--criu-base"), "{t}");
    }

    #[test]
    fn the_fedora_family_is_told_its_own_package_tool() {
        for (os, tool) in [
            (
                "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n",
                "yum",
            ),
            (
                "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n",
                "yum",
            ),
            (
                "ID=\"XCP-ng\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"8.2.1\"\n",
                "yum",
            ),
            (
                "ID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n",
                "dnf",
            ),
            (
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.5\"\n",
                "dnf",
            ),
        ] {
            let t = instructions(&distro(os), Version(4, 2, 0), None);
            assert!(
                t.contains(&format!("\n  {tool} install criu\n")),
                "{os}: {t}"
            );
            let other = if tool == "yum" { "dnf" } else { "yum" };
            assert!(!t.contains(other), "{os}: {t}");
        }
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
