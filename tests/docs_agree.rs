//! `--help`, the man pages, the completions and the README cannot drift:
//! every flag of every command (from the clap definitions themselves) must
//! be an entry of that command's man page (as `dockpoint package-files`
//! writes it for the package), be completed by the shell scripts
//! (`dockpoint completions`), and stand in the command's synopsis in the
//! README.

use assert_cmd::Command;
use clap::CommandFactory;
use dockpoint::cli::Cli;
use std::collections::BTreeSet;

/// A visible command's flags: `-y`, `--yes`, ... (not `--help`/`--version`,
/// not hidden ones, not positionals).
fn flags(cmd: &clap::Command) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(s) = a.get_short() {
            out.insert(format!("-{s}"));
        }
        if let Some(l) = a.get_long() {
            out.insert(format!("--{l}"));
        }
    }
    out
}

/// Every visible subcommand with its flags.
fn commands() -> Vec<(String, BTreeSet<String>)> {
    let cli = Cli::command();
    let mut out: Vec<_> = cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| (s.get_name().to_string(), flags(s)))
        .collect();
    out.sort();
    assert!(out.len() >= 10, "the subcommands: {out:?}");
    out
}

/// The man pages the package ships, written by the real binary.
fn man_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("dockpoint")
        .unwrap()
        .arg("package-files")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    dir
}

/// roff to text: font escapes dropped, `\-` as `-`.
fn plain(roff: &str) -> String {
    roff.replace("\\fB", "")
        .replace("\\fR", "")
        .replace("\\fI", "")
        .replace("\\-", "-")
}

/// The flags a man page lists as entries of its OPTIONS section (the line
/// after each `.TP`), not merely mentions in a synopsis or a description.
fn man_entries(roff: &str) -> BTreeSet<String> {
    let mut in_options = false;
    let mut after_tp = false;
    let mut out = BTreeSet::new();
    for line in roff.lines() {
        if line.starts_with(".SH") {
            in_options = line.trim() == ".SH OPTIONS";
            continue;
        }
        if in_options && after_tp {
            for tok in plain(line).split([',', ' ']) {
                if tok.starts_with('-') && tok.len() > 1 {
                    out.insert(tok.to_string());
                }
            }
        }
        after_tp = line.starts_with(".TP");
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The README section that documents a command.
fn readme_heading(cmd: &str) -> &'static str {
    match cmd {
        "setup" => "## `dockpoint setup`",
        "doctor" => "## `dockpoint doctor`",
        "explain" => "## `dockpoint explain`",
        "checkpoint" | "restore" | "checkpoints" => "## Checkpoint and restore",
        "enable" | "disable" | "status" => "## Surviving reboots",
        "completions" => "## Install from the .deb",
        other => panic!("the README documents no section for `dockpoint {other}`: add one here"),
    }
}

/// The command's synopsis in its README section: the line of a code block
/// that starts with `dockpoint CMD`, with its indented continuation lines.
fn readme_synopsis(readme: &str, cmd: &str) -> String {
    let heading = readme_heading(cmd);
    let start = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README: no {heading}"));
    let rest = &readme[start + heading.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut lines = section.lines().skip_while(|l| {
        !(l.starts_with(&format!("dockpoint {cmd} ")) || *l == format!("dockpoint {cmd}"))
    });
    let Some(first) = lines.next() else {
        panic!("README {heading}: no synopsis line `dockpoint {cmd} ...`")
    };
    let mut text = first.to_string();
    for l in lines.take_while(|l| l.starts_with(' ')) {
        text.push(' ');
        text.push_str(l);
    }
    text
}

/// `flag` as a word of `text`: `-y` is not found in `--yes`.
fn has_flag(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + flag.len()..].chars().next();
        !before.is_some_and(|c| c == '-' || c.is_alphanumeric())
            && !after.is_some_and(|c| c == '-' || c == '_' || c.is_alphanumeric())
    })
}

#[test]
fn every_flag_is_an_entry_of_its_commands_man_page() {
    let dir = man_dir();
    let top = std::fs::read_to_string(dir.path().join("man/dockpoint.1")).unwrap();
    let mut missing = Vec::new();
    for (cmd, flags) in commands() {
        let page = dir.path().join(format!("man/dockpoint-{cmd}.1"));
        let Ok(roff) = std::fs::read_to_string(&page) else {
            missing.push(format!("no man page dockpoint-{cmd}(1)"));
            continue;
        };
        assert!(
            roff.contains(&format!(".TH dockpoint-{cmd} 1 ")),
            "{cmd}: not its man page"
        );
        let entries = man_entries(&roff);
        for f in &flags {
            if !entries.contains(f) {
                missing.push(format!("dockpoint-{cmd}(1) has no entry for {f}"));
            }
        }
        // The top page lists the command.
        if !plain(&top).contains(&format!("\ndockpoint-{cmd}(1)\n")) {
            missing.push(format!("dockpoint(1) does not list {cmd}"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    // Hidden commands have no page.
    assert!(!dir.path().join("man/dockpoint-package-files.1").exists());
}

#[test]
fn every_flag_is_in_its_commands_readme_synopsis() {
    let r = readme();
    let mut missing = Vec::new();
    for (cmd, flags) in commands() {
        let synopsis = readme_synopsis(&r, &cmd);
        for f in &flags {
            if !has_flag(&synopsis, f) {
                missing.push(format!("README: `{synopsis}` lacks {f}"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_completions_complete_every_flag_and_no_hidden_one() {
    let fish = Command::cargo_bin("dockpoint")
        .unwrap()
        .args(["completions", "fish"])
        .output()
        .unwrap();
    assert!(fish.status.success());
    let fish = String::from_utf8(fish.stdout).unwrap();
    let mut missing = Vec::new();
    for (cmd, flags) in commands() {
        let lines: Vec<&str> = fish
            .lines()
            .filter(|l| l.contains(&format!("__fish_dockpoint_using_subcommand {cmd}\"")))
            .collect();
        for f in &flags {
            let opt = match f.strip_prefix("--") {
                Some(l) => format!(" -l {l}"),
                None => format!(" -s {}", &f[1..]),
            };
            if !lines.iter().any(|l| l.contains(&opt)) {
                missing.push(format!("fish completes no {f} for {cmd}"));
            }
        }
        if !fish.contains(&format!("-a \"{cmd}\"")) {
            missing.push(format!("fish does not complete the command {cmd}"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::cargo_bin("dockpoint")
            .unwrap()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.contains("--criu-source"), "{shell}");
        for hidden in ["package-files", "only-at-shutdown", "print-patterns"] {
            assert!(!s.contains(hidden), "{shell} completes the hidden {hidden}");
        }
    }
}
