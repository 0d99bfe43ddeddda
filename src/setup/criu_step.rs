//! The `criu-install` step: CRIU present and able to do the job on this
//! kernel, installed with apt (the distro's, or Debian testing's through a
//! pin), or the right instructions for everyone else. Planning is pure;
//! [`apply`] installs, then checks what it installed.

use super::facts::{
    Facts, TESTING_ALLOWED, TESTING_PIN, TESTING_SOURCES, testing_pin, testing_sources,
};
use super::plan::{Action, CriuSource, Flags, Install, PlannedStep, Status, StepId};
use crate::apt;
use crate::criu::{self, Version};
use crate::fsio;
use crate::host::Host;
use crate::observe::CriuCheck;
use crate::progress::Progress;
use anyhow::Result;
use std::time::Duration;

fn instructions(f: &Facts, candidate: Option<&str>) -> String {
    criu::instructions(&f.distro, f.min_criu(), candidate)
}

fn manual(mut s: PlannedStep, f: &Facts, message: String) -> PlannedStep {
    s.status = Status::Manual;
    s.method = Some("instructions");
    s.instructions = Some(instructions(f, None));
    s.message = format!("{message}\n{}", instructions(f, None));
    s
}

/// Plan CRIU from the facts: pure.
pub fn plan(f: &Facts, flags: &Flags) -> PlannedStep {
    let mut s = PlannedStep::new(StepId::CriuInstall);
    if let Some(c) = &f.criu {
        let Some(v) = c.version else {
            s.message = format!("CRIU is installed at {}", c.path);
            return s;
        };
        s.version = Some(v.to_string());
        let verdict = f.verdict(v);
        if verdict.is_ok() {
            let at = format!("CRIU {v} at {}", c.path);
            return match &f.criu_check {
                CriuCheck::Passed => {
                    s.message = format!("{at}; criu check: Looks good.");
                    s
                }
                CriuCheck::NeedsRoot => {
                    s.message = format!(
                        "{at} is new enough for this kernel; criu check not run (it needs root)"
                    );
                    s
                }
                CriuCheck::NotRun(why) if why.is_empty() => {
                    s.message = format!("{at} is new enough for this kernel");
                    s
                }
                CriuCheck::NotRun(why) => {
                    s.message = format!("{at} is new enough; criu check not run: {why}");
                    s
                }
                CriuCheck::Failed(e) => {
                    s.failed(format!("{at} is new enough, but `criu check` fails: {e}"))
                }
                CriuCheck::Error(e) => s.failed(format!(
                    "{at} is new enough, but `criu check` could not run: {e}"
                )),
            };
        }
        if flags.criu_source == CriuSource::Distro {
            // Maybe the distro has a newer one.
            if let Some(c) = candidate_upgrade(f, flags, v) {
                return plan_apt(f, flags, s, Some(c), false);
            }
            s.method = Some("instructions");
            s.instructions = Some(instructions(f, None));
            s.offer_testing = f.distro.id == "debian" && f.live;
            return s.failed(format!(
                "CRIU {v} is installed, but {}. Ways to a new enough CRIU:\n{}",
                verdict.reason().unwrap_or_default(),
                instructions(f, None)
            ));
        }
    }
    if flags.no_install {
        s.status = Status::Skipped;
        s.message = "--no-install: CRIU is not installed and was left to you".into();
        return s;
    }
    if let Some(apt) = f.apt.as_ref().filter(|a| a.chroot)
        && flags.criu_source == CriuSource::Distro
        && (apt.policy.candidate.is_some() || !apt.lists)
    {
        // An image build: apt inside the root, through chroot.
        let mut s = plan_apt(f, flags, s, apt.policy.candidate.clone(), !apt.lists);
        s.message = format!(
            "{} inside {} (chroot; /proc, /sys, /dev mounted for it in a private mount namespace)",
            s.message,
            f.root.as_deref().unwrap_or("the root")
        );
        return s;
    }
    if !f.live {
        s.status = Status::Skipped;
        s.method = Some(if f.apt.is_some() {
            "apt"
        } else {
            "instructions"
        });
        s.instructions = Some(instructions(f, None));
        s.message = format!(
            "--root: installing packages needs a live system or apt inside the image run as root; CRIU is not in the root. In the image:\n{}",
            instructions(f, None)
        );
        return s;
    }
    let Some(apt) = &f.apt else {
        return manual(s, f, "CRIU is not installed.".into());
    };
    if flags.criu_source == CriuSource::DebianTesting {
        return plan_testing(f, s);
    }
    if apt.policy.candidate.is_none() && apt.lists {
        let m = format!("apt has no criu package for {}.", f.distro.describe());
        return manual(s, f, m);
    }
    plan_apt(f, flags, s, apt.policy.candidate.clone(), !apt.lists)
}

/// A distro candidate newer than the installed CRIU that does the job.
fn candidate_upgrade(f: &Facts, flags: &Flags, installed: Version) -> Option<String> {
    if flags.no_install {
        return None;
    }
    let c = f.apt.as_ref()?.policy.candidate.clone()?;
    let v = Version::parse(&c)?;
    (v > installed && f.verdict(v).is_ok()).then_some(c)
}

fn plan_apt(
    f: &Facts,
    flags: &Flags,
    mut s: PlannedStep,
    candidate: Option<String>,
    update_first: bool,
) -> PlannedStep {
    s.status = Status::Changed;
    s.method = Some("apt");
    s.action = Some(Action::Install(Install::Apt {
        update_first,
        anyway: flags.install_anyway,
    }));
    let c = candidate
        .clone()
        .unwrap_or_else(|| "(after apt-get update)".into());
    s.message = format!("install CRIU {c} with apt-get install criu");
    if let Some(v) = candidate.as_deref().and_then(Version::parse) {
        s.version = Some(v.to_string());
        if let Some(reason) = f.verdict(v).reason() {
            s.offer_testing = f.distro.id == "debian" && f.live;
            if !flags.install_anyway {
                // Never install what cannot do the job here.
                s.action = None;
                s.offer_anyway = true;
                return s.failed(format!(
                    "the distro's CRIU {c} cannot do the job here, so it was not installed: {reason}.\n    Ways to a new enough CRIU:\n{}\n    (to install the distro's {c} anyway, re-run with --criu-source distro)",
                    indent(&instructions(f, candidate.as_deref()), 6)
                ));
            }
            s.message.push_str(&format!(
                "\n    warning (installing it anyway: --criu-source distro): {reason}.\n    Ways to a new enough CRIU:\n{}",
                indent(&instructions(f, candidate.as_deref()), 6)
            ));
        }
    }
    s
}

fn indent(text: &str, n: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}", " ".repeat(n)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn plan_testing(f: &Facts, mut s: PlannedStep) -> PlannedStep {
    if f.distro.id != "debian" {
        let m = format!(
            "--criu-source debian-testing is for Debian hosts; this is {}.",
            f.distro.describe()
        );
        return manual(s, f, m);
    }
    let Some(mirror) = f.apt.as_ref().and_then(|a| a.mirror.clone()) else {
        return s.failed("--criu-source debian-testing: no Debian mirror in /etc/apt/sources.list(.d); add one or install CRIU another way".into());
    };
    s.method = Some("apt");
    match &f.testing {
        None => s.failed(
            "--criu-source debian-testing: the simulation did not run (CRIU is already good here, or this is not a live Debian host)".into(),
        ),
        Some(Err(e)) => s.failed(format!("--criu-source debian-testing: {e}")),
        Some(Ok(inst)) => {
            let crit = inst.iter().find(|i| i.package == "criu");
            s.version = crit.and_then(|i| Version::parse(&i.to).map(|v| v.to_string()));
            s.status = Status::Changed;
            s.message = format!(
                "install CRIU {} from Debian testing through an apt pin ({TESTING_PIN}) admitting only {}; it pulls: {}",
                crit.map_or("?", |i| i.to.as_str()),
                TESTING_ALLOWED.join(" "),
                inst.iter()
                    .map(|i| i.package.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            s.action = Some(Action::Install(Install::Testing { mirror }));
            s
        }
    }
}

/// Install, then check that what is installed can do the job here.
pub fn apply(host: &Host, f: &Facts, s: &mut PlannedStep, how: Install) {
    let progress = Progress::start(&host.term, "criu-install");
    let result = (|| -> Result<String> {
        let mut log = apt::Log::create(host, "apt-criu")?;
        s.log = log.path.clone();
        apt::wait_for_dpkg_lock(host, Duration::from_secs(120), &progress)?;
        let mut wrote: Vec<(String, Option<Vec<u8>>, Vec<u8>)> = Vec::new();
        if let Install::Testing { mirror } = &how {
            for (path, text) in [
                (TESTING_SOURCES, testing_sources(mirror)),
                (TESTING_PIN, testing_pin()),
            ] {
                let old = host.fs.read(path, crate::rootfs::CONFIG_LIMIT)?;
                fsio::write_file(host, path, old.as_deref(), text.as_bytes(), &|_, _| Ok(()))?;
                wrote.push((path.to_string(), old, text.into_bytes()));
            }
        }
        let undo = |why: &str| -> anyhow::Error {
            for (path, old, ours) in &wrote {
                let _ = fsio::restore(host, path, ours, old.as_deref());
            }
            anyhow::anyhow!("{why}")
        };
        if matches!(
            how,
            Install::Testing { .. }
                | Install::Apt {
                    update_first: true,
                    ..
                }
        ) {
            let up = apt::run_logged(
                host,
                &["update"],
                Duration::from_secs(600),
                &mut log,
                &progress,
            )?;
            if !up.success() {
                return Err(undo(&format!(
                    "apt-get update failed (log {}):\n{}",
                    log.describe(),
                    up.tail(8)
                )));
            }
        }
        let install: &[&str] = match how {
            Install::Testing { .. } => &[
                "-y",
                "-oDPkg::Lock::Timeout=60",
                "--no-install-recommends",
                "install",
                "criu",
            ],
            Install::Apt { .. } => &["-y", "-oDPkg::Lock::Timeout=60", "install", "criu"],
        };
        // A candidate learnt only now (after the update) passes the same
        // version policy as one known at plan time.
        if let Install::Apt {
            update_first: true,
            anyway: false,
        } = how
            && let Some(c) = apt::policy(host, "criu", &[])?.candidate
            && let Some(reason) =
                Version::parse(&c).and_then(|v| f.verdict(v).reason().map(str::to_owned))
        {
            return Err(undo(&format!(
                "the distro's CRIU {c} cannot do the job here, so it was not installed: {reason}.\nWays to a new enough CRIU:\n{}\n(to install the distro's {c} anyway, re-run with --criu-source distro)",
                instructions(f, Some(&c))
            )));
        }
        let out = apt::run_logged(host, install, Duration::from_secs(900), &mut log, &progress)?;
        if !out.success() {
            return Err(undo(&format!(
                "apt-get install criu failed (log {}):\n{}\nInstall it by hand:\n{}",
                log.describe(),
                out.tail(8),
                instructions(f, None)
            )));
        }
        Ok(if wrote.is_empty() {
            String::new()
        } else {
            format!(" (apt pin: {TESTING_PIN}; source: {TESTING_SOURCES})")
        })
    })();
    let how_note = match result {
        Ok(n) => n,
        Err(e) => {
            progress.finish("failed");
            s.status = Status::Failed;
            s.message = format!("{e:#}");
            return;
        }
    };
    progress.finish("installed");
    let root = f.root.as_deref().unwrap_or("/");
    if !host.live {
        // An image: the version from inside it; criu check needs the kernel
        // the image will boot on, so it is the doctor's job there.
        let version = criu::find_installed(host, Duration::from_secs(30)).and_then(|(path, _)| {
            let out = host
                .run(&apt::command(
                    host,
                    &path,
                    &["--version"],
                    Duration::from_secs(30),
                ))
                .ok()?;
            criu::parse_version_output(&out.stdout).map(|v| (path, v))
        });
        match version {
            Some((path, v)) => {
                s.version = Some(v.to_string());
                s.status = Status::Changed;
                s.message = format!(
                    "installed CRIU {v} at {path} inside {root} with apt through chroot{how_note}; criu check is not run under --root: run dockpoint doctor on the host that boots this image (it needs CRIU >= {} on kernels >= 6.16)",
                    Version(4, 2, 0)
                );
            }
            None => {
                s.status = Status::Failed;
                s.message = format!(
                    "apt-get install criu succeeded but no working criu was found inside {root}"
                );
            }
        }
        return;
    }
    let Some((path, Some(v))) = criu::find_installed(host, Duration::from_secs(30)) else {
        s.status = Status::Failed;
        s.message = "apt-get install criu succeeded but no working criu binary was found".into();
        return;
    };
    s.version = Some(v.to_string());
    if let Some(reason) = f.verdict(v).reason() {
        s.status = Status::Failed;
        s.offer_testing = false;
        s.message = format!(
            "installed CRIU {v} at {path}{how_note}, but {reason}.\nWays to a new enough CRIU:\n{}",
            instructions(f, Some(&v.to_string()))
        );
        return;
    }
    match criu::run_check(host, &path, Duration::from_secs(30)) {
        Ok(Ok(())) => {
            s.status = Status::Changed;
            s.message = format!("installed CRIU {v} at {path}{how_note}; criu check: Looks good.");
        }
        Ok(Err(e)) => {
            s.status = Status::Failed;
            s.message =
                format!("installed CRIU {v} at {path}{how_note}, but `criu check` fails: {e}");
        }
        Err(e) => {
            s.status = Status::Failed;
            s.message = format!(
                "installed CRIU {v} at {path}{how_note}, but `criu check` could not run: {e:#}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::{Inst, Policy};
    use crate::distro::{self, Distro};
    use crate::observe::{Apt, Criu, Kernel};

    const DEBIAN: &str = "ID=debian\nVERSION_ID=13\nVERSION_CODENAME=trixie\n";

    /// A live host on kernel 6.18 (x86_64) with the given os-release.
    fn facts(os_release: &str) -> Facts {
        let mut f = super::super::steps::tests::facts(None, None);
        f.live = true;
        f.root = None;
        f.distro = Distro::from_fields(&distro::parse(os_release), Some("/etc/os-release".into()));
        f.kernel = Some(Kernel {
            version: Version(6, 18, 44),
            release: "6.18.44".into(),
            arch: "x86_64".into(),
        });
        f
    }

    fn apt(candidate: Option<&str>, lists: bool) -> Option<Apt> {
        Some(Apt {
            policy: Policy {
                installed: None,
                candidate: candidate.map(str::to_owned),
            },
            lists,
            chroot: false,
            mirror: Some("http://mirror.example/debian".into()),
        })
    }

    fn installed(v: Version, check: CriuCheck) -> (Option<Criu>, CriuCheck) {
        (
            Some(Criu {
                path: "/usr/sbin/criu".into(),
                version: Some(v),
            }),
            check,
        )
    }

    #[test]
    fn installed_and_good_is_ok_after_criu_check() {
        let mut f = facts(DEBIAN);
        (f.criu, f.criu_check) = installed(Version(4, 2, 1), CriuCheck::Passed);
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Ok, "{}", s.message);
        assert_eq!(s.version.as_deref(), Some("4.2.1"));
        assert!(s.message.contains("Looks good"));
        assert!(s.action.is_none());
    }

    #[test]
    fn without_root_criu_check_is_not_run_and_not_a_failure() {
        let mut f = facts(DEBIAN);
        (f.criu, f.criu_check) = installed(Version(4, 2, 1), CriuCheck::NeedsRoot);
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Ok, "{}", s.message);
        assert!(s.message.contains("needs root"), "{}", s.message);
    }

    #[test]
    fn a_failing_criu_check_fails_the_step_with_its_line() {
        let mut f = facts(DEBIAN);
        (f.criu, f.criu_check) = installed(
            Version(4, 2, 1),
            CriuCheck::Failed("Error (criu/cr-check.c:1): x".into()),
        );
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Failed);
        assert!(s.message.contains("cr-check.c"), "{}", s.message);
    }

    #[test]
    fn installed_but_too_old_for_this_kernel_fails_with_the_ways() {
        let mut f = facts(DEBIAN);
        (f.criu, f.criu_check) = installed(Version(3, 17, 1), CriuCheck::NotRun(String::new()));
        f.apt = apt(Some("3.17.1-2"), true);
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Failed);
        assert!(s.message.contains("vDSO"), "{}", s.message);
        assert!(s.message.contains("--criu-source debian-testing"));
        assert!(s.offer_testing);
    }

    #[test]
    fn a_newer_distro_candidate_is_planned_as_an_upgrade() {
        let mut f = facts(DEBIAN);
        (f.criu, f.criu_check) = installed(Version(4, 1, 1), CriuCheck::NotRun(String::new()));
        f.apt = apt(Some("4.2.1-1"), true);
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Changed, "{}", s.message);
        assert_eq!(s.version.as_deref(), Some("4.2.1"));
    }

    #[test]
    fn a_candidate_that_cannot_do_the_job_is_not_installed() {
        let mut f = facts(DEBIAN);
        f.apt = apt(Some("4.1.1-1"), true);
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Failed, "{}", s.message);
        assert!(s.action.is_none(), "nothing is installed: {:?}", s.action);
        assert_eq!(s.version.as_deref(), Some("4.1.1"));
        assert!(s.message.contains("Can't get 1:16 opt"), "{}", s.message);
        assert!(s.message.contains("not installed"), "{}", s.message);
        assert!(s.message.contains("--criu-source distro"), "{}", s.message);
        assert!(s.offer_anyway && s.offer_testing);
    }

    #[test]
    fn an_explicit_distro_source_installs_it_anyway_with_the_warning() {
        let mut f = facts(DEBIAN);
        f.apt = apt(Some("4.1.1-1"), true);
        let flags = Flags {
            install_anyway: true,
            ..Flags::default()
        };
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Changed);
        assert_eq!(s.method, Some("apt"));
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::Apt {
                update_first: false,
                anyway: true
            }))
        ));
        assert!(s.message.contains("Can't get 1:16 opt"), "{}", s.message);
        assert!(s.message.contains("anyway"), "{}", s.message);
    }

    #[test]
    fn a_good_candidate_is_planned_without_a_warning() {
        let mut f = facts(DEBIAN);
        f.apt = apt(Some("4.2.1-1"), true);
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Changed, "{}", s.message);
        assert!(!s.message.contains("warning"), "{}", s.message);
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::Apt {
                update_first: false,
                anyway: false
            }))
        ));
    }

    #[test]
    fn empty_apt_lists_mean_update_first() {
        let mut f = facts(DEBIAN);
        f.apt = apt(None, false);
        let s = plan(&f, &Flags::default());
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::Apt {
                update_first: true,
                ..
            }))
        ));
    }

    #[test]
    fn no_candidate_is_manual_with_instructions() {
        let ubuntu = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"20.04\"\nVERSION_CODENAME=focal\nUBUNTU_CODENAME=focal\n";
        let mut f = facts(ubuntu);
        f.apt = apt(None, true);
        let s = plan(&f, &Flags::default());
        assert_eq!(s.status, Status::Manual);
        assert_eq!(s.method, Some("instructions"));
        assert!(s.instructions.as_deref().unwrap().contains("ppa:criu/ppa"));
    }

    #[test]
    fn other_families_get_their_own_instructions() {
        for (os, needle) in [
            ("ID=fedora\nVERSION_ID=41\n", "dnf install criu"),
            (
                "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n",
                "zypper install criu",
            ),
            ("ID=arch\n", "pacman -S criu"),
            ("ID=alpine\nVERSION_ID=3.20.0\n", "edge/testing"),
            ("ID=nixos\n", "criu.org/Installation"),
        ] {
            let s = plan(&facts(os), &Flags::default());
            assert_eq!(s.status, Status::Manual, "{os}");
            assert!(s.message.contains(needle), "{os}: {}", s.message);
            assert!(s.message.contains("4.2.0"), "the minimum for this kernel");
        }
    }

    #[test]
    fn testing_source_is_for_debian_only() {
        let mut f =
            facts("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nUBUNTU_CODENAME=noble\n");
        f.apt = apt(None, true);
        let flags = Flags {
            criu_source: CriuSource::DebianTesting,
            ..Flags::default()
        };
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Manual);
        assert!(s.message.contains("ppa:criu/ppa"), "{}", s.message);
    }

    #[test]
    fn testing_plans_from_the_simulation() {
        let flags = Flags {
            criu_source: CriuSource::DebianTesting,
            ..Flags::default()
        };
        let mut f = facts(DEBIAN);
        f.apt = apt(Some("4.1.1-1"), true);
        f.testing = Some(Err("would also upgrade libc6 2.36 -> 2.41".into()));
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Failed);
        assert!(s.message.contains("libc6"), "{}", s.message);
        assert!(s.action.is_none());
        f.testing = Some(Ok(vec![Inst {
            package: "criu".into(),
            from: None,
            to: "4.2.1-1".into(),
            release: "Debian:testing".into(),
        }]));
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Changed, "{}", s.message);
        assert_eq!(s.version.as_deref(), Some("4.2.1"));
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::Testing { .. }))
        ));
    }

    #[test]
    fn no_install_skips_a_missing_criu() {
        let mut f = facts(DEBIAN);
        f.apt = apt(Some("4.2.1-1"), true);
        let flags = Flags {
            no_install: true,
            ..Flags::default()
        };
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Skipped);
        assert!(s.action.is_none());
    }
}
