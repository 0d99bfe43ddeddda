//! The answers file: parse (every key, every error with file, line and
//! key), flags over the file, save (comments and order kept, idempotent),
//! the confirmation with `restart = "always"`.

use super::*;
use crate::setup::plan::{Action, PlannedStep, Restart as RestartAction, StepId};
use clap::CommandFactory;

const F: &str = "/srv/answers.toml";

const FULL: &str = r#"# every key
yes = true
format = "json"
restart = "always"
no-restart = false
no-install = true
criu-options = ["skip-in-flight", "ghost-limit 100M"]
criu-source = ["https://mirror.example/criu", "trixie", "main"]
criu-base = "http://127.0.0.1:8765"
criu-key = "/etc/keys/criu.asc"
remove-criu-source = false
repair = true
skip = ["criu.check", "docker"]

[enable]
containers = ["bela", "db-1"]
every = "15min"
keep = 3
on-shutdown = true
tcp-close = false
"#;

fn err(text: &str) -> ConfigError {
    parse(text, F).expect_err("an error")
}

/// The error names the file, the line and the key, and says `want`.
fn assert_err(text: &str, line: usize, key: &str, want: &str) {
    let e = err(text);
    assert_eq!(e.file, F, "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    assert_eq!(e.key.as_deref(), Some(key), "{e}");
    assert!(e.message.contains(want), "{e}: wanted {want:?}");
    let shown = e.to_string();
    assert!(
        shown.contains(F) && shown.contains(&format!("line {line}")) && shown.contains(key),
        "{shown}"
    );
}

fn setup_args(argv: &[&str]) -> SetupArgs {
    let mut all = vec!["dockpoint", "setup"];
    all.extend_from_slice(argv);
    match Cli::try_parse_from(all).unwrap().command {
        Command::Setup(a) => a,
        _ => unreachable!(),
    }
}

#[test]
fn every_key_is_read() {
    let a = parse(FULL, F).unwrap();
    assert_eq!(
        a,
        Answers {
            yes: Some(true),
            format: Some(Format::Json),
            no_install: Some(true),
            no_restart: Some(false),
            restart: Some(Restart::Always),
            criu_options: Some(vec!["skip-in-flight".into(), "ghost-limit 100M".into()]),
            criu_source: Some(vec![
                "https://mirror.example/criu".into(),
                "trixie".into(),
                "main".into()
            ]),
            criu_base: Some("http://127.0.0.1:8765".into()),
            criu_key: Some("/etc/keys/criu.asc".into()),
            remove_criu_source: Some(false),
            repair: Some(true),
            skip: Some(vec!["criu.check".into(), "docker".into()]),
            enable: Some(Enable {
                containers: vec!["bela".into(), "db-1".into()],
                every: Some("15min".into()),
                keep: Some(3),
                on_shutdown: true,
                tcp_close: Some(false),
            }),
        }
    );
    // Each key of KEYS and ENABLE_KEYS is in FULL: the table and the parser agree.
    for k in KEYS {
        assert!(
            FULL.lines()
                .any(|l| l.starts_with(&format!("{} = ", k.key)))
                || FULL.contains(&format!("[{}]", k.key)),
            "{}",
            k.key
        );
    }
    for k in ENABLE_KEYS {
        assert!(FULL.contains(&format!("\n{k} = ")), "{k}");
    }
    // The other forms: a single source, no-restart alone, inline enable.
    let a = parse(
        "criu-source = \"obs\"\nno-restart = true\nenable = { containers = [\"x\"] }\n",
        F,
    )
    .unwrap();
    assert_eq!(a.criu_source, Some(vec!["obs".into()]));
    assert_eq!(a.restart_choice(), Some(Restart::Never));
    assert_eq!(a.enable.unwrap().keep, None);
    assert_eq!(parse("", F).unwrap(), Answers::default());
}

#[test]
fn unknown_keys_are_errors_naming_key_and_line() {
    assert_err("yes = true\n\nbogus = 1\n", 3, "bogus", "unknown key");
    assert_err(
        "criu-option = [\"x\"]\n",
        1,
        "criu-option",
        "did you mean `criu-options`",
    );
    assert_err(
        "no_restart = true\n",
        1,
        "no_restart",
        "did you mean `no-restart`",
    );
    assert_err(
        "dry-run = true\n",
        1,
        "dry-run",
        "give --dry-run on the command line",
    );
    assert_err(
        "root = \"/srv\"\n",
        1,
        "root",
        "give --root on the command line",
    );
    assert_err("[other]\nx = 1\n", 1, "other", "unknown key");
    assert_err(
        "[enable]\ncontainers = [\"a\"]\ncontainer = \"b\"\n",
        3,
        "enable.container",
        "did you mean `containers`",
    );
}

#[test]
fn wrong_types_are_errors_naming_key_and_line() {
    assert_err(
        "yes = \"true\"\n",
        1,
        "yes",
        "expected true or false, got a string",
    );
    assert_err("\nrepair = 1\n", 2, "repair", "got an integer");
    assert_err("no-install = []\n", 1, "no-install", "got an array");
    assert_err(
        "format = true\n",
        1,
        "format",
        "expected a string, got a boolean",
    );
    assert_err("criu-key = 3.5\n", 1, "criu-key", "got a float");
    assert_err(
        "criu-options = \"skip-in-flight\"\n",
        1,
        "criu-options",
        "expected an array of strings",
    );
    assert_err(
        "criu-options = [\n  \"skip-in-flight\",\n  7,\n]\n",
        3,
        "criu-options",
        "got an integer in it",
    );
    assert_err(
        "criu-source = 1\n",
        1,
        "criu-source",
        "expected a string (\"obs\")",
    );
    assert_err(
        "skip = \"criu\"\n",
        1,
        "skip",
        "expected an array of strings",
    );
    assert_err("enable = 3\n", 1, "enable", "expected a table");
    assert_err(
        "[enable]\ncontainers = [\"a\"]\nkeep = \"2\"\n",
        3,
        "enable.keep",
        "expected an integer, got a string",
    );
    assert_err(
        "[enable]\ncontainers = [\"a\"]\non-shutdown = \"yes\"\n",
        3,
        "enable.on-shutdown",
        "expected true or false",
    );
    assert_err(
        "[enable]\ncontainers = \"a\"\n",
        2,
        "enable.containers",
        "expected an array of strings",
    );
    assert_err(
        "[[enable]]\ncontainers = [\"a\"]\n",
        1,
        "enable",
        "got an array of tables",
    );
}

#[test]
fn bad_values_are_errors_naming_key_and_line() {
    assert_err(
        "format = \"yaml\"\n",
        1,
        "format",
        "not one of \"human\", \"json\"",
    );
    assert_err(
        "# x\nrestart = \"sometimes\"\n",
        2,
        "restart",
        "not one of \"ask\", \"always\", \"never\"",
    );
    assert_err(
        "criu-options = [\"skip-in-flight\",\n \"no-such-option\"]\n",
        2,
        "criu-options",
        "'no-such-option' is not a CRIU option",
    );
    assert_err(
        "criu-options = [\"ghost-limit 1M\", \"ghost-limit 2M\"]\n",
        1,
        "criu-options",
        "different values",
    );
    assert_err(
        "criu-options = [\"a\\u0007\"]\n",
        1,
        "criu-options",
        "control character",
    );
    assert_err(
        "criu-source = \"testing\"\n",
        1,
        "criu-source",
        "debian-testing, obs, ppa",
    );
    assert_err(
        "criu-source = [\"obs\", \"trixie\"]\n",
        1,
        "criu-source",
        "takes no further values",
    );
    assert_err("criu-source = []\n", 1, "criu-source", "empty array");
    assert_err("criu-base = \"http://a b\"\n", 1, "criu-base", "no spaces");
    assert_err("criu-key = \"\"\n", 1, "criu-key", "empty string");
    assert_err(
        "skip = [\"criu\", \"nope\"]\n",
        1,
        "skip",
        "no check `nope`",
    );
    assert_err(
        "criu-source = \"obs\"\nremove-criu-source = true\n",
        2,
        "remove-criu-source",
        "criu-source (line 1) cannot both be given",
    );
    assert_err(
        "no-restart = true\nrestart = \"ask\"\n",
        2,
        "restart",
        "contradicts no-restart = true",
    );
    assert_err(
        "[enable]\ncontainers = [\"a\"]\nevery = \"10s\"\n",
        3,
        "enable.every",
        "at least 30s",
    );
    assert_err(
        "[enable]\ncontainers = [\"a\"]\nevery = \"5 parsecs\"\n",
        3,
        "enable.every",
        "--every",
    );
    assert_err(
        "[enable]\ncontainers = [\"a\"]\nkeep = 0\n",
        3,
        "enable.keep",
        "0 is not in 1..=100",
    );
    assert_err(
        "[enable]\ncontainers = [\"a\"]\nkeep = 101\n",
        3,
        "enable.keep",
        "not in 1..=100",
    );
    assert_err(
        "[enable]\ncontainers = [\"a\", \"-rf\"]\n",
        2,
        "enable.containers",
        "not a container name",
    );
    assert_err(
        "[enable]\ncontainers = [\"a\",\n  \"a\"]\n",
        3,
        "enable.containers",
        "listed twice",
    );
    assert_err(
        "[enable]\ncontainers = []\n",
        2,
        "enable.containers",
        "empty",
    );
    assert_err(
        "\n[enable]\nevery = \"1h\"\n",
        2,
        "enable.containers",
        "missing",
    );
    // Not TOML at all: the line, no key.
    let e = err("yes = true\nx = [\n");
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.message.contains("not valid TOML"), "{e}");
    let e = err("yes = true\nyes = false\n");
    assert_eq!(e.line, Some(2), "{e}");
}

#[test]
fn flags_override_the_file() {
    let file = parse(FULL, F).unwrap();
    // Nothing given: the file's.
    let r = resolve(&setup_args(&[]), Some(&file));
    assert!(r.args.yes && r.args.no_install && r.args.repair);
    assert_eq!(r.args.format, Some(Format::Json));
    assert_eq!(r.restart, Restart::Always);
    assert!(!r.args.no_restart);
    assert_eq!(r.args.criu_option, ["skip-in-flight", "ghost-limit 100M"]);
    assert_eq!(
        r.args.criu_source.as_deref().unwrap()[0],
        "https://mirror.example/criu"
    );
    assert_eq!(r.args.criu_base.as_deref(), Some("http://127.0.0.1:8765"));
    assert_eq!(r.skip, ["criu.check", "docker"]);
    assert_eq!(r.enable, file.enable);
    // Given: the flags'.
    let r = resolve(
        &setup_args(&[
            "--format",
            "human",
            "--no-restart",
            "--criu-option",
            "tcp-close",
            "--criu-source",
            "obs",
            "--criu-base",
            "http://mirror",
            "--criu-key",
            "/k",
        ]),
        Some(&file),
    );
    assert_eq!(r.args.format, Some(Format::Human));
    assert_eq!(r.restart, Restart::Never);
    assert!(r.args.no_restart);
    assert_eq!(r.args.criu_option, ["tcp-close"]);
    assert_eq!(r.args.criu_source, Some(vec!["obs".to_string()]));
    assert_eq!(r.args.criu_base.as_deref(), Some("http://mirror"));
    assert_eq!(r.args.criu_key.as_deref(), Some("/k"));
    // --remove-criu-source drops the file's source, --criu-source the file's removal.
    let r = resolve(&setup_args(&["--remove-criu-source"]), Some(&file));
    assert!(r.args.remove_criu_source && r.args.criu_source.is_none());
    let removing = parse("remove-criu-source = true\n", F).unwrap();
    let r = resolve(&setup_args(&["--criu-source", "obs"]), Some(&removing));
    assert!(!r.args.remove_criu_source);
    let r = resolve(&setup_args(&[]), Some(&removing));
    assert!(r.args.remove_criu_source);
    // No file: the flags as given.
    let r = resolve(&setup_args(&["--yes"]), None);
    assert!(r.args.yes && !r.args.no_restart && r.args.format.is_none());
    assert_eq!(r.restart, Restart::Ask);
}

fn choices() -> Choices {
    Choices {
        restart: Restart::Never,
        no_install: false,
        criu_options: vec!["skip-in-flight".into()],
        criu_source: Some(vec!["obs".into()]),
        criu_base: Some("http://127.0.0.1:8765".into()),
        criu_key: None,
        remove_criu_source: false,
        repair: false,
        skip: vec!["criu.check".into()],
        enable: Some(Enable {
            containers: vec!["bela".into()],
            every: Some("1h".into()),
            keep: None,
            on_shutdown: true,
            tcp_close: None,
        }),
    }
}

/// What a file says, as choices (the inverse of save).
fn read_back(text: &str) -> Choices {
    let a = parse(text, F).unwrap();
    let r = resolve(&setup_args(&[]), Some(&a));
    let flags = crate::setup::flags_from(&r.args).unwrap();
    Choices::from_run(&r, &flags, &[])
}

#[test]
fn a_new_file_says_the_choices_and_a_second_save_changes_no_byte() {
    let c = choices();
    let text = save(None, F, &c).unwrap();
    assert!(text.starts_with("# dockpoint setup answers"), "{text}");
    assert_eq!(read_back(&text), c, "{text}");
    assert_eq!(save(Some(&text), F, &c).unwrap(), text);
    // The defaults too.
    let d = Choices::default();
    let text = save(None, F, &d).unwrap();
    assert_eq!(read_back(&text), d, "{text}");
    assert_eq!(save(Some(&text), F, &d).unwrap(), text);
}

const OPERATOR: &str = r#"# Fleet answers, reviewed by ops.
yes = true  # unattended

# Options BELA wants.
criu-options = [
    "ghost-limit 100M",   # JNI libraries
    "skip-in-flight",
]
criu-source='obs'
no-restart = true # restart in the maintenance window
skip = ["criu.check"]

[enable]
# the browser
containers = ["bela"]
on-shutdown = true
"#;

#[test]
fn saving_the_same_choices_into_an_operators_file_changes_no_byte() {
    // The same choices in another spelling (another order of options, a
    // single-quoted source, no-restart instead of restart) are the same.
    let c = read_back(OPERATOR);
    assert_eq!(c.restart, Restart::Never);
    assert_eq!(c.criu_options, ["ghost-limit 100M", "skip-in-flight"]);
    let mut reordered = c.clone();
    reordered.criu_options.reverse();
    // no-install and repair were not in the file: they are added, at the
    // end of the top-level keys; nothing else moves.
    let once = save(Some(OPERATOR), F, &reordered).unwrap();
    let added: Vec<&str> = once
        .lines()
        .filter(|l| !OPERATOR.lines().any(|o| o == *l))
        .collect();
    assert_eq!(added, ["no-install = false", "repair = false"], "{once}");
    assert!(
        once.starts_with(&OPERATOR[..OPERATOR.find("\n[enable]").unwrap()]),
        "{once}"
    );
    assert!(
        once.ends_with(&OPERATOR[OPERATOR.find("\n[enable]").unwrap()..]),
        "{once}"
    );
    assert_eq!(save(Some(&once), F, &reordered).unwrap(), once);
}

#[test]
fn a_changed_choice_is_replaced_in_place_with_its_comment() {
    let mut c = read_back(OPERATOR);
    c.restart = Restart::Always;
    c.criu_options = vec!["tcp-close".into()];
    c.criu_source = None;
    c.enable.as_mut().unwrap().every = Some("30min".into());
    let new = save(Some(OPERATOR), F, &c).unwrap();
    assert_eq!(read_back(&new), c, "{new}");
    // Comments, the order of the keys, the other lines: as they were.
    for kept in [
        "# Fleet answers, reviewed by ops.",
        "yes = true  # unattended",
        "# Options BELA wants.",
        "skip = [\"criu.check\"]",
        "# the browser",
        "containers = [\"bela\"]",
    ] {
        assert!(new.contains(kept), "{kept} lost:\n{new}");
    }
    assert!(
        new.contains("no-restart = false # restart in the maintenance window"),
        "{new}"
    );
    assert!(new.contains("restart = \"always\""), "{new}");
    assert!(!new.contains("criu-source"), "{new}");
    assert!(new.contains("criu-options = [\"tcp-close\"]"), "{new}");
    let order: Vec<usize> = ["yes =", "criu-options", "no-restart", "skip =", "[enable]"]
        .iter()
        .map(|k| new.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{new}");
    assert!(new.contains("every = \"30min\""), "{new}");
    // And a second save of these changes nothing.
    assert_eq!(save(Some(&new), F, &c).unwrap(), new);
}

#[test]
fn no_restart_alone_keeps_saying_it() {
    let mut c = Choices::default();
    for (r, want) in [
        (Restart::Never, "no-restart = true\n"),
        (Restart::Ask, "no-restart = false\n"),
    ] {
        c.restart = r;
        let out = save(Some("no-restart = true\n"), F, &c).unwrap();
        assert!(out.starts_with(want), "{out}");
        assert!(!out.contains("restart = \""), "{out}");
    }
    c.restart = Restart::Always;
    let out = save(Some("no-restart = true\n"), F, &c).unwrap();
    assert_eq!(read_back(&out).restart, Restart::Always, "{out}");
}

#[test]
fn a_bad_file_is_not_saved_into() {
    for bad in [
        "yes = true\nbogus = 1\n",
        "restart = \"sometimes\"\n",
        "x = [\n",
    ] {
        let e = save(Some(bad), F, &choices()).unwrap_err();
        assert_eq!(e.file, F);
        assert!(e.line.is_some(), "{e}");
    }
}

#[test]
fn choices_come_from_the_answers_and_the_declined_steps() {
    let r = resolve(
        &setup_args(&["--criu-source", "https://m/c", "trixie"]),
        None,
    );
    let flags = crate::setup::flags_from(&r.args).unwrap();
    let c = Choices::from_run(&r, &flags, &[]);
    assert_eq!(
        c.criu_source,
        Some(vec!["https://m/c".into(), "trixie".into()])
    );
    assert_eq!(c.restart, Restart::Ask);
    assert!(!c.no_install);
    let c = Choices::from_run(&r, &flags, &[StepId::DockerRestart, StepId::CriuInstall]);
    assert_eq!(c.restart, Restart::Never);
    assert!(c.no_install);
    // The distro's CRIU asked for explicitly stays explicit.
    let r = resolve(&setup_args(&["--criu-source", "distro"]), None);
    let flags = crate::setup::flags_from(&r.args).unwrap();
    assert_eq!(
        Choices::from_run(&r, &flags, &[]).criu_source,
        Some(vec!["distro".into()])
    );
    // A source picked at the prompt.
    let mut flags = flags;
    flags.install_anyway = false;
    flags.criu_source = CriuSource::Source(crate::criu_sources::Name::DebianTesting);
    assert_eq!(
        Choices::from_run(&r, &flags, &[]).criu_source,
        Some(vec!["debian-testing".into()])
    );
}

fn restart_plan() -> Vec<PlannedStep> {
    let mut steps: Vec<PlannedStep> = [StepId::CriuInstall, StepId::RuncConf, StepId::DaemonJson]
        .into_iter()
        .map(PlannedStep::new)
        .collect();
    steps[1].action = Some(Action::Write(crate::setup::PendingWrite {
        path: "/etc/criu/runc.conf".into(),
        old: None,
        new: b"tcp-established\n".to_vec(),
        validation: crate::setup::Validation::None,
    }));
    let mut r = PlannedStep::new(StepId::DockerRestart);
    r.action = Some(Action::Restart(RestartAction {
        command: vec!["systemctl", "restart", "docker"],
        init: crate::docker::Init::Systemd,
        api: crate::docker::Api::at("/nonexistent/dockpoint-test.sock"),
        wait: std::time::Duration::from_secs(60),
        impact: String::new(),
    }));
    steps.push(r);
    steps
}

/// A reviewer that declines every step it is asked about.
fn decline_all(steps: &mut [PlannedStep]) -> bool {
    for s in steps.iter_mut().filter(|s| s.action.is_some()) {
        s.action = None;
    }
    true
}

#[test]
fn restart_always_is_not_asked_under_review_and_ask_is() {
    let mut steps = restart_plan();
    let (go, declined) = confirm(&mut steps, Restart::Always, decline_all);
    assert!(go);
    assert_eq!(declined, [StepId::RuncConf]);
    assert!(
        steps[3].action.is_some(),
        "the restart must stay in the plan"
    );
    let mut steps = restart_plan();
    let (go, declined) = confirm(&mut steps, Restart::Ask, decline_all);
    assert!(go);
    assert_eq!(declined, [StepId::RuncConf, StepId::DockerRestart]);
    assert!(steps[3].action.is_none());
    // A cancel with "always": the restart is back in the plan, to be
    // cancelled with the others.
    let mut steps = restart_plan();
    let (go, _) = confirm(&mut steps, Restart::Always, |_| false);
    assert!(!go);
    assert!(steps[3].action.is_some());
}

#[test]
fn enable_command_lines_go_through_enables_own_parser() {
    let e = parse(FULL, F).unwrap().enable.unwrap();
    let a = e.args("bela", true, true).unwrap();
    assert_eq!(a.container, "bela");
    assert_eq!(a.every.as_deref(), Some("15min"));
    assert_eq!(a.keep, 3);
    assert!(a.on_shutdown && a.no_tcp_close && !a.tcp_close && a.yes);
    assert_eq!(a.format, Format::Json);
    assert_eq!(
        e.command("bela", false),
        "dockpoint enable --every 15min --keep 3 --on-shutdown --no-tcp-close bela"
    );
    // enable's default --keep when the file has none.
    let e = parse("[enable]\ncontainers = [\"x\"]\n", F)
        .unwrap()
        .enable
        .unwrap();
    let want = match Cli::try_parse_from(["dockpoint", "enable", "x"])
        .unwrap()
        .command
    {
        Command::Enable(a) => a.keep,
        _ => unreachable!(),
    };
    assert_eq!(e.args("x", false, false).unwrap().keep, want);
}

#[test]
fn every_setup_flag_has_a_key_or_a_reason() {
    let cmd = Cli::command();
    let setup = cmd.find_subcommand("setup").unwrap();
    for arg in setup.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let keyed = KEYS.iter().any(|k| k.flag == Some(long));
        let excluded = NOT_IN_FILE.iter().any(|(f, _)| *f == long);
        assert!(
            keyed ^ excluded,
            "--{long}: a key, or a reason in NOT_IN_FILE (not both)"
        );
    }
    // No key or exclusion names a flag that is gone.
    for f in KEYS
        .iter()
        .filter_map(|k| k.flag)
        .chain(NOT_IN_FILE.iter().map(|(f, _)| *f))
    {
        assert!(
            setup.get_arguments().any(|a| a.get_long() == Some(f)),
            "--{f} is not a setup flag"
        );
    }
}
