//! What setup plans from: a snapshot of the observer's facts, gathered once
//! before planning. Plain data: the planner never touches the host.

use super::plan::{CriuSource, Flags};
use crate::apt::{self, Inst};
use crate::criu::{self, Verdict, Version};
use crate::distro::Distro;
use crate::docker::Daemon;
use crate::observe::{Apt, Criu, CriuCheck, Engine, FileFact, Kernel, Observer, RUNC_CONF};
use crate::progress::Progress;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Duration;

/// Everything the planner knows.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The live system (no --root).
    pub live: bool,
    /// `--root DIR`, as given.
    pub root: Option<String>,
    pub distro: Distro,
    pub kernel: Option<Kernel>,
    pub criu: Option<Criu>,
    pub criu_check: CriuCheck,
    pub apt: Option<Apt>,
    /// CRIU from Debian testing, simulated (when asked for).
    pub testing: Option<Result<Vec<Inst>, String>>,
    pub docker: Option<Daemon>,
    pub engine: Option<Engine>,
    /// The engine API this host's docker answers on (live hosts).
    pub api: Option<crate::docker::Api>,
    /// What docker discovery skipped or could not learn.
    pub docker_notes: Vec<String>,
    pub runc_conf: FileFact,
    pub daemon_json: FileFact,
}

impl Facts {
    /// The lowest CRIU that does the whole job here.
    pub fn min_criu(&self) -> Version {
        crate::observe::min_criu(self.kernel.as_ref())
    }

    /// What CRIU `v` can do on this kernel (unknown kernel: no objection).
    pub fn verdict(&self, v: Version) -> Verdict {
        match &self.kernel {
            Some(k) => criu::verdict(v, k.version, &k.arch),
            None => Verdict::Ok,
        }
    }

    /// dockerd already runs with `--experimental`.
    pub fn experimental_flag(&self) -> Option<&str> {
        self.docker
            .as_ref()
            .and_then(|d| d.experimental_flag.as_deref())
    }
}

/// Observe everything the plan needs, once.
pub fn gather(obs: &Observer, flags: &Flags) -> Facts {
    let daemon_path = obs.daemon_json_path();
    let mut f = Facts {
        live: obs.host.live,
        root: (!obs.host.live).then(|| obs.host.fs.path().display().to_string()),
        distro: obs.distro.clone(),
        kernel: obs.kernel.clone(),
        criu: obs.criu().cloned(),
        criu_check: CriuCheck::NotRun(String::new()),
        apt: obs.apt().cloned(),
        testing: None,
        docker: obs.docker().cloned(),
        engine: obs.engine().cloned(),
        api: obs.api().ok().cloned(),
        docker_notes: obs.docker_notes(),
        runc_conf: obs.file(RUNC_CONF),
        daemon_json: obs.file(&daemon_path),
    };
    // criu check only for a CRIU that the version policy lets through.
    if let Some(v) = f.criu.as_ref().and_then(|c| c.version)
        && f.verdict(v).is_ok()
    {
        f.criu_check = obs.criu_check().clone();
    }
    if flags.criu_source == CriuSource::DebianTesting {
        f.testing = simulate_testing(obs, &f);
    }
    f
}

/// The Debian testing simulation, where it applies: a live Debian host with
/// apt and a mirror, whose CRIU is missing or cannot do the job.
pub fn simulate_testing(obs: &Observer, f: &Facts) -> Option<Result<Vec<Inst>, String>> {
    let good = f
        .criu
        .as_ref()
        .and_then(|c| c.version)
        .is_some_and(|v| f.verdict(v).is_ok());
    if good || !f.live || f.distro.id != "debian" {
        return None;
    }
    let mirror = f.apt.as_ref()?.mirror.clone()?;
    let progress = Progress::start(&obs.host.term, "criu-install: checking Debian testing");
    let r = simulate(&obs.host, &mirror, &progress);
    progress.finish(if r.is_ok() {
        "the simulation passed"
    } else {
        "refused"
    });
    Some(r.map_err(|e| format!("{e:#}")))
}

pub const TESTING_SOURCES: &str = "/etc/apt/sources.list.d/dockpoint-criu-testing.sources";
pub const TESTING_PIN: &str = "/etc/apt/preferences.d/dockpoint-criu-testing";
/// The packages CRIU may bring from Debian testing; anything else refuses.
pub const TESTING_ALLOWED: &[&str] = &["criu", "libcompel1", "libnet9", "libnl-3-200"];
/// The install from testing, simulated: only what CRIU needs, no recommends.
const TESTING_INSTALL: &[&str] = &["-s", "--no-install-recommends", "install", "criu"];

fn from_testing_not_allowed(i: &Inst) -> bool {
    i.release.contains(":testing") && !TESTING_ALLOWED.contains(&i.package.as_str())
}

pub fn testing_sources(mirror: &str) -> String {
    format!(
        "# Written by dockpoint (--criu-source debian-testing): Debian testing, for CRIU only\n\
         # (see {}). Remove both files and run apt-get update to undo.\n\
         Types: deb\nURIs: {mirror}\nSuites: testing\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        TESTING_PIN
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
fn simulate(host: &crate::host::Host, mirror: &str, progress: &Progress) -> Result<Vec<Inst>> {
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
            "could not read Debian testing from {mirror} (apt-get update failed):\n{}",
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
        "CRIU from Debian testing would also upgrade {} on this host{}; refused, nothing was changed",
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
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_admits_only_criu_and_its_libraries() {
        let pin = testing_pin();
        assert!(pin.contains("Pin-Priority: -10"));
        assert!(pin.contains("Package: criu libcompel1 libnet9 libnl-3-200"));
        let libc = Inst {
            package: "libc6".into(),
            from: Some("2.36".into()),
            to: "2.41".into(),
            release: "Debian:testing".into(),
        };
        assert!(from_testing_not_allowed(&libc));
        let criu = Inst {
            package: "criu".into(),
            ..libc.clone()
        };
        assert!(!from_testing_not_allowed(&criu));
        let stable = Inst {
            release: "Debian:13.2/stable".into(),
            ..libc
        };
        assert!(!from_testing_not_allowed(&stable));
    }
}
