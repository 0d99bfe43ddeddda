//! Where a CRIU can come from besides the distro's own apt sources, as data.
//!
//! Each [`Row`] says which hosts the source serves, how its packages are
//! signed, which packages it may bring (an apt pin admits only those from
//! it: everything else from the source gets priority -10), the files it
//! writes, and what to say when it cannot serve a host. Everything here is
//! pure: [`choose`] and [`offers`] decide from facts, the texts are built
//! from the choice; setup simulates, plans and applies.
//!
//! dockpoint carries no package-registry host names: the base URL of the
//! CRIU team's download servers (the openSUSE Build Service, the PPA) is
//! given with `--criu-base URL` (or `DOCKPOINT_CRIU_BASE`), usually a
//! fleet's own mirror of it. Debian testing's mirror is the host's own, read
//! from its apt sources.

use crate::criu::Version;
use crate::distro::{Distro, Family};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Name {
    DebianTesting,
    Obs,
    Ppa,
    Url,
}

/// Where the signing key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFrom {
    /// A keyring already on the host (nothing is written).
    Keyring(&'static str),
    /// A file in the repository itself, fetched (OBS publishes `Release.key`).
    InRepo(&'static str),
    /// Given with `--criu-key FILE|URL`.
    Given,
}

/// How the pin names the source's packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinBy {
    /// `release a=SUITE`.
    Suite(&'static str),
    /// The Origin/Label/Suite/Codename of the source's Release file, read
    /// in the simulation.
    Release,
}

pub struct Row {
    pub name: Name,
    /// The `--criu-source` value.
    pub flag: &'static str,
    /// The files are `dockpoint-criu-{stem}.*`.
    pub stem: &'static str,
    pub what: &'static str,
    pub key: KeyFrom,
    /// The signing key's published fingerprint, checked after the fetch.
    pub fingerprint: Option<&'static str>,
    /// The only packages the source may bring; anything else from it is
    /// pinned away, and a CRIU that needs more is refused.
    pub allowed: &'static [&'static str],
    /// Needs `--criu-base URL`.
    pub needs_base: bool,
    pub pin_by: PinBy,
}

/// CRIU's own packages, in the names Debian and Ubuntu use, and the two
/// libraries a newer CRIU needs newer than a stable release has (Debian
/// testing's CRIU on Debian 13 takes libnet9 and libnl-3-200 >= 3.11).
/// Nothing else (no C library, no iproute2 it recommends, no rebuild of a
/// library the host already has, such as libprotobuf-c1) ever comes from a
/// CRIU source: at priority 600 an allowed package replaces the host's even
/// when CRIU does not need it, so the list is kept to what is needed.
const CRIU_PACKAGES: &[&str] = &[
    "criu",
    "crit",
    "criu-ns",
    "libcriu2",
    "libcompel1",
    "python3-pycriu",
    "libnet9",
    "libnl-3-200",
];

/// Debian testing's CRIU declares `libc6 (>= 2.38)`: a host with an older C
/// library would have to take testing's libc (refused), so it is not offered.
pub const TESTING_MIN_LIBC: Version = Version(2, 38, 0);
pub const DEBIAN_ARCHIVE_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// The CRIU team's PPA signing key, as published on the Ubuntu keyserver.
pub const PPA_FINGERPRINT: &str = "4E2A48715C45AEEC077B48169B29EEC9246B6CE2";
/// Older than testing's CRIU needs (the upstream part of a Debian version).
fn libc_too_old(debian_version: &str) -> bool {
    let upstream = debian_version.split('-').next().unwrap_or(debian_version);
    Version::parse(upstream).is_some_and(|v| v < TESTING_MIN_LIBC)
}

/// The OBS project's path under the download server's base.
pub const OBS_PATH: &str = "repositories/devel:/tools:/criu";

/// Best first: the order sources are offered in.
pub const ROWS: &[Row] = &[
    Row {
        name: Name::Ppa,
        flag: "ppa",
        stem: "ppa",
        what: "the CRIU team's Launchpad PPA (ppa:criu/ppa)",
        key: KeyFrom::Given,
        fingerprint: Some(PPA_FINGERPRINT),
        allowed: CRIU_PACKAGES,
        needs_base: true,
        pin_by: PinBy::Release,
    },
    Row {
        name: Name::Obs,
        flag: "obs",
        stem: "obs",
        what: "the CRIU team's openSUSE Build Service project devel:tools:criu",
        key: KeyFrom::InRepo("Release.key"),
        fingerprint: None,
        allowed: CRIU_PACKAGES,
        needs_base: true,
        pin_by: PinBy::Release,
    },
    Row {
        name: Name::DebianTesting,
        flag: "debian-testing",
        stem: "testing",
        what: "Debian testing, through a pin admitting only CRIU and its own libraries",
        key: KeyFrom::Keyring(DEBIAN_ARCHIVE_KEYRING),
        fingerprint: None,
        allowed: CRIU_PACKAGES,
        needs_base: false,
        pin_by: PinBy::Suite("testing"),
    },
    Row {
        name: Name::Url,
        flag: "URL",
        stem: "url",
        what: "a signed deb repository you name (an internal mirror)",
        key: KeyFrom::Given,
        fingerprint: None,
        allowed: CRIU_PACKAGES,
        needs_base: false,
        pin_by: PinBy::Release,
    },
];

pub fn row(name: Name) -> &'static Row {
    ROWS.iter()
        .find(|r| r.name == name)
        .expect("every name has a row")
}

/// `--criu-source URL SUITE COMPONENT...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UrlSpec {
    pub uri: String,
    /// `/` (or empty) for a flat repository.
    pub suite: String,
    pub components: Vec<String>,
}

/// What the choice is made from.
#[derive(Debug, Clone, Default)]
pub struct Ctx<'a> {
    pub distro: Option<&'a Distro>,
    pub live: bool,
    /// The installed C library (libc6's Debian version, e.g. `2.36-9+deb12u14`).
    pub libc: Option<&'a str>,
    /// The host's Debian mirror, from its apt sources.
    pub mirror: Option<&'a str>,
    pub base: Option<&'a str>,
    pub url: Option<&'a UrlSpec>,
    /// `--criu-key FILE|URL`.
    pub key: Option<&'a str>,
}

/// Where the key is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Keyring(String),
    Url(String),
    File(String),
}

/// A source resolved for this host: everything but the key's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub name: Name,
    pub uri: String,
    pub suite: String,
    pub components: Vec<String>,
    pub key: KeyRef,
}

impl Chosen {
    pub fn row(&self) -> &'static Row {
        row(self.name)
    }

    /// The host files this source writes (the key only when fetched).
    pub fn files(&self) -> Files {
        files(self.row().stem, !matches!(self.key, KeyRef::Keyring(_)))
    }

    /// One line: the repository.
    pub fn describe(&self) -> String {
        let comps = self.components.join(" ");
        format!("{} {} {comps}", self.uri, self.suite)
            .trim_end()
            .to_string()
    }

    /// The deb822 `.sources` text, its key at `signed_by`.
    pub fn sources_text(&self, signed_by: &str) -> String {
        let r = self.row();
        let mut s = format!(
            "# Written by dockpoint (--criu-source {}): {}, for CRIU only\n\
             # (pinned in {}). Undo: dockpoint setup --remove-criu-source\n\
             Types: deb\nURIs: {}\nSuites: {}\n",
            r.flag,
            r.what,
            self.files().pin,
            self.uri,
            self.suite
        );
        if !self.components.is_empty() {
            s.push_str(&format!("Components: {}\n", self.components.join(" ")));
        }
        s.push_str(&format!("Signed-By: {signed_by}\n"));
        s
    }

    /// The key's path in the `.sources` file on the host.
    pub fn signed_by(&self) -> String {
        match &self.key {
            KeyRef::Keyring(p) => p.clone(),
            _ => self.files().key.unwrap_or_default(),
        }
    }
}

/// dockpoint's files for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub sources: String,
    pub pin: String,
    pub key: Option<String>,
    /// The packages it installed, for the undo.
    pub record: String,
}

impl Files {
    pub fn all(&self) -> Vec<&str> {
        let mut v = vec![self.sources.as_str(), self.pin.as_str()];
        v.extend(self.key.as_deref());
        v.push(self.record.as_str());
        v
    }
}

pub fn files(stem: &str, key: bool) -> Files {
    Files {
        sources: format!("/etc/apt/sources.list.d/dockpoint-criu-{stem}.sources"),
        pin: format!("/etc/apt/preferences.d/dockpoint-criu-{stem}"),
        key: key.then(|| format!("/etc/apt/keyrings/dockpoint-criu-{stem}.gpg")),
        record: format!("/var/lib/dockpoint/criu-{stem}.installed"),
    }
}

/// Every file of every source dockpoint may have written.
pub fn all_files() -> Vec<(&'static str, Files)> {
    ROWS.iter().map(|r| (r.stem, files(r.stem, true))).collect()
}

/// The pin's `Pin:` value from a Release file's fields; None when it names
/// nothing a pin can use.
pub fn pin_release(release: &str) -> Option<String> {
    // An InRelease file is clear-signed: its fields follow the armor header.
    let release = match release.strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----") {
        Some(rest) => rest.split_once("\n\n").map_or("", |(_, body)| body),
        None => release,
    };
    let mut parts = Vec::new();
    for (field, key) in [
        ("Origin", "o"),
        ("Label", "l"),
        ("Suite", "a"),
        ("Codename", "n"),
    ] {
        let v = release.lines().take_while(|l| !l.is_empty()).find_map(|l| {
            l.strip_prefix(field)
                .and_then(|r| r.strip_prefix(':'))
                .map(str::trim)
        });
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            if v.contains([',', '"', ' ']) {
                return None;
            }
            parts.push(format!("{key}={v}"));
        }
    }
    (!parts.is_empty()).then(|| format!("release {}", parts.join(",")))
}

/// The pin file: nothing from the source but `allowed`.
pub fn pin_text(name: Name, pin: &str) -> String {
    let r = row(name);
    format!(
        "# Written by dockpoint (--criu-source {}): admit only CRIU's own packages from\n\
         # {}; nothing else from it is ever installed.\n\
         Package: *\nPin: {pin}\nPin-Priority: -10\n\n\
         Package: {}\nPin: {pin}\nPin-Priority: 600\n",
        r.flag,
        r.what,
        r.allowed.join(" ")
    )
}

/// The OBS repository directory for a distro release (`Debian_12`,
/// `xUbuntu_24.04`).
pub fn obs_dir(d: &Distro) -> Option<String> {
    let v = d.version_id.as_deref()?;
    match d.id.as_str() {
        "debian" => Some(format!("Debian_{}", v.split('.').next().unwrap_or(v))),
        "ubuntu" => Some(format!("xUbuntu_{v}")),
        _ => None,
    }
}

fn key_ref(given: &str) -> KeyRef {
    if given.starts_with("https://") || given.starts_with("http://") {
        KeyRef::Url(given.to_string())
    } else {
        KeyRef::File(given.to_string())
    }
}

fn base(ctx: &Ctx, r: &Row) -> Result<String, String> {
    ctx.base
        .map(|b| b.trim_end_matches('/').to_string())
        .ok_or_else(|| {
            format!(
                "--criu-source {} needs --criu-base URL: the base of {}'s download server, or your mirror of it (dockpoint carries no package-registry host names)",
                r.flag, r.what
            )
        })
}

/// Resolve a source for this host, or say why it cannot serve it (before
/// any network or simulation).
pub fn choose(name: Name, ctx: &Ctx) -> Result<Chosen, String> {
    let r = row(name);
    let d = ctx.distro.ok_or("no os-release: the distro is unknown")?;
    if d.family != Family::Debian {
        return Err(format!(
            "--criu-source {} is an apt source; {} has no apt",
            r.flag,
            d.describe()
        ));
    }
    if !ctx.live {
        return Err(format!(
            "--criu-source {}: adding an apt source needs the live host (not --root)",
            r.flag
        ));
    }
    match name {
        Name::DebianTesting => {
            if d.id != "debian" {
                return Err(format!(
                    "--criu-source debian-testing is for Debian hosts; this is {}",
                    d.describe()
                ));
            }
            if let Some(libc) = ctx.libc.filter(|v| libc_too_old(v)) {
                return Err(format!(
                    "--criu-source debian-testing cannot serve {}: testing's CRIU needs libc6 >= {TESTING_MIN_LIBC}, this host has {libc}, and a CRIU install must not replace the C library; nothing was changed",
                    d.describe()
                ));
            }
            let mirror = ctx.mirror.ok_or(
                "--criu-source debian-testing: no Debian mirror in /etc/apt/sources.list(.d); add one or use another source",
            )?;
            Ok(Chosen {
                name,
                uri: mirror.to_string(),
                suite: "testing".into(),
                components: vec!["main".into()],
                key: KeyRef::Keyring(DEBIAN_ARCHIVE_KEYRING.into()),
            })
        }
        Name::Obs => {
            let dir = obs_dir(d).ok_or_else(|| {
                format!(
                    "--criu-source obs: the OBS project builds for Debian and Ubuntu releases, not for {}",
                    d.describe()
                )
            })?;
            let uri = format!("{}/{OBS_PATH}/{dir}/", base(ctx, r)?);
            let key = match ctx.key {
                Some(k) => key_ref(k),
                None => KeyRef::Url(format!("{uri}Release.key")),
            };
            Ok(Chosen {
                name,
                uri,
                suite: "/".into(),
                components: Vec::new(),
                key,
            })
        }
        Name::Ppa => {
            let codename = d
                .ubuntu_codename
                .clone()
                .or_else(|| (d.id == "ubuntu").then(|| d.codename.clone()).flatten());
            let Some(codename) = codename else {
                return Err(format!(
                    "--criu-source ppa builds for Ubuntu releases; {} is not one",
                    d.describe()
                ));
            };
            let base = base(ctx, r)?;
            let key = ctx.key.map(key_ref).ok_or_else(|| {
                format!(
                    "--criu-source ppa needs --criu-key FILE|URL: the PPA's signing key, fingerprint {}, as published on the Ubuntu keyserver (checked after reading)",
                    crate::openpgp::spaced(PPA_FINGERPRINT)
                )
            })?;
            Ok(Chosen {
                name,
                uri: format!("{base}/criu/ppa/ubuntu"),
                suite: codename,
                components: vec!["main".into()],
                key,
            })
        }
        Name::Url => {
            let u = ctx
                .url
                .ok_or("--criu-source URL: no repository URL given")?;
            let key = ctx.key.map(key_ref).ok_or_else(|| {
                format!(
                    "--criu-source {} needs --criu-key FILE|URL: the key that signs that repository",
                    u.uri
                )
            })?;
            let suite = if u.suite.is_empty() {
                "/".to_string()
            } else {
                u.suite.clone()
            };
            if suite.ends_with('/') && !u.components.is_empty() {
                return Err(format!(
                    "--criu-source {}: a flat repository (suite {suite}) takes no components",
                    u.uri
                ));
            }
            if !suite.ends_with('/') && u.components.is_empty() {
                return Err(format!(
                    "--criu-source {} {suite}: give its component too (e.g. main)",
                    u.uri
                ));
            }
            Ok(Chosen {
                name,
                uri: u.uri.clone(),
                suite,
                components: u.components.clone(),
                key,
            })
        }
    }
}

/// A way to a new enough CRIU on this host, for the plan and the doctor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub name: Name,
    /// The command to run.
    pub command: String,
    pub note: String,
}

/// The sources that can serve this host, best first; those the facts
/// already rule out are left out.
pub fn offers(ctx: &Ctx) -> Vec<Offer> {
    let Some(d) = ctx.distro.filter(|d| d.family == Family::Debian) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in ROWS {
        let cmd = format!("dockpoint setup --criu-source {}", r.flag);
        match r.name {
            Name::Ppa if d.ubuntu_codename.is_some() || d.id == "ubuntu" => out.push(Offer {
                name: r.name,
                command: format!("{cmd} --criu-base URL --criu-key FILE|URL"),
                note: format!(
                    "{} (key {})",
                    r.what,
                    crate::openpgp::spaced(PPA_FINGERPRINT)
                ),
            }),
            Name::Obs => {
                if let Some(dir) = obs_dir(d) {
                    out.push(Offer {
                        name: r.name,
                        command: format!("{cmd} --criu-base URL"),
                        note: format!("{} ({dir}, if the project builds it)", r.what),
                    });
                }
            }
            Name::DebianTesting
                if d.id == "debian"
                    && ctx.mirror.is_some()
                    && !ctx.libc.is_some_and(libc_too_old) =>
            {
                out.push(Offer {
                    name: r.name,
                    command: cmd,
                    note: r.what.to_string(),
                });
            }
            Name::Url => out.push(Offer {
                name: r.name,
                command: "dockpoint setup --criu-source URL SUITE COMPONENT --criu-key FILE|URL"
                    .into(),
                note: r.what.to_string(),
            }),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distro;

    fn d(os: &str) -> Distro {
        Distro::from_fields(&distro::parse(os), Some("/etc/os-release".into()))
    }
    const D12: &str = "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";
    const D13: &str = "ID=debian\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\n";
    const NOBLE: &str = "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n";

    fn ctx<'a>(d: &'a Distro) -> Ctx<'a> {
        Ctx {
            distro: Some(d),
            live: true,
            libc: Some("2.41-12"),
            mirror: Some("http://mirror.example/debian"),
            base: Some("http://127.0.0.1:8080/"),
            ..Ctx::default()
        }
    }

    #[test]
    fn obs_resolves_to_the_flat_repository_of_this_release() {
        let d13 = d(D13);
        let c = choose(Name::Obs, &ctx(&d13)).unwrap();
        assert_eq!(
            c.uri,
            "http://127.0.0.1:8080/repositories/devel:/tools:/criu/Debian_13/"
        );
        assert_eq!(c.suite, "/");
        assert_eq!(
            c.key,
            KeyRef::Url(format!("{}Release.key", c.uri)),
            "OBS publishes its key beside the repository"
        );
        let s = c.sources_text(&c.signed_by());
        assert!(
            s.contains("Suites: /\n") && !s.contains("Components"),
            "{s}"
        );
        assert!(s.contains("Signed-By: /etc/apt/keyrings/dockpoint-criu-obs.gpg"));
        let noble = d(NOBLE);
        let c = choose(Name::Obs, &ctx(&noble)).unwrap();
        assert!(c.uri.ends_with("/xUbuntu_24.04/"), "{}", c.uri);
    }

    #[test]
    fn a_source_without_its_base_says_what_to_give() {
        let d13 = d(D13);
        let mut c = ctx(&d13);
        c.base = None;
        let e = choose(Name::Obs, &c).unwrap_err();
        assert!(e.contains("--criu-base URL"), "{e}");
    }

    #[test]
    fn testing_is_not_offered_to_a_libc_it_would_replace() {
        let d12 = d(D12);
        let mut c = ctx(&d12);
        c.libc = Some("2.36-9+deb12u14");
        let e = choose(Name::DebianTesting, &c).unwrap_err();
        assert!(
            e.contains("libc6 >= 2.38") && e.contains("2.36-9+deb12u14"),
            "{e}"
        );
        let names: Vec<Name> = offers(&c).iter().map(|o| o.name).collect();
        assert_eq!(names, vec![Name::Obs, Name::Url]);
        c.libc = Some("2.41-12");
        let names: Vec<Name> = offers(&c).iter().map(|o| o.name).collect();
        assert_eq!(names, vec![Name::Obs, Name::DebianTesting, Name::Url]);
    }

    #[test]
    fn ubuntu_is_offered_the_ppa_first_and_never_testing() {
        let noble = d(NOBLE);
        let o = offers(&ctx(&noble));
        let names: Vec<Name> = o.iter().map(|o| o.name).collect();
        assert_eq!(names, vec![Name::Ppa, Name::Obs, Name::Url]);
        assert!(o[0].note.contains("4E2A 4871"), "{}", o[0].note);
        let c = Ctx {
            key: Some("/root/criu-ppa.asc"),
            ..ctx(&noble)
        };
        let p = choose(Name::Ppa, &c).unwrap();
        assert_eq!(p.uri, "http://127.0.0.1:8080/criu/ppa/ubuntu");
        assert_eq!(p.suite, "noble");
        assert_eq!(p.key, KeyRef::File("/root/criu-ppa.asc".into()));
        let e = choose(Name::DebianTesting, &c).unwrap_err();
        assert!(e.contains("for Debian hosts"), "{e}");
    }

    #[test]
    fn a_url_source_needs_its_key_and_a_consistent_suite() {
        let d13 = d(D13);
        let flat = UrlSpec {
            uri: "http://127.0.0.1:8080/wrongkey/".into(),
            suite: "/".into(),
            components: vec![],
        };
        let mut c = Ctx {
            url: Some(&flat),
            ..ctx(&d13)
        };
        assert!(choose(Name::Url, &c).unwrap_err().contains("--criu-key"));
        c.key = Some("https://keys.example/criu.asc");
        let u = choose(Name::Url, &c).unwrap();
        assert_eq!(u.key, KeyRef::Url("https://keys.example/criu.asc".into()));
        let bad = UrlSpec {
            suite: "trixie".into(),
            ..flat.clone()
        };
        c.url = Some(&bad);
        assert!(choose(Name::Url, &c).unwrap_err().contains("component"));
    }

    #[test]
    fn non_apt_hosts_and_image_roots_are_refused() {
        let fedora = d("ID=fedora\nVERSION_ID=41\n");
        assert!(
            choose(Name::Obs, &ctx(&fedora))
                .unwrap_err()
                .contains("has no apt")
        );
        assert!(offers(&ctx(&fedora)).is_empty());
        let d13 = d(D13);
        let mut c = ctx(&d13);
        c.live = false;
        assert!(choose(Name::Obs, &c).unwrap_err().contains("live host"));
    }

    #[test]
    fn the_pin_comes_from_the_release_fields_and_admits_only_criu() {
        let rel = "Origin: obs://build/devel:tools:criu/Debian_13\nLabel: devel:tools:criu\nDate: x\n\nSuite: ignored-after-blank\n";
        let pin = pin_release(rel).unwrap();
        assert_eq!(
            pin,
            "release o=obs://build/devel:tools:criu/Debian_13,l=devel:tools:criu"
        );
        assert_eq!(pin_release("Date: x\n"), None);
        let signed = format!("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{rel}");
        assert_eq!(pin_release(&signed).as_deref(), Some(pin.as_str()));
        assert_eq!(
            pin_release("Origin: a b\n"),
            None,
            "a value pins cannot hold"
        );
        let t = pin_text(Name::Obs, &pin);
        assert!(t.contains("Package: *\nPin: release o="), "{t}");
        assert!(t.contains("Pin-Priority: -10"));
        assert!(t.contains("Package: criu crit"), "{t}");
        assert!(!t.contains("libc6"));
    }
}
