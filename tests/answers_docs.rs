//! Every setup flag has an answers-file key (or is in the justified list of
//! flags without one), and every key is documented in the README's answers
//! section, whose example file is itself a valid answers file
//! (coreos-installer's docs check is the model: clap's own definitions are
//! iterated, so a new flag without a key or a line in the README fails here).

use clap::CommandFactory;
use dockpoint::cli::Cli;
use dockpoint::setup::config::{ENABLE_KEYS, KEYS, NOT_IN_FILE, parse};

const HEADING: &str = "## Unattended runs with an answers file";

fn section() -> String {
    let r = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = r.find(HEADING).expect("the README's answers-file section");
    let rest = &r[start + HEADING.len()..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
}

/// The rows of the section's key table: (key, flag column).
fn rows(section: &str) -> Vec<(String, String)> {
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.strip_prefix("| `")?.splitn(3, " | ").collect();
            let key = cells[0].strip_suffix('`')?;
            Some((key.to_string(), cells.get(1).unwrap_or(&"").to_string()))
        })
        .collect()
}

#[test]
fn every_setup_flag_has_a_documented_key_or_a_documented_reason() {
    let s = section();
    let rows = rows(&s);
    let cmd = Cli::command();
    let setup = cmd.find_subcommand("setup").expect("setup");
    let mut seen = 0;
    for arg in setup.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        seen += 1;
        let flag = format!("`--{long}`");
        match KEYS.iter().find(|k| k.flag == Some(long)) {
            Some(k) => {
                let row = rows.iter().find(|(key, _)| key == k.key);
                let row = row.unwrap_or_else(|| panic!("README: no row for key `{}`", k.key));
                assert!(
                    row.1.contains(&flag),
                    "README: the row of `{}` does not name {flag}",
                    k.key
                );
            }
            None => {
                assert!(
                    NOT_IN_FILE.iter().any(|(f, _)| *f == long),
                    "--{long} has no answers-file key and is not in NOT_IN_FILE"
                );
                assert!(
                    s.lines().any(|l| l.starts_with("- ") && l.contains(&flag)),
                    "README: {flag} is not among the flags with no key"
                );
            }
        }
    }
    assert!(seen >= 14, "only {seen} setup flags seen");
}

#[test]
fn every_key_the_parser_takes_is_documented() {
    let s = section();
    let documented: Vec<String> = rows(&s).into_iter().map(|(k, _)| k).collect();
    for k in KEYS {
        assert!(
            documented.iter().any(|d| d == k.key),
            "README: no row for `{}`",
            k.key
        );
    }
    for k in ENABLE_KEYS {
        let key = format!("enable.{k}");
        assert!(documented.contains(&key), "README: no row for `{key}`");
    }
    // And no row for a key that is not one.
    for d in &documented {
        let known = KEYS.iter().any(|k| k.key == d)
            || d.strip_prefix("enable.")
                .is_some_and(|e| ENABLE_KEYS.contains(&e));
        assert!(
            known,
            "README documents `{d}`, which the parser does not take"
        );
    }
}

#[test]
fn the_readmes_example_is_a_valid_answers_file() {
    let s = section();
    let start = s.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let example = &s[start..start + s[start..].find("```").unwrap()];
    let a = parse(example, "README example").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.yes, Some(true));
    assert!(a.enable.is_some());
}
