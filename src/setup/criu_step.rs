//! The `criu-install` step: CRIU present and able to do the job on this
//! kernel, installed with apt (the distro's, or Debian testing's through a
//! pin), or the right instructions for everyone else.

use super::{Action, CriuSource, Options, PlannedStep, Status};
use crate::apt::{self, Inst};
use crate::criu::{self, Verdict, Version};
use crate::distro::Family;
use crate::fsio;
use crate::host::Host;
use crate::ui::Progress;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Duration;

/// The packages CRIU may bring from Debian testing; anything else refuses.
pub const TESTING_ALLOWED: &[&str] = &["criu", "libcompel1", "libnet9", "libnl-3-200"];
pub const TESTING_SOURCES: &str = "/etc/apt/sources.list.d/dockpoint-criu-testing.sources";
pub const TESTING_PIN: &str = "/etc/apt/preferences.d/dockpoint-criu-testing";
/// The install from testing, simulated: only what CRIU needs, no recommends.
const TESTING_INSTALL: &[&str] = &["-s", "--no-install-recommends", "install", "criu"];

fn from_testing_not_allowed(i: &Inst) -> bool {
    i.release.contains(":testing") && !TESTING_ALLOWED.contains(&i.package.as_str())
}

#[derive(Debug, Clone)]
pub enum Install {
    /// `apt-get install criu` from the host's own sources.
    Apt { update_first: bool },
    /// Through the Debian testing pin (already simulated).
    Testing { mirror: String },
}

fn template(family: Family, id: &str) -> &'static str {
    match (family, id) {
        (Family::Debian, "ubuntu") => include_str!("../../templates/criu/ubuntu.txt"),
        (Family::Debian, "debian") => include_str!("../../templates/criu/debian.txt"),
        (Family::Debian, _) => include_str!("../../templates/criu/debian.txt"),
        (Family::Fedora, _) => include_str!("../../templates/criu/fedora.txt"),
        (Family::Suse, _) => include_str!("../../templates/criu/suse.txt"),
        (Family::Arch, _) => include_str!("../../templates/criu/arch.txt"),
        (Family::Alpine, _) => include_str!("../../templates/criu/alpine.txt"),
        (Family::Other, _) => include_str!("../../templates/criu/other.txt"),
    }
}

/// The instructions for this distro, with its own values filled in.
pub fn instructions(opts: &Options, candidate: Option<&str>) -> String {
    let d = &opts.distro;
    let is_ubuntu = d.id == "ubuntu" || d.ubuntu_codename.is_some();
    let t = template(d.family, if is_ubuntu { "ubuntu" } else { &d.id });
    let min = opts.min_criu().to_string();
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    t.replace("{min}", &min)
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

/// The installed CRIU binary and its version.
fn installed(host: &Host) -> Option<(String, Option<Version>)> {
    criu::find_installed(host, Duration::from_secs(30))
}

/// `criu check`: Ok(()) or the first error line (or why it could not run).
fn check(host: &Host, path: &str) -> std::result::Result<(), String> {
    criu::run_check(host, path, Duration::from_secs(30)).unwrap_or_else(|e| Err(format!("{e:#}")))
}

fn verdict_for(opts: &Options, v: Version) -> Verdict {
    match &opts.kernel {
        Some(k) => criu::verdict(v, k.version, &k.arch),
        None => Verdict::Ok,
    }
}

pub fn plan(host: &Host, opts: &Options) -> PlannedStep {
    let mut s = PlannedStep::new("criu-install");
    let present = installed(host);
    if let Some((path, version)) = &present {
        let Some(v) = version else {
            s.status = Status::Ok;
            s.message = format!("CRIU is installed at {path}");
            return s;
        };
        s.version = Some(v.to_string());
        let verdict = verdict_for(opts, *v);
        if verdict.is_ok() {
            return match check(host, path) {
                Ok(()) => {
                    s.status = Status::Ok;
                    s.message = format!("CRIU {v} at {path}; criu check: Looks good.");
                    s
                }
                Err(e) => s.failed(format!(
                    "CRIU {v} at {path} is new enough, but `criu check` fails: {e}"
                )),
            };
        }
        if opts.criu_source == CriuSource::Distro {
            // Maybe the distro has a newer one.
            if let Some(c) = candidate_upgrade(host, opts, *v) {
                return plan_apt(host, opts, s, Some(c), false);
            }
            s.method = Some("instructions");
            s.instructions = Some(instructions(opts, None));
            s.offer_testing = opts.distro.id == "debian";
            return s.failed(format!(
                "CRIU {v} is installed, but {}. Ways to a new enough CRIU:\n{}",
                verdict.reason().unwrap_or_default(),
                instructions(opts, None)
            ));
        }
    }
    if opts.no_install {
        s.status = Status::Skipped;
        s.message = "--no-install: CRIU is not installed and was left to you".into();
        return s;
    }
    let debian_apt = opts.distro.family == Family::Debian && apt::has_apt(host);
    if debian_apt && apt::can_chroot(host) && opts.criu_source == CriuSource::Distro {
        // An image build: apt inside the root, through chroot.
        let pol = apt::policy(host, "criu", &[]).unwrap_or_default();
        if pol.candidate.is_some() || !has_lists(host) {
            let mut s = plan_apt(host, opts, s, pol.candidate, !has_lists(host));
            s.message = format!(
                "{} inside {} (chroot; /proc, /sys, /dev mounted for it in a private mount namespace)",
                s.message,
                host.fs.path().display()
            );
            return s;
        }
    }
    if !host.live {
        s.status = Status::Skipped;
        s.method = Some(if debian_apt { "apt" } else { "instructions" });
        s.instructions = Some(instructions(opts, None));
        s.message = format!(
            "--root: installing packages needs a live system; CRIU is not in the root. In the image:\n{}",
            instructions(opts, None)
        );
        return s;
    }
    if !debian_apt {
        s.status = Status::Manual;
        s.method = Some("instructions");
        s.instructions = Some(instructions(opts, None));
        s.message = format!("CRIU is not installed.\n{}", instructions(opts, None));
        return s;
    }
    if opts.criu_source == CriuSource::DebianTesting {
        return plan_testing(host, opts, s);
    }
    let pol = apt::policy(host, "criu", &[]).unwrap_or_default();
    let lists_empty = !has_lists(host);
    if pol.candidate.is_none() && !lists_empty {
        s.status = Status::Manual;
        s.method = Some("instructions");
        s.instructions = Some(instructions(opts, None));
        s.message = format!(
            "apt has no criu package for {}.\n{}",
            opts.distro.describe(),
            instructions(opts, None)
        );
        return s;
    }
    plan_apt(host, opts, s, pol.candidate, lists_empty)
}

fn has_lists(host: &Host) -> bool {
    host.fs
        .read_dir("/var/lib/apt/lists")
        .map(|names| names.iter().any(|n| n.ends_with("_Packages")))
        .unwrap_or(false)
}

/// A distro candidate newer than the installed CRIU that does the job.
fn candidate_upgrade(host: &Host, opts: &Options, installed: Version) -> Option<String> {
    if opts.distro.family != Family::Debian || !apt::has_apt(host) || opts.no_install {
        return None;
    }
    let c = apt::policy(host, "criu", &[]).ok()?.candidate?;
    let v = Version::parse(&c)?;
    (v > installed && verdict_for(opts, v).is_ok()).then_some(c)
}

fn plan_apt(
    host: &Host,
    opts: &Options,
    mut s: PlannedStep,
    candidate: Option<String>,
    update_first: bool,
) -> PlannedStep {
    let _ = host;
    s.status = Status::Changed;
    s.method = Some("apt");
    s.action = Some(Action::Install(Install::Apt { update_first }));
    let c = candidate
        .clone()
        .unwrap_or_else(|| "(after apt-get update)".into());
    s.message = format!("install CRIU {c} with apt-get install criu");
    if let Some(v) = candidate.as_deref().and_then(Version::parse) {
        s.version = Some(v.to_string());
        if let Some(reason) = verdict_for(opts, v).reason() {
            s.offer_testing = opts.distro.id == "debian";
            s.message.push_str(&format!(
                "\n    warning: {reason}.\n    Ways to a new enough CRIU:\n{}",
                indent(&instructions(opts, candidate.as_deref()), 6)
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

/// The host's own Debian mirror, from its apt sources.
pub fn debian_mirror(host: &Host) -> Option<String> {
    let mut texts: Vec<String> = Vec::new();
    for f in host
        .fs
        .read_dir("/etc/apt/sources.list.d")
        .unwrap_or_default()
    {
        if f.contains("dockpoint") {
            continue;
        }
        if let Some(t) = host.fs.read_quiet(&format!("/etc/apt/sources.list.d/{f}")) {
            texts.push(t);
        }
    }
    if let Some(t) = host.fs.read_quiet("/etc/apt/sources.list") {
        texts.push(t);
    }
    texts.iter().flat_map(|t| t.lines()).find_map(|l| {
        let l = l.trim();
        let uri = if let Some(rest) = l.strip_prefix("URIs:") {
            rest.split_whitespace().next()
        } else if l.starts_with("deb ") {
            l.split_whitespace().skip(1).find(|w| !w.starts_with('['))
        } else {
            None
        }?;
        let uri = uri.trim_end_matches('/');
        (uri.ends_with("/debian") && uri.starts_with("http")).then(|| uri.to_string())
    })
}

pub fn testing_sources(mirror: &str) -> String {
    format!(
        "# Written by dockpoint (--criu-source debian-testing): Debian testing, for CRIU only\n\
         # (see {TESTING_PIN}). Remove both files and run apt-get update to undo.\n\
         Types: deb\nURIs: {mirror}\nSuites: testing\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
}

pub fn testing_pin() -> String {
    format!(
        "# Written by dockpoint (--criu-source debian-testing): admit only CRIU and its own\n\
         # libraries from Debian testing; nothing else from testing is ever installed.\n\
         Package: *\nPin: release a=testing\nPin-Priority: -10\n\n\
         Package: {}\nPin: release a=testing\nPin-Priority: 600\n",
        TESTING_ALLOWED.join(" ")
    )
}

/// Simulate installing CRIU from Debian testing in a private copy of apt's
/// state, in a temp directory of the machine that is removed afterwards:
/// the host's apt configuration, lists and logs are not touched (a dry run
/// writes nothing on the host). Live hosts only.
pub fn simulate_testing(host: &Host, mirror: &str, progress: &Progress) -> Result<Vec<Inst>> {
    let tmp = tempfile::Builder::new()
        .prefix("dockpoint-apt-sim-")
        .tempdir()
        .context("cannot create a temp directory for the apt simulation")?;
    let t = tmp.path();
    for d in [
        "sources.list.d",
        "preferences.d",
        "lists/partial",
        "cache/archives/partial",
    ] {
        std::fs::create_dir_all(t.join(d))?;
    }
    let copy_dir = |from: &str, to: &Path| {
        for name in host.fs.read_dir(from).unwrap_or_default() {
            let src = format!("{from}/{name}");
            if let Ok(Some(mut f)) = host.fs.open_file(&src)
                && let Ok(mut out) = std::fs::File::create(to.join(&name))
            {
                let _ = std::io::copy(&mut f, &mut out);
            }
        }
    };
    copy_dir("/etc/apt/sources.list.d", &t.join("sources.list.d"));
    copy_dir("/etc/apt/preferences.d", &t.join("preferences.d"));
    copy_dir("/var/lib/apt/lists", &t.join("lists"));
    std::fs::write(
        t.join("sources.list.d/dockpoint-criu-testing.sources"),
        testing_sources(mirror),
    )?;
    std::fs::write(
        t.join("preferences.d/dockpoint-criu-testing"),
        testing_pin(),
    )?;
    let p = |s: &Path| s.display().to_string();
    let opts = [
        format!("-oDir::Etc::SourceParts={}", p(&t.join("sources.list.d"))),
        format!(
            "-oDir::Etc::PreferencesParts={}",
            p(&t.join("preferences.d"))
        ),
        format!("-oDir::State::Lists={}", p(&t.join("lists"))),
        format!("-oDir::Cache={}", p(&t.join("cache"))),
        "-oDebug::NoLocking=1".into(),
    ];
    let o: Vec<&str> = opts.iter().map(String::as_str).collect();
    let mut log = apt::Log::memory();
    let upd = apt::run_logged(
        host,
        &[&o[..], &["update"]].concat(),
        Duration::from_secs(300),
        &mut log,
        progress,
    )?;
    if !upd.success() {
        bail!(
            "could not read Debian testing from {mirror} (apt-get update failed; log {}):\n{}",
            log.describe(),
            upd.tail(5)
        );
    }
    progress.phase("simulating apt-get install criu from testing");
    let sim = apt::run_logged(
        host,
        &[&o[..], TESTING_INSTALL].concat(),
        Duration::from_secs(120),
        &mut log,
        progress,
    )?;
    let inst = apt::parse_sim(&sim.stdout);
    // Ordinary dependencies from the host's own release are fine; from
    // testing only CRIU and its own libraries may come.
    let outside: Vec<&Inst> = inst
        .iter()
        .filter(|i| from_testing_not_allowed(i))
        .collect();
    if sim.success() && outside.is_empty() {
        return Ok(inst);
    }
    // Say what CRIU from testing would really need.
    let wide = apt::run_logged(
        host,
        &[
            &o[..],
            &[
                "-s",
                "-t",
                "testing",
                "--no-install-recommends",
                "install",
                "criu",
            ],
        ]
        .concat(),
        Duration::from_secs(120),
        &mut log,
        progress,
    )?;
    let needs: Vec<String> = apt::parse_sim(&wide.stdout)
        .into_iter()
        .filter(from_testing_not_allowed)
        .map(|i| match i.from {
            Some(f) => format!("{} {f} -> {}", i.package, i.to),
            None => format!("{} {} (new)", i.package, i.to),
        })
        .collect();
    let libc = needs.iter().any(|n| n.starts_with("libc6 "));
    bail!(
        "CRIU from Debian testing would also upgrade {} on this host{}; refused, nothing was changed (simulation log {})",
        if needs.is_empty() {
            sim.tail(4)
        } else {
            needs.join(", ")
        },
        if libc {
            " (a new C library under every program: not something a CRIU install should do)"
        } else {
            ""
        },
        log.describe()
    )
}

fn plan_testing(host: &Host, opts: &Options, mut s: PlannedStep) -> PlannedStep {
    if opts.distro.id != "debian" {
        s.method = Some("instructions");
        s.instructions = Some(instructions(opts, None));
        s.status = Status::Manual;
        s.message = format!(
            "--criu-source debian-testing is for Debian hosts; this is {}.\n{}",
            opts.distro.describe(),
            instructions(opts, None)
        );
        return s;
    }
    let Some(mirror) = debian_mirror(host) else {
        return s.failed("--criu-source debian-testing: no Debian mirror in /etc/apt/sources.list(.d); add one or install CRIU another way".into());
    };
    let progress = Progress::start(&host.term, "criu-install: checking Debian testing");
    match simulate_testing(host, &mirror, &progress) {
        Ok(inst) => {
            progress.finish("the simulation passed");
            let crit = inst.iter().find(|i| i.package == "criu");
            s.version = crit.and_then(|i| Version::parse(&i.to).map(|v| v.to_string()));
            s.status = Status::Changed;
            s.method = Some("apt");
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
        Err(e) => {
            progress.finish("refused");
            s.method = Some("apt");
            s.failed(format!("--criu-source debian-testing: {e:#}"))
        }
    }
}

/// Install, then check that what is installed can do the job here.
pub fn apply(host: &Host, opts: &Options, s: &mut PlannedStep, how: Install) {
    let progress = Progress::start(&host.term, "criu-install");
    let result = (|| -> Result<String> {
        let mut log = apt::Log::create(host, "apt-criu")?;
        s.log = log.path.clone();
        apt::wait_for_dpkg_lock(host, Duration::from_secs(opts.lock_wait_secs), &progress)?;
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
            Install::Testing { .. } | Install::Apt { update_first: true }
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
        let out = apt::run_logged(host, install, Duration::from_secs(900), &mut log, &progress)?;
        if !out.success() {
            return Err(undo(&format!(
                "apt-get install criu failed (log {}):\n{}\nInstall it by hand:\n{}",
                log.describe(),
                out.tail(8),
                instructions(opts, None)
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
    if !host.live {
        // An image: the version from inside it; criu check needs the kernel
        // the image will boot on, so it is the doctor's job there.
        let version = installed(host).and_then(|(path, _)| {
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
                    "installed CRIU {v} at {path} inside {} with apt through chroot{how_note}; criu check is not run under --root: run dockpoint doctor on the host that boots this image (it needs CRIU >= {} on kernels >= 6.16)",
                    host.fs.path().display(),
                    Version(4, 2, 0)
                );
            }
            None => {
                s.status = Status::Failed;
                s.message = format!(
                    "apt-get install criu succeeded but no working criu was found inside {}",
                    host.fs.path().display()
                );
            }
        }
        return;
    }
    let Some((path, Some(v))) = installed(host) else {
        s.status = Status::Failed;
        s.message = "apt-get install criu succeeded but no working criu binary was found".into();
        return;
    };
    s.version = Some(v.to_string());
    let verdict = verdict_for(opts, v);
    if let Some(reason) = verdict.reason() {
        s.status = Status::Failed;
        s.offer_testing = false;
        s.message = format!(
            "installed CRIU {v} at {path}{how_note}, but {reason}.\nWays to a new enough CRIU:\n{}",
            instructions(opts, Some(&v.to_string()))
        );
        return;
    }
    match check(host, &path) {
        Ok(()) => {
            s.status = Status::Changed;
            s.message = format!("installed CRIU {v} at {path}{how_note}; criu check: Looks good.");
        }
        Err(e) => {
            s.status = Status::Failed;
            s.message =
                format!("installed CRIU {v} at {path}{how_note}, but `criu check` fails: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro::{self, Distro};
    use crate::host::{RecordingRunner, Term};
    use crate::setup::Kernel;

    /// A live host whose files live in a temp dir and whose commands are scripted.
    fn host(dir: &Path, runner: RecordingRunner) -> Host {
        Host {
            fs: crate::rootfs::Root::open(dir).unwrap(),
            live: true,
            runner: Box::new(runner),
            term: Term::plain(),
        }
    }

    fn opts(os_release: &str) -> Options {
        Options {
            distro: Distro::from_fields(&distro::parse(os_release), Some("/etc/os-release".into())),
            kernel: Some(Kernel {
                version: Version(6, 18, 44),
                release: "6.18.44".into(),
                arch: "x86_64".into(),
            }),
            ..Options::default()
        }
    }

    const DEBIAN: &str = "ID=debian\nVERSION_ID=13\nVERSION_CODENAME=trixie\n";

    fn touch(dir: &Path, rel: &str) {
        let p = dir.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }

    #[test]
    fn installed_and_good_is_ok_after_criu_check() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "/usr/sbin/criu");
        let r = RecordingRunner::default()
            .answer("/usr/sbin/criu --version", 0, "Version: 4.2.1\n", "")
            .answer("/usr/sbin/criu check", 0, "Looks good.\n", "");
        let h = host(d.path(), r);
        let s = plan(&h, &opts(DEBIAN));
        assert_eq!(s.status, Status::Ok, "{}", s.message);
        assert_eq!(s.version.as_deref(), Some("4.2.1"));
        assert!(s.action.is_none());
    }

    #[test]
    fn installed_but_too_old_for_this_kernel_fails_with_the_ways() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "/usr/sbin/criu");
        let r = RecordingRunner::default()
            .answer("/usr/sbin/criu --version", 0, "Version: 3.17.1\n", "")
            .answer(
                "apt-cache policy criu",
                0,
                "criu:\n  Installed: 3.17.1-2\n  Candidate: 3.17.1-2\n",
                "",
            );
        let h = host(d.path(), r);
        let s = plan(&h, &opts(DEBIAN));
        assert_eq!(s.status, Status::Failed);
        assert!(s.message.contains("vDSO"), "{}", s.message);
        assert!(s.message.contains("--criu-source debian-testing"));
        assert!(s.offer_testing);
    }

    #[test]
    fn missing_on_debian_plans_apt_and_warns_before_installing() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "/usr/bin/apt-get");
        touch(
            d.path(),
            "/var/lib/apt/lists/deb_dists_trixie_main_binary-amd64_Packages",
        );
        let r = std::sync::Arc::new(RecordingRunner::default().answer(
            "apt-cache policy criu",
            0,
            "criu:\n  Installed: (none)\n  Candidate: 4.1.1-1\n",
            "",
        ));
        let h = Host {
            fs: crate::rootfs::Root::open(d.path()).unwrap(),
            live: true,
            runner: Box::new(r.clone()),
            term: Term::plain(),
        };
        let s = plan(&h, &opts(DEBIAN));
        // Planning only looks: the one command it ran is a policy look-up.
        assert_eq!(r.calls(), ["apt-cache policy criu"]);
        assert_eq!(s.status, Status::Changed);
        assert_eq!(s.method, Some("apt"));
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::Apt {
                update_first: false
            }))
        ));
        assert!(s.message.contains("Can't get 1:16 opt"), "{}", s.message);
    }

    #[test]
    fn empty_apt_lists_mean_update_first() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "/usr/bin/apt-get");
        let r = RecordingRunner::default().answer("apt-cache policy criu", 0, "", "");
        let s = plan(&host(d.path(), r), &opts(DEBIAN));
        assert!(matches!(
            s.action,
            Some(Action::Install(Install::Apt { update_first: true }))
        ));
    }

    #[test]
    fn no_candidate_is_manual_with_instructions() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "/usr/bin/apt-get");
        touch(d.path(), "/var/lib/apt/lists/x_Packages");
        let r = RecordingRunner::default().answer(
            "apt-cache policy criu",
            0,
            "criu:\n  Installed: (none)\n  Candidate: (none)\n",
            "",
        );
        let ubuntu = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"20.04\"\nVERSION_CODENAME=focal\nUBUNTU_CODENAME=focal\n";
        let s = plan(&host(d.path(), r), &opts(ubuntu));
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
            let d = tempfile::tempdir().unwrap();
            let s = plan(&host(d.path(), RecordingRunner::default()), &opts(os));
            assert_eq!(s.status, Status::Manual, "{os}");
            assert!(s.message.contains(needle), "{os}: {}", s.message);
            assert!(s.message.contains("4.2.0"), "the minimum for this kernel");
        }
    }

    #[test]
    fn testing_source_is_for_debian_only() {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "/usr/bin/apt-get");
        let mut o =
            opts("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nUBUNTU_CODENAME=noble\n");
        o.criu_source = CriuSource::DebianTesting;
        let s = plan(&host(d.path(), RecordingRunner::default()), &o);
        assert_eq!(s.status, Status::Manual);
        assert!(s.message.contains("ppa:criu/ppa"), "{}", s.message);
    }

    #[test]
    fn mirror_comes_from_the_hosts_sources() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("etc/apt/sources.list.d");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(
            p.join("debian.sources"),
            "Types: deb\nURIs: http://mirror.example/debian/\nSuites: trixie\n",
        )
        .unwrap();
        let h = host(d.path(), RecordingRunner::default());
        assert_eq!(
            debian_mirror(&h).as_deref(),
            Some("http://mirror.example/debian")
        );
        let pin = testing_pin();
        assert!(pin.contains("Pin-Priority: -10"));
        assert!(pin.contains("Package: criu libcompel1 libnet9 libnl-3-200"));
    }
}
