//! Distro detection from os-release(5).
//!
//! `<root>/etc/os-release` is read; only when it is missing is
//! `<root>/usr/lib/os-release` read (the two are never merged). A host with
//! neither still works: `id` "linux", family `other`.

use serde::Serialize;
use std::collections::BTreeMap;

/// The distro families dockpoint gives instructions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Debian,
    Fedora,
    Suse,
    Arch,
    Alpine,
    #[default]
    Other,
}

/// Which `ID` / `ID_LIKE` word leads to which family. Checked for `ID`
/// first, then for each word of `ID_LIKE` in order.
const FAMILY_TABLE: &[(&str, Family)] = &[
    ("debian", Family::Debian),
    ("ubuntu", Family::Debian),
    ("raspbian", Family::Debian),
    ("linuxmint", Family::Debian),
    ("pop", Family::Debian),
    ("neon", Family::Debian),
    ("elementary", Family::Debian),
    ("kali", Family::Debian),
    ("fedora", Family::Fedora),
    ("rhel", Family::Fedora),
    ("centos", Family::Fedora),
    ("rocky", Family::Fedora),
    ("almalinux", Family::Fedora),
    ("ol", Family::Fedora),
    ("amzn", Family::Fedora),
    ("suse", Family::Suse),
    ("opensuse", Family::Suse),
    ("opensuse-leap", Family::Suse),
    ("opensuse-tumbleweed", Family::Suse),
    ("sles", Family::Suse),
    ("arch", Family::Arch),
    ("manjaro", Family::Arch),
    ("endeavouros", Family::Arch),
    ("alpine", Family::Alpine),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distro {
    pub id: String,
    pub version_id: Option<String>,
    pub codename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ubuntu_codename: Option<String>,
    pub family: Family,
    #[serde(skip)]
    pub pretty_name: Option<String>,
    /// The file the facts came from, or None when neither exists.
    #[serde(skip)]
    pub source: Option<String>,
    /// Why an os-release file there could not be read (not a regular file,
    /// too large, unreadable): said, never silently taken as missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Distro {
    /// A host without any os-release file.
    pub fn unknown() -> Self {
        Distro {
            id: "linux".into(),
            version_id: None,
            codename: None,
            ubuntu_codename: None,
            family: Family::Other,
            pretty_name: None,
            source: None,
            refused: None,
        }
    }

    pub fn from_fields(fields: &BTreeMap<String, String>, source: Option<String>) -> Self {
        let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
        let id = get("ID").unwrap_or_else(|| "linux".into()).to_lowercase();
        let like: Vec<String> = get("ID_LIKE")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let family = std::iter::once(id.as_str())
            .chain(like.iter().map(String::as_str))
            .find_map(|word| {
                FAMILY_TABLE
                    .iter()
                    .find(|(name, _)| *name == word)
                    .map(|(_, f)| *f)
            })
            .unwrap_or(Family::Other);
        Distro {
            id,
            version_id: get("VERSION_ID"),
            codename: get("VERSION_CODENAME"),
            ubuntu_codename: get("UBUNTU_CODENAME"),
            family,
            pretty_name: get("PRETTY_NAME"),
            source,
            refused: None,
        }
    }

    /// One line for humans: "Debian GNU/Linux 13 (trixie) [debian family]".
    pub fn describe(&self) -> String {
        let name = self.pretty_name.clone().unwrap_or_else(|| {
            let mut s = self.id.clone();
            if let Some(v) = &self.version_id {
                s.push(' ');
                s.push_str(v);
            }
            s
        });
        let family = serde_json::to_value(self.family)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        match (&self.source, &self.refused) {
            (Some(src), _) => format!("{name} [{family} family, from {src}]"),
            (None, Some(why)) => format!("{name} [{why}: generic instructions]"),
            (None, None) => format!("{name} [no os-release file: generic instructions]"),
        }
    }
}

/// Parse os-release text: shell-style `KEY=value` lines, values bare or
/// quoted with `"` or `'`, backslash escapes, `#` comments. Lines that are not
/// assignments are ignored, as the specification asks.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        // The value is one shell word; shlex implements POSIX quoting rules.
        let value = match shlex::split(raw) {
            Some(words) if words.len() <= 1 => words.into_iter().next().unwrap_or_default(),
            _ => continue,
        };
        out.insert(key.to_string(), value);
    }
    out
}

/// Detect the distro of the host whose `/` is `root`.
pub fn detect(root: &crate::rootfs::Root) -> Distro {
    let mut refused: Vec<String> = Vec::new();
    for abs in ["/etc/os-release", "/usr/lib/os-release"] {
        // A dangling /etc/os-release symlink counts as missing, like systemd
        // does; a link resolves inside the root, like every path. A FIFO,
        // device or directory there is refused at once, and said.
        match root.read(abs, 64 << 10) {
            Ok(Some(b)) => {
                let mut d = Distro::from_fields(
                    &parse(&String::from_utf8_lossy(&b)),
                    Some(abs.to_string()),
                );
                d.refused = (!refused.is_empty()).then(|| refused.join("; "));
                return d;
            }
            Ok(None) => {}
            Err(e) => refused.push(format!("{e:#}")),
        }
    }
    let mut d = Distro::unknown();
    d.refused = (!refused.is_empty()).then(|| refused.join("; "));
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Distro {
        Distro::from_fields(&parse(text), Some("/etc/os-release".into()))
    }

    #[test]
    fn debian_has_no_id_like() {
        let x = d(
            "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\n",
        );
        assert_eq!(x.id, "debian");
        assert_eq!(x.version_id.as_deref(), Some("13"));
        assert_eq!(x.codename.as_deref(), Some("trixie"));
        assert_eq!(x.family, Family::Debian);
    }

    #[test]
    fn mint_uses_ubuntu_codename() {
        let x = d(
            "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_CODENAME=wilma\nUBUNTU_CODENAME=noble\n",
        );
        assert_eq!(x.family, Family::Debian);
        assert_eq!(x.codename.as_deref(), Some("wilma"));
        assert_eq!(x.ubuntu_codename.as_deref(), Some("noble"));
    }

    #[test]
    fn families_by_id_and_id_like() {
        for (text, fam) in [
            ("ID=fedora\nVERSION_CODENAME=\"\"\n", Family::Fedora),
            (
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n",
                Family::Fedora,
            ),
            ("ID=\"amzn\"\nID_LIKE=\"fedora\"\n", Family::Fedora),
            (
                "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n",
                Family::Suse,
            ),
            ("ID=arch\n", Family::Arch),
            ("ID=alpine\n", Family::Alpine),
            ("ID=kali\nID_LIKE=debian\n", Family::Debian),
            ("ID=something\nID_LIKE=\"unknown debian\"\n", Family::Debian),
            ("ID=nixos\n", Family::Other),
        ] {
            assert_eq!(d(text).family, fam, "{text}");
        }
        assert_eq!(d("ID=fedora\nVERSION_CODENAME=\"\"\n").codename, None);
    }

    #[test]
    fn quoting_escapes_and_comments() {
        let m = parse(
            "# comment\nNAME='single quoted'\nX=\"a \\\"b\\\" \\$c \\\\d\"\nBARE=plain\n  # indented comment\nnot an assignment\nlower=ignored\n",
        );
        assert_eq!(m["NAME"], "single quoted");
        assert_eq!(m["X"], "a \"b\" $c \\d");
        assert_eq!(m["BARE"], "plain");
        assert!(!m.contains_key("lower"));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn no_os_release_is_generic() {
        let dir = tempfile::tempdir().unwrap();
        let x = detect(&crate::rootfs::Root::open(dir.path()).unwrap());
        assert_eq!(x.id, "linux");
        assert_eq!(x.family, Family::Other);
    }

    #[test]
    fn etc_wins_and_is_never_merged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::fs::write(dir.path().join("etc/os-release"), "ID=alpine\n").unwrap();
        std::fs::write(
            dir.path().join("usr/lib/os-release"),
            "ID=debian\nVERSION_ID=12\n",
        )
        .unwrap();
        let x = detect(&crate::rootfs::Root::open(dir.path()).unwrap());
        assert_eq!(x.id, "alpine");
        assert_eq!(x.version_id, None);
        std::fs::remove_file(dir.path().join("etc/os-release")).unwrap();
        assert_eq!(
            detect(&crate::rootfs::Root::open(dir.path()).unwrap()).id,
            "debian"
        );
    }
}
