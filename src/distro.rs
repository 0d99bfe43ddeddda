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
/// first, then for each word of `ID_LIKE` in order. Derivatives that ship
/// without an `ID_LIKE` naming their base (Deepin, PureOS, ...) are known
/// here by their `ID` (lowercased: Deepin 20 writes `ID=Deepin`); the rest
/// of the derivatives listed are here so that an os-release that drops its
/// `ID_LIKE` is still recognised.
const FAMILY_TABLE: &[(&str, Family)] = &[
    ("debian", Family::Debian),
    ("ubuntu", Family::Debian),
    ("raspbian", Family::Debian),
    ("linuxmint", Family::Debian),
    ("pop", Family::Debian),
    ("neon", Family::Debian),
    ("elementary", Family::Debian),
    ("kali", Family::Debian),
    // Debian family without ID_LIKE (or with it dropped in some releases).
    ("deepin", Family::Debian),
    ("uos", Family::Debian),
    ("pureos", Family::Debian),
    ("devuan", Family::Debian),
    ("parrot", Family::Debian),
    ("mx", Family::Debian),
    ("antix", Family::Debian),
    ("zorin", Family::Debian),
    ("tails", Family::Debian),
    ("siduction", Family::Debian),
    ("sparky", Family::Debian),
    ("bunsenlabs", Family::Debian),
    ("astra", Family::Debian),
    ("trisquel", Family::Debian),
    ("pika", Family::Debian),
    ("endless", Family::Debian),
    ("cumulus-linux", Family::Debian),
    ("fedora", Family::Fedora),
    ("rhel", Family::Fedora),
    ("centos", Family::Fedora),
    ("rocky", Family::Fedora),
    ("almalinux", Family::Fedora),
    ("ol", Family::Fedora),
    ("amzn", Family::Fedora),
    ("scientific", Family::Fedora),
    ("clearos", Family::Fedora),
    ("xcp-ng", Family::Fedora),
    ("nobara", Family::Fedora),
    ("suse", Family::Suse),
    ("opensuse", Family::Suse),
    ("opensuse-leap", Family::Suse),
    ("opensuse-tumbleweed", Family::Suse),
    ("sles", Family::Suse),
    ("sles_sap", Family::Suse),
    ("arch", Family::Arch),
    ("manjaro", Family::Arch),
    ("manjaro-arm", Family::Arch),
    ("endeavouros", Family::Arch),
    ("garuda", Family::Arch),
    ("artix", Family::Arch),
    ("alpine", Family::Alpine),
];

/// Where the Fedora family has `yum`, not `dnf`: an `ID` and the highest
/// major `VERSION_ID` that still has only yum. Enterprise Linux 7 and older
/// (RHEL, CentOS, Scientific, Oracle Linux, ClearOS), Amazon Linux 2 (and
/// 2018.03; 2023 has dnf), XCP-ng up to 8.x (built on CentOS 7), Fedora
/// before 22. Other `ID`s whose `ID_LIKE` names rhel or centos follow the
/// Enterprise Linux rule (7 and older: yum).
const YUM_UNTIL: &[(&str, u32)] = &[
    ("rhel", 7),
    ("centos", 7),
    ("scientific", 7),
    ("ol", 7),
    ("clearos", 7),
    ("amzn", 2018),
    ("xcp-ng", 8),
    ("fedora", 21),
];

/// The Enterprise Linux rule for rebuilds not in [`YUM_UNTIL`].
const EL_YUM_UNTIL: u32 = 7;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distro {
    pub id: String,
    pub version_id: Option<String>,
    pub codename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ubuntu_codename: Option<String>,
    pub family: Family,
    /// `ID_LIKE`, lowercased, word by word.
    #[serde(skip)]
    pub like: Vec<String>,
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
            like: Vec::new(),
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
            like,
            pretty_name: get("PRETTY_NAME"),
            source,
            refused: None,
        }
    }

    /// The major number of `VERSION_ID` (`7.5` -> 7, `2` -> 2).
    pub fn major_version(&self) -> Option<u32> {
        let v = self.version_id.as_deref()?;
        let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// The Fedora family's package tool here: `yum` on Enterprise Linux 7
    /// and its kind ([`YUM_UNTIL`]), `dnf` everywhere else.
    pub fn uses_yum(&self) -> bool {
        if self.family != Family::Fedora {
            return false;
        }
        let Some(major) = self.major_version() else {
            return false;
        };
        let until = YUM_UNTIL
            .iter()
            .find(|(id, _)| *id == self.id)
            .map(|(_, v)| *v)
            .or_else(|| {
                self.like
                    .iter()
                    .any(|w| w == "rhel" || w == "centos")
                    .then_some(EL_YUM_UNTIL)
            });
        until.is_some_and(|u| major <= u)
    }

    /// The command that installs packages on this distro, if dockpoint
    /// knows one: `apt-get`, `dnf` or `yum`, `zypper`, `pacman`, `apk`.
    pub fn package_tool(&self) -> Option<&'static str> {
        match self.family {
            Family::Debian => Some("apt-get"),
            Family::Fedora if self.uses_yum() => Some("yum"),
            Family::Fedora => Some("dnf"),
            Family::Suse => Some("zypper"),
            Family::Arch => Some("pacman"),
            Family::Alpine => Some("apk"),
            Family::Other => None,
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
    fn debian_derivatives_without_id_like_are_known_by_id() {
        for text in [
            "NAME=\"Deepin\"\nVERSION_ID=\"20.9\"\nVERSION_CODENAME=\"apricot\"\nID=Deepin\n",
            "NAME=\"Deepin\"\nVERSION_ID=\"15.11\"\nID=deepin\n",
            "ID=pureos\nNAME=PureOS\nVERSION_ID=10.0\nVERSION_CODENAME=byzantium\n",
            "ID=uos\nVERSION_ID=20\n",
            "ID=devuan\nVERSION_ID=5\n",
            "ID=parrot\nVERSION_ID=5.3\n",
            "ID=mx\nVERSION_ID=23\n",
            "ID=tails\n",
            "ID=siduction\n",
            "ID=astra\nVERSION_ID=1.7_x86-64\n",
        ] {
            let x = d(text);
            assert_eq!(x.family, Family::Debian, "{text}");
            assert_eq!(x.package_tool(), Some("apt-get"), "{text}");
        }
        // The ID is matched whole: a name that merely starts like one is not.
        assert_eq!(d("ID=deepinfoo\n").family, Family::Other);
    }

    #[test]
    fn enterprise_linux_7_and_its_kind_use_yum() {
        for (text, tool) in [
            (
                "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n",
                "yum",
            ),
            (
                "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"7.5\"\n",
                "yum",
            ),
            (
                "ID=\"scientific\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"7.5\"\n",
                "yum",
            ),
            ("ID=\"ol\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"7.9\"\n", "yum"),
            (
                "ID=\"clearos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n",
                "yum",
            ),
            (
                "ID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n",
                "yum",
            ),
            ("ID=\"amzn\"\nVERSION_ID=\"2018.03\"\n", "yum"),
            (
                "ID=\"XCP-ng\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"8.2.1\"\n",
                "yum",
            ),
            // An EL7 rebuild dockpoint has no row for: by its ID_LIKE.
            (
                "ID=\"cloudlinux\"\nID_LIKE=\"rhel fedora centos\"\nVERSION_ID=\"7.9\"\n",
                "yum",
            ),
            ("ID=fedora\nVERSION_ID=21\n", "yum"),
            // dnf from here on.
            (
                "ID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n",
                "dnf",
            ),
            (
                "ID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"8.10\"\n",
                "dnf",
            ),
            (
                "ID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"9\"\n",
                "dnf",
            ),
            (
                "ID=\"cloudlinux\"\nID_LIKE=\"rhel fedora centos\"\nVERSION_ID=\"8.10\"\n",
                "dnf",
            ),
            (
                "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.5\"\n",
                "dnf",
            ),
            ("ID=fedora\nVERSION_ID=41\n", "dnf"),
            // No VERSION_ID: the current tool.
            ("ID=centos\nID_LIKE=\"rhel fedora\"\n", "dnf"),
        ] {
            assert_eq!(d(text).family, Family::Fedora, "{text}");
            assert_eq!(d(text).package_tool(), Some(tool), "{text}");
        }
        assert!(!d("ID=debian\nVERSION_ID=7\n").uses_yum());
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
