//! What setup plans from: a snapshot of the observer's facts, gathered once
//! before planning. Plain data: the planner never touches the host.

use super::plan::Flags;
pub use super::plan::Present;
use crate::apt::{self, Inst};
use crate::criu::{self, Verdict, Version};
use crate::criu_sources::{self as sources, Chosen, KeyRef, Name, PinBy};
use crate::distro::Distro;
use crate::docker::Daemon;
use crate::host::Host;
use crate::observe::{Apt, Criu, CriuCheck, Engine, FileFact, Kernel, Observer, RUNC_CONF};
use crate::openpgp;
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
    /// The installed C library (libc6), for what a source may need.
    pub libc: Option<String>,
    /// The CRIU source asked for: resolved, its key read, simulated.
    pub source: Option<SourceFacts>,
    /// dockpoint's CRIU sources already on the host (for the undo).
    pub ours: Vec<Present>,
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

    /// What choosing a source is decided from.
    pub fn source_ctx<'a>(&'a self, flags: &'a Flags) -> sources::Ctx<'a> {
        sources::Ctx {
            distro: Some(&self.distro),
            live: self.live,
            libc: self.libc.as_deref(),
            mirror: self.apt.as_ref().and_then(|a| a.mirror.as_deref()),
            base: flags.criu_base.as_deref(),
            url: flags.criu_url.as_ref(),
            key: flags.criu_key.as_deref(),
        }
    }

    /// The CRIU installed does the job here.
    pub fn criu_is_good(&self) -> bool {
        self.criu
            .as_ref()
            .and_then(|c| c.version)
            .is_some_and(|v| self.verdict(v).is_ok())
    }
}

/// A source asked for: resolved for this host, its key read, simulated.
#[derive(Debug, Clone)]
pub struct SourceFacts {
    pub name: Name,
    /// Why the source cannot serve this host, before any network.
    pub chosen: Result<Chosen, String>,
    /// The key read (None: a keyring already on the host).
    pub key: Option<Result<openpgp::Key, String>>,
    /// The simulation (None: not run, because an earlier fact refused).
    pub sim: Option<Result<Sim, String>>,
}

/// What the simulation found.
#[derive(Debug, Clone)]
pub struct Sim {
    pub installs: Vec<Inst>,
    /// The pin file's text.
    pub pin: String,
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
        libc: apt::installed_version(&obs.host, "libc6"),
        source: None,
        ours: present(&obs.host),
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
    f.source = observe_source(obs, &f, flags);
    f
}

/// dockpoint's source files on the host, and the packages they installed.
fn present(host: &Host) -> Vec<Present> {
    let mut out = Vec::new();
    for (stem, files) in sources::all_files() {
        let found: Vec<(String, Vec<u8>)> = files
            .all()
            .into_iter()
            .filter_map(|p| {
                let b = host.fs.read(p, crate::rootfs::CONFIG_LIMIT).ok()??;
                Some((p.to_string(), b))
            })
            .collect();
        if found.is_empty() {
            continue;
        }
        let record = found
            .iter()
            .find(|(p, _)| *p == files.record)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let (packages, upgraded) = parse_record(&record);
        let installed = |p: &str| apt::installed_version(host, p).is_some();
        out.push(Present {
            stem,
            files: found,
            packages: packages.into_iter().filter(|p| installed(p)).collect(),
            upgraded: upgraded.into_iter().filter(|(p, _)| installed(p)).collect(),
        });
    }
    out
}

/// A source's record: the packages it installed new (one a line), and
/// those it upgraded (`name=previous version`).
pub fn record_text(flag: &str, installs: &[Inst]) -> String {
    let mut s = format!(
        "# Written by dockpoint: what --criu-source {flag} installed (name) and upgraded\n# (name=previous version); dockpoint setup --remove-criu-source purges and downgrades them\n"
    );
    for i in installs {
        match &i.from {
            None => s.push_str(&format!("{}\n", i.package)),
            Some(v) => s.push_str(&format!("{}={v}\n", i.package)),
        }
    }
    s
}

pub fn parse_record(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut new = Vec::new();
    let mut upgraded = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        match l.split_once('=') {
            Some((p, v)) => upgraded.push((p.to_string(), v.to_string())),
            None => new.push(l.to_string()),
        }
    }
    (new, upgraded)
}

/// The source asked for, where it matters: a live host whose CRIU is
/// missing or cannot do the job. Resolved, its key read, then simulated;
/// each stage only when the one before passed.
pub fn observe_source(obs: &Observer, f: &Facts, flags: &Flags) -> Option<SourceFacts> {
    let name = flags.source()?;
    if flags.remove_sources || flags.no_install || f.criu_is_good() {
        return None;
    }
    let chosen = sources::choose(name, &f.source_ctx(flags));
    let mut facts = SourceFacts {
        name,
        chosen: chosen.clone(),
        key: None,
        sim: None,
    };
    let Ok(chosen) = chosen else {
        return Some(facts);
    };
    let row = chosen.row();
    let progress = Progress::start(
        &obs.host.term,
        &format!("criu-install: checking --criu-source {}", row.flag),
    );
    let key = match &chosen.key {
        KeyRef::Keyring(_) => None,
        k => Some(read_key(&obs.host, k, row.fingerprint, &progress)),
    };
    facts.key = key.map(|r| {
        r.map_err(|e| {
            let e = format!("{e:#}");
            match (name, sources::obs_dir(&f.distro)) {
                (Name::Obs, Some(dir)) if e.contains(" 404") => format!(
                    "the OBS project devel:tools:criu has no repository for {dir} under {} (its Release.key answers 404: the project builds only some releases); nothing was changed",
                    flags.criu_base.as_deref().unwrap_or("--criu-base")
                ),
                _ => e,
            }
        })
    });
    if let Some(Err(_)) = &facts.key {
        progress.finish("refused");
        return Some(facts);
    }
    progress.phase("simulating the install in a private copy of apt's state");
    let key_bin = facts
        .key
        .as_ref()
        .and_then(|k| k.as_ref().ok())
        .map(|k| k.binary.clone());
    let r = simulate(&obs.host, &chosen, key_bin.as_deref(), &progress);
    progress.finish(if r.is_ok() {
        "the simulation passed"
    } else {
        "refused"
    });
    facts.sim = Some(r.map_err(|e| format!("{e:#}")));
    Some(facts)
}

/// Read the signing key (a host file, or fetched with apt's own
/// downloader, which honours apt's proxy settings) and check its
/// fingerprint when the source publishes one.
fn read_key(
    host: &Host,
    key: &KeyRef,
    expect: Option<&str>,
    progress: &Progress,
) -> Result<openpgp::Key> {
    let (bytes, from) = match key {
        KeyRef::File(p) => {
            let b = host
                .fs
                .read(p, 1 << 20)?
                .with_context(|| format!("--criu-key {p}: no such file"))?;
            (b, p.clone())
        }
        KeyRef::Url(u) => {
            progress.phase(&format!("fetching the signing key {u}"));
            (download(host, u)?, u.clone())
        }
        KeyRef::Keyring(p) => bail!("{p} is a keyring on the host, not a key to read"),
    };
    let k = openpgp::parse(&bytes).with_context(|| format!("the signing key {from}"))?;
    if let Some(fp) = expect
        && !k.has(fp)
    {
        bail!(
            "the key read from {from} is {}, not the source's published key {}: refused, nothing was changed",
            k.describe(),
            openpgp::spaced(fp)
        );
    }
    Ok(k)
}

/// Fetch a small file with `apt-helper download-file` into a private temp
/// directory of the machine.
fn download(host: &Host, url: &str) -> Result<Vec<u8>> {
    let tmp = tempfile::Builder::new()
        .prefix("dockpoint-fetch-")
        .tempdir()
        .context("cannot create a temp directory for the download")?;
    let dest = tmp.path().join("file");
    let dest_s = dest.display().to_string();
    let out = host.run(
        &crate::runner::Cmd::new(
            APT_HELPER,
            &[
                "-oAPT::Sandbox::User=root",
                "download-file",
                url,
                dest_s.as_str(),
            ],
        )
        .env("LC_ALL", "C")
        .timeout(Duration::from_secs(120)),
    )?;
    if !out.success() {
        let why = out
            .stderr
            .lines()
            .chain(out.stdout.lines())
            .find(|l| l.starts_with("E: Failed to fetch") || l.contains("  404"))
            .unwrap_or_else(|| out.tail(3).leak())
            .trim()
            .to_string();
        bail!("could not fetch {url}: {why}");
    }
    let mut b = Vec::new();
    std::fs::File::open(&dest)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 1 << 20), &mut b))
        .with_context(|| format!("reading what was fetched from {url}"))?;
    Ok(b)
}

pub const APT_HELPER: &str = "/usr/lib/apt/apt-helper";

/// The apt options that read only `sources_file` (and keep the other
/// lists): how one source is updated without touching the others.
pub fn only_source(sources_file: &str, empty_dir: &str) -> Vec<String> {
    vec![
        format!("-oDir::Etc::SourceList={sources_file}"),
        format!("-oDir::Etc::SourceParts={empty_dir}"),
        "-oAPT::Get::List-Cleanup=0".into(),
    ]
}

/// Simulate installing CRIU from `chosen` in a private copy of apt's
/// state, in a temp directory of the machine that is removed afterwards:
/// the host's apt configuration, lists and logs are not touched (a dry run
/// writes nothing on the host). Only the new source is fetched. Live hosts.
fn simulate(host: &Host, chosen: &Chosen, key: Option<&[u8]>, progress: &Progress) -> Result<Sim> {
    let row = chosen.row();
    let tmp = tempfile::Builder::new()
        .prefix("dockpoint-apt-sim-")
        .tempdir()
        .context("cannot create a temp directory for the apt simulation")?;
    let t = tmp.path();
    for d in [
        "parts",
        "prefs",
        "prefs-wide",
        "only",
        "empty",
        "lists/partial",
        "cache/archives/partial",
    ] {
        std::fs::create_dir_all(t.join(d))?;
    }
    let ours = format!("dockpoint-criu-{}", row.stem);
    let copy_dir = |from: &str, to: &Path| {
        for name in host.fs.read_dir(from).unwrap_or_default() {
            if name.starts_with(&ours) {
                continue;
            }
            let src = format!("{from}/{name}");
            if let Ok(Some(mut f)) = host.fs.open_file(&src)
                && let Ok(mut out) = std::fs::File::create(to.join(&name))
            {
                let _ = std::io::copy(&mut f, &mut out);
            }
        }
    };
    copy_dir("/etc/apt/sources.list.d", &t.join("parts"));
    copy_dir("/etc/apt/preferences.d", &t.join("prefs"));
    copy_dir("/etc/apt/preferences.d", &t.join("prefs-wide"));
    copy_dir("/var/lib/apt/lists", &t.join("lists"));
    let before: std::collections::BTreeSet<String> = names(&t.join("lists"));
    let p = |s: &Path| s.display().to_string();
    let signed_by = match key {
        Some(k) => {
            std::fs::write(t.join("key.gpg"), k)?;
            p(&t.join("key.gpg"))
        }
        None => chosen.signed_by(),
    };
    let text = chosen.sources_text(&signed_by);
    let only_file = t.join("only").join(format!("{ours}.sources"));
    std::fs::write(&only_file, &text)?;
    std::fs::write(t.join("parts").join(format!("{ours}.sources")), &text)?;
    let common = [
        format!("-oDir::State::Lists={}", p(&t.join("lists"))),
        format!("-oDir::Cache={}", p(&t.join("cache"))),
        "-oDebug::NoLocking=1".into(),
        "-oAPT::Sandbox::User=root".into(),
    ];
    let mut log = apt::Log::memory();
    progress.phase(&format!("reading {}", chosen.describe()));
    let upd_opts: Vec<String> = [
        &common[..],
        &only_source(&p(&only_file), &p(&t.join("empty"))),
    ]
    .concat();
    let upd: Vec<&str> = upd_opts
        .iter()
        .map(String::as_str)
        .chain(["update"])
        .collect();
    let up = apt::run_logged(host, &upd, Duration::from_secs(300), &mut log, progress)?;
    if let Some(why) = update_trouble(up.success(), &up.stdout, &up.stderr) {
        bail!(
            "apt could not read {}{why}\nrefused, nothing was changed",
            chosen.describe()
        );
    }
    let pin = match row.pin_by {
        PinBy::Suite(s) => format!("release a={s}"),
        PinBy::Release => {
            let release = names(&t.join("lists"))
                .difference(&before)
                .filter(|n| n.ends_with("_InRelease") || n.ends_with("_Release"))
                .find_map(|n| std::fs::read_to_string(t.join("lists").join(n)).ok());
            release
                .as_deref()
                .and_then(sources::pin_release)
                .or_else(|| uri_host(&chosen.uri).map(|h| format!("origin \"{h}\"")))
                .context("the repository's Release file names nothing to pin it by")?
        }
    };
    let pin_text = sources::pin_text(chosen.name, &pin);
    std::fs::write(t.join("prefs").join(&ours), &pin_text)?;
    let sim_opts = |prefs: &str| -> Vec<String> {
        let mut v = common.to_vec();
        v.push(format!("-oDir::Etc::SourceParts={}", p(&t.join("parts"))));
        v.push(format!(
            "-oDir::Etc::PreferencesParts={}",
            p(&t.join(prefs))
        ));
        v.extend(
            ["-s", "--no-install-recommends", "install", "criu"]
                .iter()
                .map(|s| s.to_string()),
        );
        v
    };
    progress.phase("simulating apt-get install criu");
    let o = sim_opts("prefs");
    let args: Vec<&str> = o.iter().map(String::as_str).collect();
    let sim = apt::run_logged(host, &args, Duration::from_secs(120), &mut log, progress)?;
    let inst = apt::parse_sim(&sim.stdout);
    let from_source = inst
        .iter()
        .find(|i| i.package == "criu")
        .map(|i| i.release.clone());
    if sim.success()
        && let Some(rel) = &from_source
    {
        let outside: Vec<String> = inst
            .iter()
            .filter(|i| i.release == *rel && !row.allowed.contains(&i.package.as_str()))
            .map(|i| i.package.clone())
            .collect();
        if outside.is_empty() {
            return Ok(Sim {
                installs: inst,
                pin: pin_text,
            });
        }
        bail!(
            "CRIU from {} would also bring {} from it; refused, nothing was changed",
            row.what,
            outside.join(", ")
        );
    }
    // Say what CRIU from this source would really need: apt's unmet
    // dependencies under the pin, and what it would bring without the pin.
    let unmet = unmet_dependencies(&format!(
        "{}
{}",
        sim.stdout, sim.stderr
    ));
    let o = sim_opts("prefs-wide");
    let args: Vec<&str> = o.iter().map(String::as_str).collect();
    let wide = apt::run_logged(host, &args, Duration::from_secs(120), &mut log, progress)?;
    let needs: Vec<String> = apt::parse_sim(&wide.stdout)
        .into_iter()
        .filter(|i| !row.allowed.contains(&i.package.as_str()) && i.from.is_some())
        .map(|i| format!("{} {} -> {}", i.package, i.from.unwrap_or_default(), i.to))
        .collect();
    let what = if !needs.is_empty() {
        format!("would also upgrade {}", needs.join(", "))
    } else if !unmet.is_empty() {
        format!("needs {}", unmet.join("; "))
    } else if from_source.is_none() && sim.success() {
        "has no criu package for this host".to_string()
    } else {
        format!(
            "cannot be installed:
{}",
            sim.tail(4)
        )
    };
    let libc = what.contains("libc6 ");
    bail!(
        "CRIU from {} {what}; refused, nothing was changed{}",
        row.what,
        if libc {
            " (a new C library under every program: not something a CRIU install should do)"
        } else {
            ""
        },
    )
}

/// What went wrong in `apt-get update` of one source, if anything: it exits
/// 0 on some signature trouble, so its `E:`/`W:`/`Err:` lines decide.
/// gpgv says `NO_PUBKEY`, sqv (Debian 13) `Missing key`.
fn update_trouble(success: bool, stdout: &str, stderr: &str) -> Option<String> {
    let trouble: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .map(str::trim)
        .filter(|l| {
            l.starts_with("E:")
                || l.starts_with("Err:")
                || [
                    "NO_PUBKEY",
                    "Missing key",
                    "not signed",
                    "signatures couldn't be verified",
                    "EXPKEYSIG",
                    "BADSIG",
                ]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    if success && trouble.is_empty() {
        return None;
    }
    let sig = trouble.iter().any(|l| {
        [
            "NO_PUBKEY",
            "Missing key",
            "signature",
            "not signed",
            "BADSIG",
            "EXPKEYSIG",
        ]
        .iter()
        .any(|w| l.contains(w))
    });
    let lines = if trouble.is_empty() {
        let all: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
        all[all.len().saturating_sub(5)..].join("\n  ")
    } else {
        trouble.join("\n  ")
    };
    Some(format!(
        "{}:\n  {lines}",
        if sig {
            " with the key given (the repository is signed by another key, or not signed)"
        } else {
            ""
        }
    ))
}

/// `criu : Depends: libc6 (>= 2.38) but 2.36-9 is to be installed` lines.
fn unmet_dependencies(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut on = false;
    for l in text.lines() {
        if l.starts_with("The following packages have unmet dependencies") {
            on = true;
            continue;
        }
        if !on {
            continue;
        }
        let t = l.trim();
        if t.is_empty() || t.starts_with("E:") {
            break;
        }
        let dep = t.split_once(" : ").map_or(t, |(_, r)| r).trim();
        out.push(dep.to_string());
    }
    out
}

fn names(dir: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn uri_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let host = rest.split(['/', ':']).next()?;
    (!host.is_empty()).then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::host::Term;
    use crate::runner::RecordingRunner;

    fn host_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Host) {
        let d = tempfile::tempdir().unwrap();
        for (p, b) in files {
            let at = d.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, b).unwrap();
        }
        let h = Host::new(
            Some(d.path().to_path_buf()),
            Box::new(RecordingRunner::default()),
            Term::plain(),
        )
        .unwrap();
        (d, h)
    }

    const KEY: &[u8] = include_bytes!("../../tests/fixtures/openpgp/throwaway.asc");

    #[test]
    fn a_key_that_is_not_the_published_one_is_refused() {
        let (_d, h) = host_with(&[("/root/k.asc", KEY), ("/root/bad.asc", b"<html>")]);
        let p = Progress::start(&h.term, "t");
        let file = |s: &str| KeyRef::File(s.into());
        let e = read_key(&h, &file("/root/k.asc"), Some(sources::PPA_FINGERPRINT), &p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not the source's published key 4E2A 4871"),
            "{e}"
        );
        assert!(e.contains("3E6C 36EE"), "names what it read: {e}");
        let k = read_key(&h, &file("/root/k.asc"), None, &p).unwrap();
        assert_eq!(
            k.fingerprints,
            vec!["3E6C36EEF8867B65B90D2F1C3F8C75220C246CF5"]
        );
        let e = format!(
            "{:#}",
            read_key(&h, &file("/root/bad.asc"), None, &p).unwrap_err()
        );
        assert!(
            e.contains("/root/bad.asc") && e.contains("not OpenPGP"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            read_key(&h, &file("/root/none.asc"), None, &p).unwrap_err()
        );
        assert!(e.contains("no such file"), "{e}");
    }

    #[test]
    fn the_record_keeps_what_was_new_and_what_was_upgraded_from_which_version() {
        let inst = |p: &str, from: Option<&str>| Inst {
            package: p.into(),
            from: from.map(str::to_owned),
            to: "9".into(),
            release: "x".into(),
        };
        let text = record_text(
            "obs",
            &[inst("criu", None), inst("libnl-3-200", Some("3.7.0-0.3"))],
        );
        assert!(text.starts_with("# Written by dockpoint"));
        assert_eq!(
            parse_record(&text),
            (
                vec!["criu".to_string()],
                vec![("libnl-3-200".to_string(), "3.7.0-0.3".to_string())]
            )
        );
    }

    #[test]
    fn update_trouble_tells_a_wrong_key_from_a_missing_repository() {
        // gpgv (Debian 12) and sqv (Debian 13) say it differently.
        let gpgv = "W: GPG error: http://127.0.0.1:8765  InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 3F8C75220C246CF5\nE: The repository 'http://127.0.0.1:8765  InRelease' is not signed.\n";
        let sqv = "Err:1 http://127.0.0.1:8765/wrongkey  InRelease\n  Sub-process /usr/bin/sqv returned an error code (1), error message is: Missing key 649E, which is needed to verify signature.\n";
        for err in [gpgv, sqv] {
            let why = update_trouble(false, "", err).unwrap();
            assert!(why.contains("signed by another key"), "{why}");
        }
        let sqv_ok_exit = update_trouble(true, sqv, "").unwrap();
        assert!(sqv_ok_exit.contains("Missing key"), "{sqv_ok_exit}");
        let missing = "Err:1 http://127.0.0.1:8765/x/Debian_12  Release\n  404  File not found\nE: The repository 'http://127.0.0.1:8765/x/Debian_12  Release' does not have a Release file.\n";
        let why = update_trouble(false, missing, "").unwrap();
        assert!(
            !why.contains("another key") && why.contains("does not have a Release file"),
            "{why}"
        );
        assert_eq!(
            update_trouble(
                true,
                "Get:1 http://x InRelease\nReading package lists...\n",
                ""
            ),
            None
        );
    }

    #[test]
    fn unmet_dependencies_are_named() {
        let out = "Some packages could not be installed.\nThe following packages have unmet dependencies:\n criu : Depends: libc6 (>= 2.38) but 2.36-9+deb12u14 is to be installed\n        Depends: libnet9 but it is not installable\nE: Unable to correct problems, you have held broken packages.\n";
        assert_eq!(
            unmet_dependencies(out),
            vec![
                "Depends: libc6 (>= 2.38) but 2.36-9+deb12u14 is to be installed",
                "Depends: libnet9 but it is not installable"
            ]
        );
        assert!(unmet_dependencies("Inst criu (4.2.1-1 x [amd64])\n").is_empty());
    }

    #[test]
    fn a_single_source_update_reads_only_its_file() {
        let o = only_source("/t/only/a.sources", "/t/empty");
        assert!(o.contains(&"-oDir::Etc::SourceList=/t/only/a.sources".to_string()));
        assert!(o.contains(&"-oDir::Etc::SourceParts=/t/empty".to_string()));
        assert!(o.contains(&"-oAPT::Get::List-Cleanup=0".to_string()));
        assert_eq!(
            uri_host("http://127.0.0.1:8080/x/").as_deref(),
            Some("127.0.0.1")
        );
    }
}
