//! `dockpoint setup --config FILE` / `--save-config FILE` through the binary,
//! against a temp root (`--root DIR`).

mod common;
use common::*;
use std::fs;

/// An answers file beside the root (the operator's file, not the image's).
fn answers(r: &Root, name: &str, text: &str) -> String {
    let p = r.dir.path().with_extension(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

struct Cleanup(Vec<std::path::PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::remove_file(p);
            // The safe write's backups beside it.
            if let (Some(dir), Some(name)) = (p.parent(), p.file_name()) {
                let name = name.to_string_lossy().into_owned();
                for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                    if e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{name}.dockpoint-"))
                    {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
    }
}

const FILE: &str = r#"# the fleet's answers
yes = true
format = "json"
no-install = true
restart = "never"
criu-options = ["skip-in-flight", "ghost-limit 100M"]
skip = ["criu"]
"#;

#[test]
fn the_file_drives_the_run() {
    let r = Root::new();
    let f = answers(&r, "a.toml", FILE);
    let _c = Cleanup(vec![f.clone().into()]);
    // No --yes and no terminal: the file's yes; its format: JSON on stdout.
    let run = r.setup(&["--config", &f]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        r.read("/etc/criu/runc.conf"),
        "tcp-established\nskip-in-flight\nghost-limit 100M\n"
    );
    assert_eq!(run.step("criu-install")["status"], "skipped");
    assert!(
        run.stderr.contains(&format!("Answers: {f}")),
        "{}",
        run.stderr
    );
    // The doctor run that ends setup skipped what the file says.
    let checks = run.json()["doctor"]["checks"].as_array().unwrap().clone();
    let criu: Vec<&serde_json::Value> = checks
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("criu."))
        .collect();
    assert!(!criu.is_empty());
    for c in criu {
        assert_eq!(c["status"], "skipped", "{c}");
        assert!(c["message"].as_str().unwrap().contains("--skip"), "{c}");
    }
    assert_eq!(
        checks
            .iter()
            .find(|c| c["id"] == "runc-conf.present")
            .unwrap()["status"],
        "pass"
    );
}

#[test]
fn flags_override_the_file() {
    let r = Root::new();
    let f = answers(&r, "b.toml", FILE);
    let _c = Cleanup(vec![f.clone().into()]);
    let run = r.setup(&[
        "--config",
        &f,
        "--criu-option",
        "tcp-close",
        "--format",
        "human",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        r.read("/etc/criu/runc.conf"),
        "tcp-established\ntcp-close\n"
    );
    assert!(
        run.stdout.contains("Result:"),
        "human output expected: {}",
        run.stdout
    );
}

#[test]
fn a_bad_file_exits_2_naming_file_line_and_key_and_changes_nothing() {
    for (text, line, key) in [
        ("yes = true\nrestart = \"sometimes\"\n", 2, "restart"),
        (
            "yes = true\n\ncriu-options = [\"no-such-option\"]\n",
            3,
            "criu-options",
        ),
        ("yes = true\nbogus = 1\n", 2, "bogus"),
        ("yes = \"yes\"\n", 1, "yes"),
        (
            "yes = true\n[enable]\ncontainers = [\"bela\"]\nevery = \"10s\"\n",
            4,
            "enable.every",
        ),
    ] {
        let r = Root::new();
        r.write("/etc/criu/runc.conf", "tcp-established\n");
        let f = answers(&r, "bad.toml", text);
        let save = r.dir.path().with_extension("save.toml");
        fs::write(&save, "# mine\nrepair = true\n").unwrap();
        let _c = Cleanup(vec![f.clone().into(), save.clone()]);
        let before = r.snapshot();
        let run = r.setup(&["--config", &f, "--save-config", save.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{text}: {}", run.all());
        assert!(
            run.stderr
                .contains(&format!("answers file {f}, line {line}, key `{key}`")),
            "{text}: {}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "nothing is planned");
        assert_eq!(r.snapshot(), before, "{text}: the root changed");
        assert_eq!(fs::read_to_string(&f).unwrap(), text);
        assert_eq!(
            fs::read_to_string(&save).unwrap(),
            "# mine\nrepair = true\n"
        );
    }
    // A missing file.
    let r = Root::new();
    let run = r.setup(&["--config", "/nonexistent/answers.toml"]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr.contains("/nonexistent/answers.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn save_config_writes_the_choices_and_a_second_save_changes_no_byte() {
    let r = Root::new();
    let f = r.dir.path().with_extension("saved.toml");
    let fs_ = f.to_str().unwrap();
    let _c = Cleanup(vec![f.clone()]);
    let run = r.setup(&[
        "--yes",
        "--no-install",
        "--no-restart",
        "--criu-option",
        "ghost-limit 100M",
        "--format",
        "json",
        "--save-config",
        fs_,
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let saved = fs::read_to_string(&f).unwrap();
    for line in [
        "restart = \"never\"",
        "no-install = true",
        "criu-options = [\"ghost-limit 100M\"]",
        "repair = false",
    ] {
        assert!(saved.lines().any(|l| l == line), "{line} missing:\n{saved}");
    }
    assert_eq!(run.json()["saved_config"]["changed"], true);
    // The saved file replays the run on a fresh root: the same files.
    let r2 = Root::new();
    let again = r2.setup(&["--yes", "--config", fs_]);
    assert_eq!(again.code, 0, "{}", again.all());
    assert_eq!(
        r2.read("/etc/criu/runc.conf"),
        r.read("/etc/criu/runc.conf")
    );
    // Saving the same choices again: no byte changes, nothing written.
    let mtime = fs::metadata(&f).unwrap().modified().unwrap();
    let run = r.setup(&[
        "--yes",
        "--config",
        fs_,
        "--save-config",
        fs_,
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(fs::read_to_string(&f).unwrap(), saved);
    assert_eq!(fs::metadata(&f).unwrap().modified().unwrap(), mtime);
    assert_eq!(run.json()["saved_config"]["changed"], false);
}

#[test]
fn save_config_updates_an_operators_file_in_place() {
    let r = Root::new();
    let text = "# Reviewed by ops.\nyes = true  # cron\n\ncriu-options = [\n  \"skip-in-flight\",  # BELA\n]\nno-restart = true # window\nno-install = true\nrepair = false\n";
    let f = answers(&r, "ops.toml", text);
    let _c = Cleanup(vec![f.clone().into()]);
    // The same choices: byte for byte.
    let run = r.setup(&["--config", &f, "--save-config", &f]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(fs::read_to_string(&f).unwrap(), text);
    // A flag changes one: that value only, its comment kept.
    let run = r.setup(&[
        "--config",
        &f,
        "--save-config",
        &f,
        "--criu-option",
        "tcp-close",
    ]);
    assert_eq!(run.code, 0, "{}", run.all());
    let after = fs::read_to_string(&f).unwrap();
    assert_eq!(
        after,
        text.replace("[\n  \"skip-in-flight\",  # BELA\n]", "[\"tcp-close\"]"),
    );
    let dir = std::path::Path::new(&f).parent().unwrap();
    let name = std::path::Path::new(&f)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let backups: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{name}.dockpoint-")) && n.ends_with(".bak"))
        .collect();
    assert_eq!(
        backups.len(),
        1,
        "the safe write keeps the old version beside it"
    );
}

#[test]
fn save_config_with_dry_run_is_refused_and_a_dry_run_writes_no_answers() {
    let r = Root::new();
    let f = r.dir.path().with_extension("dry.toml");
    let run = r.setup(&["--dry-run", "--save-config", f.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(!f.exists());
    // --config with --dry-run: the plan from the file, nothing written.
    let c = answers(&r, "dry-config.toml", FILE);
    let _c = Cleanup(vec![c.clone().into()]);
    let before = r.snapshot();
    let run = r.setup(&["--dry-run", "--config", &c]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.json()["dry_run"], true);
    assert!(
        run.step("runc-conf")["diff"]
            .as_str()
            .unwrap()
            .contains("+ghost-limit 100M")
    );
    assert_eq!(r.snapshot(), before);
}

#[test]
fn enable_under_root_is_shown_not_run() {
    let r = Root::new();
    let f = answers(
        &r,
        "en.toml",
        "yes = true\nno-install = true\n[enable]\ncontainers = [\"bela\"]\nevery = \"15min\"\non-shutdown = true\n",
    );
    let _c = Cleanup(vec![f.clone().into()]);
    let run = r.setup(&["--config", &f, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.all());
    let e = &run.json()["enable"][0];
    assert_eq!(e["container"], "bela");
    assert_eq!(e["status"], "skipped");
    assert_eq!(
        e["command"],
        "dockpoint enable --every 15min --on-shutdown --yes bela"
    );
    assert!(e["message"].as_str().unwrap().contains("--root"), "{e}");
    assert!(!r.exists("/etc/systemd/system/dockpoint-restore@.service"));
}

#[test]
fn a_bad_file_to_save_into_exits_2_before_anything_is_done() {
    let r = Root::new();
    let bad = "# ops\nrestart = \"sometimes\"\n";
    let f = answers(&r, "badsave.toml", bad);
    let _c = Cleanup(vec![f.clone().into()]);
    let before = r.snapshot();
    let run = r.setup(&["--yes", "--no-install", "--save-config", &f]);
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains(&format!("answers file {f}, line 2, key `restart`")),
        "{}",
        run.stderr
    );
    assert_eq!(r.snapshot(), before, "the root changed");
    assert_eq!(fs::read_to_string(&f).unwrap(), bad);
}

fn exit_code(p: &mut rexpect::session::PtySession) -> i32 {
    let (_, m) = p.exp_regex("exit=[0-9]+").expect("exit code");
    p.exp_eof().expect("eof");
    m.trim_start_matches("exit=").parse().expect("number")
}

#[test]
fn save_config_keeps_the_answers_given_at_the_prompts_and_a_cancel_writes_none() {
    let r = Root::new();
    let f = r.dir.path().with_extension("prompted.toml");
    let _c = Cleanup(vec![f.clone()]);
    let mut p = setup_at_terminal(&r, &["--save-config", f.to_str().unwrap()]);
    p.exp_string("2) ghost-limit 100M").unwrap();
    p.exp_string("numbers, or Enter for none").unwrap();
    p.send_line("2").unwrap();
    p.exp_string("3) Cancel").unwrap();
    p.exp_string(">").unwrap();
    p.send_line("1").unwrap();
    p.exp_string("Answers saved to").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    let saved = fs::read_to_string(&f).unwrap();
    assert!(
        saved
            .lines()
            .any(|l| l == "criu-options = [\"ghost-limit 100M\"]"),
        "{saved}"
    );
    assert!(saved.lines().any(|l| l == "no-install = true"), "{saved}");
    // A cancel: nothing is written, not even the answers.
    let r2 = Root::new();
    let g = r2.dir.path().with_extension("cancelled.toml");
    let mut p = setup_at_terminal(&r2, &["--save-config", g.to_str().unwrap()]);
    p.exp_string("numbers, or Enter for none").unwrap();
    p.send_line("2").unwrap();
    p.exp_string("3) Cancel").unwrap();
    p.exp_string(">").unwrap();
    p.send_line("3").unwrap();
    p.exp_string("Cancelled: nothing was changed.").unwrap();
    assert_eq!(exit_code(&mut p), 1);
    assert!(!g.exists(), "a cancel wrote the answers file");
}
