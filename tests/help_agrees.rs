//! `--help` and the README say the same about the exit codes and `--root`.

use assert_cmd::Command;
use std::collections::BTreeSet;

fn help(args: &[&str]) -> String {
    let out = Command::cargo_bin("dockpoint")
        .unwrap()
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// The codes listed under "Exit codes" in a help text.
fn help_codes(text: &str) -> BTreeSet<u8> {
    let (_, tail) = text.split_once("Exit codes").expect("an exit-code list");
    tail.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let (code, rest) = t.split_once("  ")?;
            (l.starts_with("  ") && !rest.is_empty())
                .then(|| code.parse().ok())
                .flatten()
        })
        .collect()
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The section of the README from `heading` to the next `## `.
fn section(readme: &str, heading: &str) -> String {
    let start = readme.find(heading).unwrap_or_else(|| panic!("{heading}"));
    let rest = &readme[start + heading.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Codes in a markdown table (`| N | ...`) or in "Exit codes: 0 ...; 1 ...".
fn readme_codes(section: &str) -> BTreeSet<u8> {
    let mut codes: BTreeSet<u8> = section
        .lines()
        .filter_map(|l| {
            let c = l.strip_prefix("| ")?.split_once(' ')?.0;
            c.parse().ok()
        })
        .collect();
    if let Some((_, t)) = section.split_once("Exit codes: ") {
        let t = t.split("\n\n").next().unwrap_or_default();
        for part in std::iter::once(t).chain(t.split("; ")) {
            if let Some(c) = part.trim().split(' ').next().and_then(|w| w.parse().ok()) {
                codes.insert(c);
            }
        }
    }
    codes
}

#[test]
fn each_commands_exit_codes_are_the_readmes() {
    let r = readme();
    for (cmd, heading) in [
        ("setup", "## `dockpoint setup`"),
        ("doctor", "## `dockpoint doctor`"),
        ("explain", "## `dockpoint explain`"),
    ] {
        let in_help = help_codes(&help(&[cmd]));
        let in_readme = readme_codes(&section(&r, heading));
        assert!(!in_help.is_empty(), "{cmd} --help lists no exit codes");
        assert_eq!(in_help, in_readme, "{cmd}: --help vs README");
    }
    // The top-level help names every code any command uses.
    let all = help_codes(&help(&[]));
    assert_eq!(all, BTreeSet::from([0, 1, 2, 3]));
}

#[test]
fn root_is_described_alike() {
    let h = help(&["setup"]).replace('\n', " ");
    let h: String = h.split_whitespace().collect::<Vec<_>>().join(" ");
    let r = readme();
    let row = r
        .lines()
        .find(|l| l.starts_with("| `--root DIR`"))
        .expect("the README's --root row");
    for (in_help, in_readme) in [
        (
            "for every file read, written, created or listed",
            "for every file read, written, created or listed",
        ),
        (
            "apt through chroot only as root",
            "apt through chroot only when dockpoint runs as root",
        ),
        ("CRIU sources", "CRIU sources"),
        ("criu check", "`criu check` is not run"),
        (
            "docker restart need the live host",
            "the docker restart is `skipped`",
        ),
    ] {
        assert!(h.contains(in_help), "setup --help: {in_help}");
        assert!(row.contains(in_readme), "README --root row: {in_readme}");
    }
}
