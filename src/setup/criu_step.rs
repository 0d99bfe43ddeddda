//! The `criu-install` step: CRIU present and able to do the job on this
//! kernel, installed with apt (the distro's, or from one of
//! [`crate::criu_sources`] through a pin), or the right instructions for
//! everyone else; and the undo of dockpoint's sources. Planning is pure;
//! [`apply`] installs, then checks what it installed.

use super::facts::{Facts, Present};
use super::plan::{Action, CriuSource, Flags, Install, PlannedStep, SourceInstall, Status, StepId};
use crate::apt;
use crate::criu::{self, Version};
use crate::criu_sources::{self as sources, Name};
use crate::fsio;
use crate::host::Host;
use crate::observe::CriuCheck;
use crate::progress::Progress;
use anyhow::{Context, Result, bail};
use std::time::Duration;

fn instructions(f: &Facts, candidate: Option<&str>) -> String {
    instructions_but(f, candidate, None)
}

/// The ways to a new enough CRIU, leaving out `refused` (the source that
/// just said it cannot serve this host). The distro's candidate is named
/// when the caller has no other.
fn instructions_but(f: &Facts, candidate: Option<&str>, refused: Option<Name>) -> String {
    let candidate = candidate.or_else(|| f.apt.as_ref()?.policy.candidate.as_deref());
    let manual = criu::instructions(&f.distro, f.min_criu(), candidate);
    if !f.live {
        // dockpoint's sources need the live host: under --root, the ways by hand.
        return manual;
    }
    let none = Flags::default();
    let ctx = f.source_ctx(&none);
    let ours = sources::offers(&ctx)
        .into_iter()
        .filter(|o| Some(o.name) != refused)
        .map(|o| format!("{:<52} # {}", o.command, o.note))
        .collect::<Vec<_>>()
        .join("\n");
    if ours.is_empty() {
        manual
    } else {
        format!(
            "With dockpoint (each simulated first, pinned to CRIU's own packages, undone by --remove-criu-source):\n{}\n{manual}",
            indent(&ours, 2)
        )
    }
}

/// The sources to offer at the prompt: those that serve this host and can
/// be used with the flags given (not the one that just failed).
fn usable_sources(f: &Facts, flags: &Flags) -> Vec<Name> {
    let ctx = f.source_ctx(flags);
    sources::offers(&ctx)
        .into_iter()
        .map(|o| o.name)
        .filter(|n| Some(*n) != flags.source() && sources::choose(*n, &ctx).is_ok())
        .collect()
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
    if flags.remove_sources {
        return plan_remove(f, s, "");
    }
    if flags.install_anyway && flags.criu_source == CriuSource::Distro && !f.ours.is_empty() {
        return plan_remove(
            f,
            s,
            "; then run dockpoint setup --criu-source distro again for the distro's CRIU",
        );
    }
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
            s.offer_sources = usable_sources(f, flags);
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
    if let Some(name) = flags.source() {
        return plan_source(f, flags, s, name);
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
    s.message = match &candidate {
        Some(c) if !update_first => {
            format!("install CRIU {c} with apt-get install criu (apt's lists are there: no apt-get update)")
        }
        Some(c) => format!(
            "apt-get update first (apt has no package lists yet), then install CRIU {c} with apt-get install criu"
        ),
        None => "apt-get update first (apt has no package lists yet), then install the CRIU it offers with apt-get install criu, if the version policy lets it through".into(),
    };
    if let Some((c, v)) = candidate
        .as_deref()
        .and_then(|c| Version::parse(c).map(|v| (c, v)))
    {
        s.version = Some(v.to_string());
        if let Some(reason) = f.verdict(v).reason() {
            s.offer_sources = usable_sources(f, flags);
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

fn plan_source(f: &Facts, flags: &Flags, mut s: PlannedStep, name: Name) -> PlannedStep {
    let row = sources::row(name);
    s.method = Some(match name {
        Name::Url => "url",
        _ => row.flag,
    });
    let refuse = |mut s: PlannedStep, why: &str| {
        let ways = instructions_but(f, None, Some(name));
        s.offer_sources = usable_sources(f, flags);
        s.instructions = Some(ways.clone());
        s.failed(format!(
            "{why}\n    Ways to a new enough CRIU:\n{}",
            indent(&ways, 6)
        ))
    };
    let Some(sf) = f.source.as_ref().filter(|sf| sf.name == name) else {
        return refuse(
            s,
            &format!(
                "--criu-source {}: not checked (CRIU already does the job here, or this is not a live host)",
                row.flag
            ),
        );
    };
    let chosen = match &sf.chosen {
        Ok(c) => c,
        Err(e) => return refuse(s, e),
    };
    if let Some(Err(e)) = &sf.key {
        return refuse(s, &format!("--criu-source {}: {e}", row.flag));
    }
    let sim = match &sf.sim {
        Some(Ok(sim)) => sim,
        Some(Err(e)) => return refuse(s, &format!("--criu-source {}: {e}", row.flag)),
        None => return refuse(s, &format!("--criu-source {}: not simulated", row.flag)),
    };
    let criu = sim.installs.iter().find(|i| i.package == "criu");
    let version = criu.and_then(|i| Version::parse(&i.to));
    s.version = version.map(|v| v.to_string());
    if let Some(reason) = version.and_then(|v| f.verdict(v).reason().map(str::to_owned)) {
        return refuse(
            s,
            &format!(
                "--criu-source {}: its CRIU {} cannot do the job here either: {reason}; nothing was changed",
                row.flag,
                criu.map_or("?", |i| i.to.as_str())
            ),
        );
    }
    let key = sf.key.as_ref().and_then(|k| k.as_ref().ok());
    let files = chosen.files();
    let mut writes = vec![files.sources.clone(), files.pin.clone()];
    if key.is_some() {
        writes.extend(files.key.clone());
    }
    s.status = Status::Changed;
    s.message = format!(
        "install CRIU {} from {} ({}){}; writes {}; the pin admits only {} from it; apt-get update of that source only, then it pulls: {}",
        criu.map_or("?", |i| i.to.as_str()),
        row.what,
        chosen.describe(),
        key.map(|k| format!(", signing key {}", k.describe()))
            .unwrap_or_default(),
        writes.join(", "),
        row.allowed.join(" "),
        sim.installs
            .iter()
            .map(|i| i.package.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    // The text files as diffs, like every other file setup writes.
    let old = |path: &str| {
        f.ours
            .iter()
            .flat_map(|p| p.files.iter())
            .find(|(p, _)| p == path)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
    };
    let sources_text = chosen.sources_text(&chosen.signed_by());
    s.diff = Some(
        [(&files.sources, &sources_text), (&files.pin, &sim.pin)]
            .iter()
            .map(|(path, new)| {
                let before = old(path);
                super::unified_diff(path, before.is_some(), &before.unwrap_or_default(), new)
            })
            .collect(),
    );
    s.action = Some(Action::Install(Install::Source(SourceInstall {
        chosen: chosen.clone(),
        key: key.map(|k| k.binary.clone()),
        pin: sim.pin.clone(),
        installs: sim.installs.clone(),
    })));
    s
}

/// The undo: dockpoint's source files, and the packages they installed.
fn plan_remove(f: &Facts, mut s: PlannedStep, then: &str) -> PlannedStep {
    if f.ours.is_empty() {
        s.message = "no CRIU source of dockpoint's on this host: nothing to remove".into();
        return s;
    }
    if !f.live {
        s.status = Status::Skipped;
        s.message = "--remove-criu-source needs the live host (not --root)".into();
        return s;
    }
    let files: Vec<&str> = f
        .ours
        .iter()
        .flat_map(|p| p.files.iter().map(|(path, _)| path.as_str()))
        .collect();
    let packages: Vec<&str> = f
        .ours
        .iter()
        .flat_map(|p| p.packages.iter().map(String::as_str))
        .collect();
    let downgrades: Vec<String> = f
        .ours
        .iter()
        .flat_map(|p| p.upgraded.iter().map(|(n, v)| format!("{n} to {v}")))
        .collect();
    let mut what = Vec::new();
    if !packages.is_empty() {
        what.push(format!(
            "purge {} (installed from them)",
            packages.join(" ")
        ));
    }
    if !downgrades.is_empty() {
        what.push(format!(
            "downgrade {} (upgraded from them)",
            downgrades.join(", ")
        ));
    }
    what.push(format!("delete {}", files.join(", ")));
    s.status = Status::Changed;
    s.method = Some("apt");
    s.message = format!(
        "remove dockpoint's CRIU sources: {}{then}",
        what.join(", then ")
    );
    s.action = Some(Action::Install(Install::RemoveSources(f.ours.clone())));
    s
}

/// A file written by the install: its path, old bytes, and ours.
type Wrote = (String, Option<Vec<u8>>, Vec<u8>);

/// Install, then check that what is installed can do the job here.
pub fn apply(host: &Host, f: &Facts, s: &mut PlannedStep, how: Install) {
    if let Install::RemoveSources(present) = how {
        return apply_remove(host, s, &present);
    }
    let progress = Progress::start(&host.term, "criu-install");
    let result = (|| -> Result<String> {
        let mut log = apt::Log::create(host, "apt-criu")?;
        s.log = log.path.clone();
        apt::wait_for_dpkg_lock(host, Duration::from_secs(120), &progress)?;
        let mut wrote: Vec<Wrote> = Vec::new();
        let undo = |wrote: &[Wrote], why: &str| -> anyhow::Error {
            for (path, old, ours) in wrote.iter().rev() {
                let _ = fsio::restore(host, path, ours, old.as_deref());
            }
            anyhow::anyhow!("{why}")
        };
        if let Install::Source(si) = &how {
            let files = si.chosen.files();
            let mut plan: Vec<(String, Vec<u8>)> = Vec::new();
            if let (Some(k), Some(path)) = (&si.key, &files.key) {
                plan.push((path.clone(), k.clone()));
            }
            plan.push((
                files.sources.clone(),
                si.chosen.sources_text(&si.chosen.signed_by()).into_bytes(),
            ));
            plan.push((files.pin.clone(), si.pin.clone().into_bytes()));
            for (path, bytes) in plan {
                let old = host.fs.read(&path, crate::rootfs::CONFIG_LIMIT)?;
                if let Err(e) =
                    fsio::write_file(host, &path, old.as_deref(), &bytes, &|_, _| Ok(()))
                {
                    return Err(undo(&wrote, &format!("{e:#}")));
                }
                wrote.push((path, old, bytes));
            }
            // Only the new source is read: the host's other lists stay as
            // they are (the simulation used them as they are).
            let empty = tempfile::Builder::new()
                .prefix("dockpoint-empty-")
                .tempdir()
                .context("cannot create an empty directory for apt")?;
            let mut args =
                super::facts::only_source(&files.sources, &empty.path().display().to_string());
            args.push("update".into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            progress.phase(&format!("apt-get update of {} only", si.chosen.describe()));
            let up = apt::run_logged(host, &args, Duration::from_secs(600), &mut log, &progress)?;
            if !up.success() {
                return Err(undo(
                    &wrote,
                    &format!(
                        "apt-get update of {} failed (log {}):\n{}\nthe source's files were removed again",
                        si.chosen.describe(),
                        log.describe(),
                        up.tail(8)
                    ),
                ));
            }
        }
        if matches!(
            how,
            Install::Apt {
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
                return Err(undo(
                    &wrote,
                    &format!(
                        "apt-get update failed (log {}):\n{}",
                        log.describe(),
                        up.tail(8)
                    ),
                ));
            }
        }
        let install: &[&str] = match how {
            Install::Source(_) => &[
                "-y",
                "-oDPkg::Lock::Timeout=60",
                "--no-install-recommends",
                "install",
                "criu",
            ],
            _ => &["-y", "-oDPkg::Lock::Timeout=60", "install", "criu"],
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
            return Err(undo(
                &wrote,
                &format!(
                    "the distro's CRIU {c} cannot do the job here, so it was not installed: {reason}.\nWays to a new enough CRIU:\n{}\n(to install the distro's {c} anyway, re-run with --criu-source distro)",
                    instructions(f, Some(&c))
                ),
            ));
        }
        let out = apt::run_logged(host, install, Duration::from_secs(900), &mut log, &progress)?;
        if !out.success() {
            return Err(undo(
                &wrote,
                &format!(
                    "apt-get install criu failed (log {}):\n{}\nInstall it by hand:\n{}",
                    log.describe(),
                    out.tail(8),
                    instructions(f, None)
                ),
            ));
        }
        let Install::Source(si) = &how else {
            return Ok(String::new());
        };
        // What the undo purges: the packages this install brought.
        let files = si.chosen.files();
        let record = super::facts::record_text(si.chosen.row().flag, &si.installs);
        let old = host.fs.read(&files.record, crate::rootfs::CONFIG_LIMIT)?;
        let mut note = format!(
            " from {} (source {}; pin {}",
            si.chosen.row().what,
            files.sources,
            files.pin
        );
        match fsio::write_file(
            host,
            &files.record,
            old.as_deref(),
            record.as_bytes(),
            &|_, _| Ok(()),
        ) {
            Ok(_) => note.push_str(&format!("; undo record {})", files.record)),
            Err(e) => note.push_str(&format!("; the undo record could not be written: {e:#})")),
        }
        Ok(note)
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

/// `Purg pkg [ver]` / `Remv pkg [ver]` lines of a simulated removal.
fn removed_by(sim: &str) -> Vec<String> {
    sim.lines()
        .filter_map(|l| l.strip_prefix("Purg ").or_else(|| l.strip_prefix("Remv ")))
        .filter_map(|r| r.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Purge what dockpoint's sources installed (only when that removes
/// nothing else), then delete their files.
fn apply_remove(host: &Host, s: &mut PlannedStep, present: &[Present]) {
    let progress = Progress::start(
        &host.term,
        "criu-install: removing dockpoint's CRIU sources",
    );
    let result = (|| -> Result<String> {
        let packages: Vec<&str> = present
            .iter()
            .flat_map(|p| p.packages.iter().map(String::as_str))
            .collect();
        let downgrades: Vec<String> = present
            .iter()
            .flat_map(|p| p.upgraded.iter().map(|(n, v)| format!("{n}={v}")))
            .collect();
        let mut done = Vec::new();
        // One apt log and one wait for the dpkg lock for the purge and the
        // downgrades.
        let mut log = if packages.is_empty() && downgrades.is_empty() {
            None
        } else {
            let log = apt::Log::create(host, "apt-criu-remove")?;
            s.log = log.path.clone();
            apt::wait_for_dpkg_lock(host, Duration::from_secs(120), &progress)?;
            Some(log)
        };
        if let Some(log) = log.as_mut().filter(|_| !packages.is_empty()) {
            let sim_args: Vec<&str> = ["-s", "purge"]
                .iter()
                .copied()
                .chain(packages.iter().copied())
                .collect();
            let sim = apt::run_logged(host, &sim_args, Duration::from_secs(120), log, &progress)?;
            let others: Vec<String> = removed_by(&sim.stdout)
                .into_iter()
                .filter(|p| !packages.contains(&p.as_str()))
                .collect();
            if !sim.success() || !others.is_empty() {
                bail!(
                    "purging {} would also remove {}: nothing was changed; remove them yourself, or keep CRIU and delete only the files",
                    packages.join(" "),
                    if others.is_empty() {
                        sim.tail(4)
                    } else {
                        format!("{} (they depend on it)", others.join(" "))
                    }
                );
            }
            let args: Vec<&str> = ["-y", "-oDPkg::Lock::Timeout=60", "purge"]
                .iter()
                .copied()
                .chain(packages.iter().copied())
                .collect();
            let out = apt::run_logged(host, &args, Duration::from_secs(600), log, &progress)?;
            if !out.success() {
                bail!(
                    "apt-get purge {} failed (log {}); the source files were left in place:\n{}",
                    packages.join(" "),
                    log.describe(),
                    out.tail(8)
                );
            }
            done.push(format!("purged {}", packages.join(" ")));
        }
        if let Some(log) = log.as_mut().filter(|_| !downgrades.is_empty()) {
            let d: Vec<&str> = downgrades.iter().map(String::as_str).collect();
            let args: Vec<&str> = [
                "-y",
                "-oDPkg::Lock::Timeout=60",
                "--allow-downgrades",
                "--no-install-recommends",
                "install",
            ]
            .into_iter()
            .chain(d.iter().copied())
            .collect();
            let sim: Vec<&str> = ["-s"].into_iter().chain(args.iter().copied()).collect();
            let out = apt::run_logged(host, &sim, Duration::from_secs(120), log, &progress)?;
            let others = removed_by(&out.stdout);
            if !out.success() || !others.is_empty() {
                bail!(
                    "downgrading {} would {}: left as they are{}; do it yourself, then re-run --remove-criu-source",
                    d.join(" "),
                    if others.is_empty() {
                        format!("fail:\n{}", out.tail(4))
                    } else {
                        format!("remove {}", others.join(" "))
                    },
                    if done.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", done.join("; "))
                    }
                );
            }
            let out = apt::run_logged(host, &args, Duration::from_secs(600), log, &progress)?;
            if !out.success() {
                bail!(
                    "apt-get install {} failed (log {}); the source files were left in place:\n{}",
                    d.join(" "),
                    log.describe(),
                    out.tail(8)
                );
            }
            done.push(format!("downgraded {}", d.join(" ")));
        }
        let mut removed = Vec::new();
        for (path, bytes) in present.iter().flat_map(|p| p.files.iter()) {
            fsio::restore(host, path, bytes, None).with_context(|| format!("removing {path}"))?;
            removed.push(path.as_str());
        }
        done.push(format!("removed {}", removed.join(", ")));
        Ok(done.join("; "))
    })();
    match result {
        Ok(m) => {
            progress.finish("removed");
            s.status = Status::Changed;
            s.message = m;
        }
        Err(e) => {
            progress.finish("failed");
            s.status = Status::Failed;
            s.message = format!("{e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::facts::{Sim, SourceFacts};
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
        assert!(s.message.contains("--criu-source obs --criu-base URL"));
        // Offered at the prompt: what needs nothing more than a yes.
        assert_eq!(s.offer_sources, vec![Name::DebianTesting]);
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
        assert!(s.offer_anyway);
        assert_eq!(s.offer_sources, vec![Name::DebianTesting]);
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
        assert!(s.message.contains("no apt-get update"), "{}", s.message);
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
        assert!(
            s.message.starts_with("apt-get update first"),
            "{}",
            s.message
        );
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

    fn source(name: Name) -> Flags {
        Flags {
            criu_source: CriuSource::Source(name),
            criu_base: Some("http://127.0.0.1:8080".into()),
            ..Flags::default()
        }
    }

    #[test]
    fn testing_source_is_for_debian_only() {
        let mut f =
            facts("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nUBUNTU_CODENAME=noble\n");
        f.apt = apt(None, true);
        let flags = source(Name::DebianTesting);
        f.source = Some(SourceFacts {
            name: Name::DebianTesting,
            chosen: sources::choose(Name::DebianTesting, &f.source_ctx(&flags)),
            key: None,
            sim: None,
        });
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Failed);
        assert!(s.message.contains("for Debian hosts"), "{}", s.message);
        assert!(s.message.contains("--criu-source ppa"), "{}", s.message);
        assert!(s.action.is_none());
    }

    fn sim(to: &str, release: &str) -> Sim {
        Sim {
            installs: vec![Inst {
                package: "criu".into(),
                from: None,
                to: to.into(),
                release: release.into(),
            }],
            pin: "Package: *\nPin: release l=x\nPin-Priority: -10\n".into(),
        }
    }

    #[test]
    fn a_source_plans_from_its_simulation() {
        let flags = source(Name::Obs);
        let mut f = facts(DEBIAN);
        f.apt = apt(Some("4.1.1-1"), true);
        let chosen = sources::choose(Name::Obs, &f.source_ctx(&flags));
        let key =
            crate::openpgp::parse(include_bytes!("../../tests/fixtures/openpgp/throwaway.asc"))
                .unwrap();
        let mut sf = SourceFacts {
            name: Name::Obs,
            chosen,
            key: Some(Ok(key.clone())),
            sim: Some(Err(
                "CRIU from x needs libc6 (>= 99); refused, nothing was changed".into(),
            )),
        };
        f.source = Some(sf.clone());
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Failed);
        assert!(s.message.contains("libc6"), "{}", s.message);
        assert!(s.action.is_none());
        // The ways that follow leave out the source that was just refused,
        // and name the distro's candidate.
        assert!(
            !s.message.contains("--criu-source obs --criu-base"),
            "{}",
            s.message
        );
        assert!(
            s.message.contains("--criu-source debian-testing"),
            "{}",
            s.message
        );
        assert!(s.message.contains("4.1.1-1"), "{}", s.message);
        assert!(!s.message.contains("(none)"), "{}", s.message);
        sf.sim = Some(Ok(sim("4.2.1-1", "devel:tools:criu:127.0.0.1")));
        f.source = Some(sf.clone());
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Changed, "{}", s.message);
        assert_eq!(s.method, Some("obs"));
        assert_eq!(s.version.as_deref(), Some("4.2.1"));
        assert!(
            s.message.contains("3E6C 36EE"),
            "the key's fingerprint: {}",
            s.message
        );
        assert!(
            s.message
                .contains("/etc/apt/keyrings/dockpoint-criu-obs.gpg")
        );
        let Some(Action::Install(Install::Source(si))) = &s.action else {
            panic!("{:?}", s.action)
        };
        assert_eq!(si.key.as_deref(), Some(key.binary.as_slice()));
        assert_eq!(si.installs[0].package, "criu");
        // A source whose CRIU cannot do the job here is refused as well.
        sf.sim = Some(Ok(sim("4.1-1", "devel:tools:criu:127.0.0.1")));
        f.source = Some(sf.clone());
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Failed, "{}", s.message);
        assert!(s.message.contains("cannot do the job here either"));
        // A key that is refused stops before the simulation.
        sf.key = Some(Err("not the source's published key".into()));
        f.source = Some(sf);
        let s = plan(&f, &flags);
        assert!(s.message.contains("published key"), "{}", s.message);
        assert!(s.action.is_none());
    }

    #[test]
    fn the_undo_purges_what_dockpoint_installed_and_deletes_its_files() {
        let mut f = facts(DEBIAN);
        let flags = Flags {
            remove_sources: true,
            ..Flags::default()
        };
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Ok);
        assert!(s.message.contains("nothing to remove"));
        f.ours = vec![Present {
            stem: "obs",
            files: vec![(
                "/etc/apt/sources.list.d/dockpoint-criu-obs.sources".into(),
                b"Types: deb\n".to_vec(),
            )],
            packages: vec!["criu".into()],
            upgraded: vec![("libnl-3-200".into(), "3.7.0-0.3".into())],
        }];
        let s = plan(&f, &flags);
        assert_eq!(s.status, Status::Changed);
        assert!(s.message.contains("purge criu"), "{}", s.message);
        assert!(
            s.message.contains("downgrade libnl-3-200 to 3.7.0-0.3"),
            "{}",
            s.message
        );
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::RemoveSources(ref p))) if p == &f.ours
        ));
        // An explicit --criu-source distro undoes them too.
        let distro = Flags {
            install_anyway: true,
            ..Flags::default()
        };
        let s = plan(&f, &distro);
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::RemoveSources(_)))
        ));
        assert!(
            s.message.contains("--criu-source distro again"),
            "{}",
            s.message
        );
        assert_eq!(
            removed_by("Purg criu [4.2.1-1]\nRemv podman [4]\n"),
            vec!["criu", "podman"]
        );
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
