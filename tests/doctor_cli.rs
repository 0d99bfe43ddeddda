//! `dockpoint doctor`: the real binary on temp roots (file checks) and on
//! this machine (live checks that must degrade gracefully).

mod common;
use common::*;

fn doctor(args: &[&str]) -> Run {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    run(&all)
}

fn status(r: &Run, id: &str) -> String {
    r.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {}", r.stdout))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn list_has_stable_ids() {
    let r = doctor(&["--list"]);
    assert_eq!(r.code, 0);
    for id in [
        "host.distro",
        "kernel.config",
        "criu.installed",
        "criu.version",
        "criu.check",
        "runc-conf.present",
        "runc-conf.syntax",
        "runc-conf.tcp-established",
        "daemon-json.valid",
        "daemon-json.experimental",
        "daemon-json.flag-conflict",
        "docker.api",
        "docker.experimental",
        "docker.kind",
        "docker.version",
        "docker.init",
        "container.running",
        "container.auto-remove",
        "container.tty",
        "container.restart-policy",
        "container.sockets",
        "container.checkpoints",
    ] {
        assert!(
            r.stdout.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id}"
        );
    }
}

#[test]
fn a_configured_root_passes_its_file_checks() {
    let r = Root::new();
    r.write("/etc/criu/runc.conf", "tcp-established\n");
    r.write("/etc/docker/daemon.json", "{\"experimental\": true}\n");
    r.write("/usr/sbin/criu", "");
    let root = r.dir.path().to_str().unwrap();
    let out = doctor(&["--root", root, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let j = out.json();
    assert_eq!(j["format_version"], 1);
    for c in j["checks"].as_array().unwrap() {
        let st = c["status"].as_str().unwrap();
        assert!(st == "pass" || st == "skipped", "{c}");
        if st == "skipped" {
            assert!(c["message"].as_str().unwrap().contains("--root"), "{c}");
        }
    }
    assert_eq!(j["summary"]["fail"], 0);
    assert_eq!(j["summary"]["exit_code"], 0);
    // Quiet: nothing at all.
    let q = doctor(&["--root", root, "-q"]);
    assert_eq!(q.code, 0);
    assert_eq!(q.stdout, "");
}

#[test]
fn problems_fail_with_the_fix_under_them() {
    let r = Root::new();
    r.write("/etc/criu/runc.conf", "--tcp-established\n");
    r.write("/etc/docker/daemon.json", "{\"experimental\": \"true\"}\n");
    let root = r.dir.path().to_str().unwrap();
    let out = doctor(&["--root", root, "--format", "json"]);
    assert_eq!(out.code, 1);
    assert_eq!(status(&out, "runc-conf.syntax"), "fail");
    assert_eq!(status(&out, "daemon-json.experimental"), "fail");
    assert_eq!(status(&out, "criu.installed"), "fail");
    let human = doctor(&["--root", root]);
    assert!(
        human.stdout.contains("fix: dockpoint setup"),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("failed"), "{}", human.stdout);
    // Broken JSON names the line.
    r.write("/etc/docker/daemon.json", "{\n  \"a\": 1,\n}\n");
    let out = doctor(&["--root", root, "--only", "daemon-json", "--format", "json"]);
    assert_eq!(status(&out, "daemon-json.valid"), "fail");
    assert!(out.stdout.contains("line 3"), "{}", out.stdout);
}

#[test]
fn only_skip_and_usage() {
    let r = Root::new();
    let root = r.dir.path().to_str().unwrap();
    let out = doctor(&["--root", root, "--only", "runc-conf", "--format", "json"]);
    let ids: Vec<String> = out.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "runc-conf.present",
            "runc-conf.syntax",
            "runc-conf.tcp-established"
        ]
    );
    let out = doctor(&[
        "--root",
        root,
        "--skip",
        "criu.installed",
        "--only",
        "criu",
        "--format",
        "json",
    ]);
    assert_eq!(status(&out, "criu.installed"), "skipped");
    assert_eq!(doctor(&["--only", "no.such.check"]).code, 2);
    assert_eq!(doctor(&["--root", "/nonexistent"]).code, 2);
    assert_eq!(doctor(&["--bogus"]).code, 2);
}

/// `--strict` makes a warning fail: an image without os-release warns
/// (host.distro: install instructions would be generic).
#[test]
fn strict_makes_a_warning_fail() {
    let r = Root::empty();
    r.write("/etc/criu/runc.conf", "tcp-established\n");
    r.write("/etc/docker/daemon.json", "{\"experimental\": true}\n");
    r.write("/usr/sbin/criu", "");
    let root = r.dir.path().to_str().unwrap();
    let out = doctor(&["--root", root, "--format", "json"]);
    assert_eq!(out.code, 0, "a warning alone passes: {}", out.all());
    assert_eq!(status(&out, "host.distro"), "warn");
    let strict = doctor(&["--root", root, "--strict", "--format", "json"]);
    assert_eq!(strict.code, 1, "{}", strict.all());
    assert_eq!(status(&strict, "host.distro"), "fail");
    // With its os-release back, --strict passes.
    r.write("/etc/os-release", DEBIAN_13);
    assert_eq!(doctor(&["--root", root, "--strict"]).code, 0);
}

#[test]
fn a_hung_docker_socket_costs_the_timeout_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("hung.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // A hang would be a failure: the doctor must come back on its own, with
    // the timeout in its message (a watchdog, not a timing assertion).
    let child = std::process::Command::new(BIN)
        .args([
            "doctor",
            "--format",
            "json",
            "--timeout",
            "1",
            "--only",
            "docker",
        ])
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_or_kill(child, 120);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let api = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "docker.api")
        .unwrap()
        .clone();
    assert!(
        api["message"].as_str().unwrap().contains("no answer"),
        "{api}"
    );
}

#[test]
fn setup_ends_with_the_doctor() {
    let r = Root::new();
    let out = r.setup(&["--yes", "--no-install", "--format", "json"]);
    let j = out.json();
    assert_eq!(j["doctor"]["format_version"], 1);
    let human = r.setup(&["--yes", "--no-install"]);
    assert!(
        human.stdout.contains("dockpoint doctor:"),
        "{}",
        human.stdout
    );
    let dry = r.setup(&["--dry-run", "--format", "json"]);
    assert!(dry.json().get("doctor").is_none());
}
