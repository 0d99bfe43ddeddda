//! `dockpoint setup --root DIR` against real files in real directories.

mod common;
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

const YES: &[&str] = &["--yes", "--no-install", "--no-restart", "--format", "json"];

#[test]
fn fresh_root_gets_both_files_then_rerun_changes_nothing() {
    let r = Root::new();
    let first = r.setup(YES);
    assert_eq!(first.code, 0, "{}", first.all());
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
    assert_eq!(
        r.read("/etc/docker/daemon.json"),
        "{\n  \"experimental\": true\n}\n"
    );
    let mode = |p: &str| std::fs::metadata(r.path(p)).unwrap().mode() & 0o7777;
    assert_eq!(mode("/etc/criu/runc.conf"), 0o644);
    assert_eq!(mode("/etc/criu"), 0o755);
    assert_eq!(first.step("runc-conf")["status"], "changed");
    assert_eq!(first.step("daemon-json")["status"], "changed");
    assert_eq!(first.step("daemon-json")["backup"], serde_json::Value::Null);

    let before = r.snapshot();
    let second = r.setup(YES);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(r.snapshot(), before, "a second run must change no byte");
    let j = second.json();
    assert_eq!(j["changed"], false);
    assert_eq!(second.step("runc-conf")["status"], "ok");
    assert_eq!(second.step("daemon-json")["status"], "ok");
    assert_eq!(second.step("docker-restart")["status"], "ok");
}

#[test]
fn json_report_shape() {
    let r = Root::new();
    let run = r.setup(YES);
    let j = run.json();
    assert_eq!(j["format_version"], 1);
    assert_eq!(j["dry_run"], false);
    assert_eq!(j["changed"], true);
    let d = &j["host"]["distro"];
    assert_eq!(d["id"], "debian");
    assert_eq!(d["version_id"], "13");
    assert_eq!(d["codename"], "trixie");
    assert_eq!(d["family"], "debian");
    let ids: Vec<&str> = j["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["criu-install", "runc-conf", "daemon-json", "docker-restart"]
    );
    for s in j["steps"].as_array().unwrap() {
        for key in ["id", "status", "path", "diff", "backup", "message"] {
            assert!(s.get(key).is_some(), "step {} lacks {key}", s["id"]);
        }
    }
    // Live-only steps are skipped under --root, with the reason.
    assert_eq!(run.step("criu-install")["status"], "skipped");
    assert!(
        run.step("criu-install")["message"]
            .as_str()
            .unwrap()
            .contains("--no-install")
    );
    assert_eq!(run.step("docker-restart")["status"], "skipped");
    assert!(
        run.step("docker-restart")["message"]
            .as_str()
            .unwrap()
            .contains("--root")
    );
    // Logs stay off stdout.
    assert!(run.stderr.contains("Host: Debian GNU/Linux 13"));
}

#[test]
fn dry_run_plans_the_same_and_changes_nothing() {
    let r = Root::new();
    r.write("/etc/docker/daemon.json", "{\"debug\": true}\n");
    let before = r.snapshot();
    let dry = r.setup(&["--dry-run", "--format", "json", "--no-install"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert_eq!(r.snapshot(), before);
    let j = dry.json();
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["changed"], true);
    let planned_diff = dry.step("daemon-json")["diff"].clone();
    assert!(
        planned_diff
            .as_str()
            .unwrap()
            .contains("+{\"debug\": true, \"experimental\": true}")
    );
    let real = r.setup(YES);
    assert_eq!(real.step("daemon-json")["diff"], planned_diff);
    assert_eq!(
        real.step("runc-conf")["diff"],
        dry.step("runc-conf")["diff"]
    );
}

#[test]
fn dry_run_needs_no_terminal_and_human_output_shows_diffs() {
    let r = Root::new();
    let run = r.setup(&["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("+tcp-established"));
    assert!(run.stdout.contains("would change"));
    assert!(run.stdout.contains("Dry run: nothing was changed."));
    assert!(!r.exists("/etc/criu/runc.conf"));
}

#[test]
fn no_terminal_without_yes_is_refused_at_once() {
    let r = Root::new();
    let before = r.snapshot();
    let run = r.setup(&[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("re-run with --yes"), "{}", run.stderr);
    assert!(!run.stdout.contains("Plan"), "refused before planning");
    assert_eq!(r.snapshot(), before);
}

#[test]
fn not_root_is_refused_before_anything() {
    // As root, drop to nobody for the run; as another user, run it as is.
    let mut cmd = if is_root() {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        std::process::Command::new(BIN)
    };
    let out = cmd
        .args(["setup", "--yes"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run it as root"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let r = Root::new();
    let bad = r.setup(&["--yes", "--criu-option", "no-such-option"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("not a CRIU option"), "{}", bad.stderr);
    let missing = run(&["setup", "--root", "/nonexistent/dir", "--yes"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("not a directory"));
    assert_eq!(run(&["setup", "--bogus"]).code, 2);
    assert_eq!(run(&["setup", "--format", "xml"]).code, 2);
    let help = run(&["setup", "--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Exit codes:"));
}

#[test]
fn criu_options_are_added_once() {
    let r = Root::new();
    r.write("/etc/criu/runc.conf", "# site\nghost-limit 1M\n");
    let args = [
        YES,
        &[
            "--criu-option",
            "skip-in-flight",
            "--criu-option",
            "ghost-limit 100M",
        ],
    ]
    .concat();
    let run = r.setup(&args);
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        r.read("/etc/criu/runc.conf"),
        "# site\nghost-limit 100M\ntcp-established\nskip-in-flight\n"
    );
    let before = r.snapshot();
    assert_eq!(r.setup(&args).code, 0);
    assert_eq!(r.snapshot(), before);
}

/// Each runc.conf case: (before, after).
#[test]
fn runc_conf_cases() {
    for (before, after) in [
        ("", "tcp-established\n"),
        ("tcp-established\n", "tcp-established\n"),
        ("tcp-established", "tcp-established"),
        (
            "# tcp-established\n",
            "# tcp-established\ntcp-established\n",
        ),
        (
            "tcp-established\nno-tcp-established\n",
            "tcp-established\n# no-tcp-established\n",
        ),
        ("--tcp-established\n", "tcp-established\n"),
        (
            "log-file /tmp/criu.log",
            "log-file /tmp/criu.log\ntcp-established\n",
        ),
        (
            "\n\n# comment only\n",
            "\n\n# comment only\ntcp-established\n",
        ),
    ] {
        let r = Root::new();
        r.write("/etc/criu/runc.conf", before);
        let run = r.setup(YES);
        assert_eq!(run.code, 0, "{before:?}: {}", run.all());
        assert_eq!(r.read("/etc/criu/runc.conf"), after, "{before:?}");
        if before == after {
            assert_eq!(run.step("runc-conf")["status"], "ok");
            assert!(r.backups("/etc/criu/runc.conf").is_empty());
        } else {
            let b = r.backups("/etc/criu/runc.conf");
            assert_eq!(b.len(), 1, "{before:?}");
            assert_eq!(std::fs::read_to_string(&b[0]).unwrap(), before);
            assert_eq!(run.step("runc-conf")["backup"], b[0].to_str().unwrap());
        }
    }
}

#[test]
fn leading_dashes_are_repaired_and_said() {
    let r = Root::new();
    r.write("/etc/criu/runc.conf", "--tcp-established\n");
    let run = r.setup(YES);
    let msg = run.step("runc-conf")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("repaired line 1"), "{msg}");
    assert!(msg.contains("leading dashes"), "{msg}");
}

#[test]
fn bad_runc_conf_is_refused_and_left_byte_identical() {
    for (content, line, needle) in [
        ("tcp-established\r\n", "line 1", "CRLF"),
        ("# ok\nthis is garbage\n", "line 2", "not a CRIU option"),
        ("log-file \"/tmp/x y\n", "line 1", "unclosed quote"),
    ] {
        let r = Root::new();
        r.write("/etc/criu/runc.conf", content);
        let before = r.snapshot();
        let run = r.setup(YES);
        assert_eq!(run.code, 1, "{content:?}");
        let step = run.step("runc-conf");
        assert_eq!(step["status"], "failed");
        let msg = step["message"].as_str().unwrap();
        assert!(msg.contains("/etc/criu/runc.conf"), "{msg}");
        assert!(msg.contains(line) && msg.contains(needle), "{msg}");
        assert!(msg.contains("--repair"), "{msg}");
        // The other step still went ahead; runc.conf is untouched.
        assert_eq!(run.step("daemon-json")["status"], "changed");
        let after = r.snapshot();
        let conf = r.path("/etc/criu/runc.conf");
        let get = |s: &Vec<(std::path::PathBuf, Vec<u8>)>| {
            s.iter().find(|(p, _)| *p == conf).unwrap().1.clone()
        };
        assert_eq!(get(&after), get(&before));
        assert!(r.backups("/etc/criu/runc.conf").is_empty());

        // With --repair it is fixed, and a backup kept.
        let fixed = r.setup(&[YES, &["--repair"]].concat());
        assert_eq!(fixed.code, 0, "{}", fixed.all());
        let text = r.read("/etc/criu/runc.conf");
        assert!(!text.contains('\r'));
        assert!(text.lines().any(|l| l == "tcp-established"), "{text:?}");
        assert_eq!(r.backups("/etc/criu/runc.conf").len(), 1);
    }
}

/// Each daemon.json case: (before, after).
#[test]
fn daemon_json_minimal_edits() {
    for (before, after) in [
        (
            "{\n    \"log-driver\": \"journald\",\n    \"log-opts\": {\"tag\": \"x\"}\n}\n",
            "{\n    \"log-driver\": \"journald\",\n    \"log-opts\": {\"tag\": \"x\"},\n    \"experimental\": true\n}\n",
        ),
        (
            "{\n\t\"experimental\": false,\n\t\"zz\": [1, 2]\n}",
            "{\n\t\"experimental\": true,\n\t\"zz\": [1, 2]\n}",
        ),
        (
            "{\"b\":1,\"a\":2}",
            "{\"b\":1,\"a\":2,\"experimental\":true}",
        ),
        ("", "{\n  \"experimental\": true\n}\n"),
        (" \n\t\n", "{\n  \"experimental\": true\n}\n"),
        (
            "\u{feff}{\"debug\": true}\n",
            "\u{feff}{\"debug\": true, \"experimental\": true}\n",
        ),
        ("{\"experimental\": true}", "{\"experimental\": true}"),
    ] {
        let r = Root::new();
        r.write("/etc/docker/daemon.json", before);
        let run = r.setup(YES);
        assert_eq!(run.code, 0, "{before:?}: {}", run.all());
        assert_eq!(r.read("/etc/docker/daemon.json"), after, "{before:?}");
    }
}

#[test]
fn bad_daemon_json_is_refused_and_left_byte_identical() {
    for (content, needle, repairable) in [
        ("{\n  // comment\n  \"a\": 1\n}\n", "line 2", false),
        ("{\n  \"a\": 1,\n}\n", "trailing comma", false),
        ("[\"experimental\"]\n", "must be a JSON object", false),
        ("{\"a\": {\"b\": ", "truncated", false),
        ("{\"experimental\": \"true\"}\n", "not a boolean", true),
        (
            "{\n  \"experimental\": false,\n  \"experimental\": true\n}\n",
            "2 times",
            true,
        ),
    ] {
        let r = Root::new();
        r.write("/etc/docker/daemon.json", content);
        let run = r.setup(YES);
        assert_eq!(run.code, 1, "{content:?}");
        let step = run.step("daemon-json");
        assert_eq!(step["status"], "failed");
        let msg = step["message"].as_str().unwrap();
        assert!(
            msg.contains("/etc/docker/daemon.json") && msg.contains(needle),
            "{msg}"
        );
        assert!(msg.contains("left untouched"), "{msg}");
        assert_eq!(r.read("/etc/docker/daemon.json"), content);
        // Nothing was written, so nothing is restarted, and it says why.
        assert_eq!(run.step("docker-restart")["status"], "skipped");
        assert!(
            run.step("docker-restart")["message"]
                .as_str()
                .unwrap()
                .contains("see daemon-json")
        );

        let fixed = r.setup(&[YES, &["--repair"]].concat());
        if repairable {
            assert_eq!(fixed.code, 0, "{}", fixed.all());
            let v: serde_json::Value =
                serde_json::from_str(&r.read("/etc/docker/daemon.json")).unwrap();
            assert_eq!(v["experimental"], true);
            assert_eq!(
                r.read("/etc/docker/daemon.json")
                    .matches("experimental")
                    .count(),
                1
            );
        } else {
            assert_eq!(fixed.code, 1);
            assert_eq!(r.read("/etc/docker/daemon.json"), content);
        }
    }
}

#[test]
fn symlinked_file_is_written_through_keeping_owner_and_mode() {
    let r = Root::new();
    r.write("/srv/config/daemon.json", "{\"debug\": false}\n");
    std::fs::create_dir_all(r.path("/etc/docker")).unwrap();
    // An absolute link target means the root's /srv, not the machine's.
    std::os::unix::fs::symlink("/srv/config/daemon.json", r.path("/etc/docker/daemon.json"))
        .unwrap();
    let target = r.path("/srv/config/daemon.json");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&target, Some(65534), Some(65534)).unwrap();
    let run = r.setup(YES);
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        std::fs::symlink_metadata(r.path("/etc/docker/daemon.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        r.read("/srv/config/daemon.json"),
        "{\"debug\": false, \"experimental\": true}\n"
    );
    let m = std::fs::metadata(&target).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
}

#[test]
fn concurrent_setups_never_interleave() {
    let r = Root::new();
    let opts = [
        "skip-in-flight",
        "tcp-close",
        "link-remap",
        "file-locks",
        "shell-job",
        "ghost-limit 100M",
    ];
    let root = r.dir.path().to_str().unwrap().to_string();
    let children: Vec<_> = opts
        .iter()
        .map(|o| {
            std::process::Command::new(BIN)
                .args(["setup", "--root", &root, "--yes", "--no-install"])
                .args(["--criu-option", o, "--format", "json"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = r.read("/etc/criu/runc.conf");
    for o in opts.iter().chain(["tcp-established"].iter()) {
        assert_eq!(
            text.lines().filter(|l| l == o).count(),
            1,
            "{o} must be there exactly once:\n{text}"
        );
    }
    let v: serde_json::Value = serde_json::from_str(&r.read("/etc/docker/daemon.json")).unwrap();
    assert_eq!(v["experimental"], true);
    // No temp files left behind.
    for dir in ["/etc/criu", "/etc/docker"] {
        for e in std::fs::read_dir(r.path(dir)).unwrap().flatten() {
            assert!(!e.file_name().to_string_lossy().contains("dockpoint-tmp"));
        }
    }
}

#[test]
fn distro_detection_fallbacks() {
    let r = Root::empty();
    r.write("/usr/lib/os-release", "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n");
    let run = r.setup(YES);
    let d = &run.json()["host"]["distro"];
    assert_eq!(d["id"], "ubuntu");
    assert_eq!(d["family"], "debian");
    assert_eq!(d["ubuntu_codename"], "noble");

    let bare = Root::empty();
    let run = bare.setup(YES);
    assert_eq!(run.code, 0, "{}", run.all());
    let d = &run.json()["host"]["distro"];
    assert_eq!(d["id"], "linux");
    assert_eq!(d["family"], "other");
    assert_eq!(d["version_id"], serde_json::Value::Null);
}

#[test]
fn a_run_that_changes_the_host_logs_each_step_and_its_exit_and_a_rerun_logs_nothing() {
    let r = Root::new();
    let log = "/var/log/dockpoint/dockpoint.log";
    let dry = r.setup(&["--dry-run", "--no-install", "--format", "json"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    assert!(!r.path(log).exists(), "a dry run logs nothing");
    let first = r.setup(YES);
    assert_eq!(first.code, 0, "{}", first.all());
    assert!(first.stderr.contains("change log: "), "{}", first.all());
    let lines = |r: &Root| -> Vec<serde_json::Value> {
        r.read(log)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let got = lines(&r);
    let events: Vec<String> = got
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["event"].as_str().unwrap(),
                l["step"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            "planned runc-conf",
            "planned daemon-json",
            "skipped criu-install",
            "changed runc-conf",
            "changed daemon-json",
            "skipped docker-restart",
            "end "
        ],
        "{got:#?}"
    );
    assert_eq!(got[6]["exit"], 0);
    assert!(
        got.iter()
            .all(|l| l["run"] == got[0]["run"] && l["command"] == "setup")
    );
    assert!(got[2]["time"].as_str().unwrap().ends_with('Z'));
    // Nothing to change: nothing logged.
    let second = r.setup(YES);
    assert_eq!(second.code, 0, "{}", second.all());
    assert_eq!(
        lines(&r).len(),
        7,
        "a run that changes nothing logs nothing"
    );
    // A failed step: logged with the exit code 1 and the backup of the
    // file written before it.
    r.write("/etc/criu/runc.conf", "ghost-limit 1M\n");
    r.write("/etc/docker/daemon.json", "{\"experimental\": tru\n");
    let bad = r.setup(YES);
    assert_eq!(bad.code, 1, "{}", bad.all());
    let got = lines(&r);
    let last: Vec<&serde_json::Value> = got[7..].iter().collect();
    let changed = last
        .iter()
        .find(|l| l["event"] == "changed" && l["step"] == "runc-conf")
        .expect("runc-conf changed");
    assert!(
        changed["backup"].as_str().unwrap().contains("runc.conf"),
        "{changed}"
    );
    assert!(
        last.iter()
            .any(|l| l["event"] == "failed" && l["step"] == "daemon-json"),
        "{last:#?}"
    );
    assert_eq!(last.last().unwrap()["exit"], 1);
}
