//! The interactive flow through a real pseudo-terminal: the prompts a
//! person sees, answered the way a person would.

mod common;
use common::*;
use rexpect::session::spawn_command;

const DOWN: &str = "\x1b[B";

fn session(r: &Root, extra: &[&str]) -> rexpect::session::PtySession {
    // sh reports the exit code on the terminal once dockpoint has exited.
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "\"$0\" \"$@\"; echo \"exit=$?\"", BIN])
        .args([
            "setup",
            "--root",
            r.dir.path().to_str().unwrap(),
            "--no-install",
        ])
        .args(extra)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    spawn_command(cmd, Some(10_000)).expect("spawn in a pty")
}

/// Type a key. The prompt is drawn before the terminal is switched to raw
/// mode, so give it a moment, as a person's reaction time would.
fn key(p: &mut rexpect::session::PtySession, keys: &str) {
    std::thread::sleep(std::time::Duration::from_millis(150));
    p.send(keys).unwrap();
    p.flush().unwrap();
}

/// Accept the BELA options menu as it is (nothing picked).
fn no_extra_options(p: &mut rexpect::session::PtySession) {
    p.exp_string("Also add these CRIU options").unwrap();
    p.exp_string("1 MiB").unwrap(); // the whole menu is drawn
    key(p, "\r");
}

fn exit_code(p: &mut rexpect::session::PtySession) -> i32 {
    let (_, m) = p.exp_regex("exit=[0-9]+").expect("exit code");
    p.exp_eof().expect("eof");
    m.trim_start_matches("exit=").parse().expect("number")
}

#[test]
fn answer_yes_applies_the_plan() {
    let r = Root::new();
    let mut p = session(&r, &[]);
    p.exp_string("Host: Debian GNU/Linux 13 (trixie)").unwrap();
    p.exp_string("Also add these CRIU options").unwrap();
    p.exp_string("1 MiB").unwrap(); // the whole menu is drawn
    key(&mut p, "\r"); // none by default
    p.exp_string("+tcp-established").unwrap();
    p.exp_string("Apply these changes?").unwrap();
    p.exp_string("Cancel").unwrap();
    key(&mut p, "\r"); // Proceed
    p.exp_string("Changed: 2").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
    assert!(
        r.read("/etc/docker/daemon.json")
            .contains("\"experimental\": true")
    );
}

#[test]
fn bela_options_can_be_picked() {
    let r = Root::new();
    let mut p = session(&r, &[]);
    p.exp_string("Also add these CRIU options").unwrap();
    p.exp_string("1 MiB").unwrap(); // the whole menu is drawn
    key(&mut p, " "); // toggle skip-in-flight
    key(&mut p, DOWN);
    key(&mut p, " "); // toggle ghost-limit 100M
    key(&mut p, "\r");
    p.exp_string("Apply these changes?").unwrap();
    p.exp_string("Cancel").unwrap();
    key(&mut p, "\r");
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(
        r.read("/etc/criu/runc.conf"),
        "tcp-established\nskip-in-flight\nghost-limit 100M\n"
    );
}

#[test]
fn answer_no_changes_nothing() {
    let r = Root::new();
    r.write("/etc/docker/daemon.json", "{\"debug\": true}\n");
    let before = r.snapshot();
    let mut p = session(&r, &[]);
    no_extra_options(&mut p);
    p.exp_string("Apply these changes?").unwrap();
    p.exp_string("Cancel").unwrap();
    key(&mut p, DOWN);
    key(&mut p, DOWN);
    key(&mut p, "\r"); // Cancel
    p.exp_string("Cancelled: nothing was changed.").unwrap();
    assert_eq!(exit_code(&mut p), 1);
    assert_eq!(r.snapshot(), before);
}

#[test]
fn review_each_step() {
    let r = Root::new();
    r.write("/etc/docker/daemon.json", "{\"debug\": true}\n");
    let mut p = session(&r, &[]);
    no_extra_options(&mut p);
    p.exp_string("Apply these changes?").unwrap();
    p.exp_string("Cancel").unwrap();
    key(&mut p, DOWN);
    key(&mut p, "\r"); // Review each step
    p.exp_string("Apply runc-conf").unwrap();
    p.exp_string("[Y/n]").unwrap();
    key(&mut p, "y");
    p.exp_string("Apply daemon-json").unwrap();
    p.exp_string("[Y/n]").unwrap();
    key(&mut p, "n");
    p.exp_string("declined by the operator").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
    assert_eq!(r.read("/etc/docker/daemon.json"), "{\"debug\": true}\n");
}

#[test]
fn a_repair_is_asked_for_and_defaults_to_no() {
    let r = Root::new();
    r.write("/etc/criu/runc.conf", "tcp-established\r\n");
    let mut p = session(&r, &[]);
    p.exp_string("Also add these CRIU options").unwrap();
    p.exp_string("1 MiB").unwrap(); // the whole menu is drawn
    key(&mut p, "\r");
    p.exp_string("Repair it: convert the line endings to LF?")
        .unwrap();
    p.exp_string("[y/N]").unwrap();
    key(&mut p, "\r"); // default: no
    p.exp_string("Apply these changes?").unwrap();
    p.exp_string("Cancel").unwrap();
    key(&mut p, "\r");
    assert_eq!(exit_code(&mut p), 1);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\r\n");

    let mut p = session(&r, &[]);
    p.exp_string("Also add these CRIU options").unwrap();
    p.exp_string("1 MiB").unwrap(); // the whole menu is drawn
    key(&mut p, "\r");
    p.exp_string("Repair it: convert the line endings to LF?")
        .unwrap();
    p.exp_string("[y/N]").unwrap();
    key(&mut p, "y");
    p.exp_string("converted CRLF line endings to LF").unwrap();
    p.exp_string("Apply these changes?").unwrap();
    p.exp_string("Cancel").unwrap();
    key(&mut p, "\r");
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
}
