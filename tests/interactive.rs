//! The interactive flow through a real pseudo-terminal: the prompts a
//! person sees, answered the way a person would. The prompts read whole
//! lines (numbered menus, like rustup-init's), so an answer is a line sent
//! after its prompt has appeared: no key timing, no sleeps.

mod common;
use common::*;

/// Answer the prompt that has appeared with a line.
fn answer(p: &mut rexpect::session::PtySession, line: &str) {
    p.send_line(line).unwrap();
}

/// Accept the BELA options menu as it is (nothing picked).
fn no_extra_options(p: &mut rexpect::session::PtySession) {
    p.exp_string("Also add these CRIU options").unwrap();
    p.exp_string("numbers, or Enter for none").unwrap();
    answer(p, "");
}

/// Wait for the apply menu, fully drawn.
fn apply_menu(p: &mut rexpect::session::PtySession) {
    p.exp_string("Apply these changes?").unwrap();
    p.exp_string("3) Cancel").unwrap();
    p.exp_string(">").unwrap();
}

fn exit_code(p: &mut rexpect::session::PtySession) -> i32 {
    let (_, m) = p.exp_regex("exit=[0-9]+").expect("exit code");
    p.exp_eof().expect("eof");
    m.trim_start_matches("exit=").parse().expect("number")
}

#[test]
fn answer_yes_applies_the_plan() {
    let r = Root::new();
    let mut p = setup_at_terminal(&r, &[]);
    p.exp_string("Host: Debian GNU/Linux 13 (trixie)").unwrap();
    no_extra_options(&mut p);
    p.exp_string("+tcp-established").unwrap();
    apply_menu(&mut p);
    answer(&mut p, ""); // Enter: the default, Proceed
    p.exp_string("Changed: 2").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
    assert!(
        r.read("/etc/docker/daemon.json")
            .contains("\"experimental\": true")
    );
}

#[test]
fn bela_options_can_be_picked_by_number() {
    let r = Root::new();
    let mut p = setup_at_terminal(&r, &[]);
    p.exp_string("Also add these CRIU options").unwrap();
    p.exp_string("2) ghost-limit 100M").unwrap();
    p.exp_string("3) tcp-close").unwrap();
    p.exp_string("numbers, or Enter for none").unwrap();
    answer(&mut p, "1 3");
    apply_menu(&mut p);
    answer(&mut p, "1");
    p.exp_string("Changed: 2").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(
        r.read("/etc/criu/runc.conf"),
        "tcp-established\nskip-in-flight\ntcp-close\n"
    );
}

#[test]
fn the_menu_takes_its_numbers_and_cancel_changes_nothing() {
    let r = Root::new();
    r.write("/etc/docker/daemon.json", "{\"debug\": true}\n");
    let before = r.snapshot();
    let mut p = setup_at_terminal(&r, &[]);
    no_extra_options(&mut p);
    apply_menu(&mut p);
    answer(&mut p, "7"); // not a choice: asked again
    p.exp_string("type a number from 1 to 3").unwrap();
    answer(&mut p, "3"); // Cancel
    p.exp_string("Cancelled: nothing was changed.").unwrap();
    assert_eq!(exit_code(&mut p), 1);
    assert_eq!(r.snapshot(), before);
}

#[test]
fn ctrl_c_at_a_prompt_cancels_and_restores_the_cursor() {
    let r = Root::new();
    let before = r.snapshot();
    let mut p = setup_at_terminal(&r, &[]);
    no_extra_options(&mut p);
    apply_menu(&mut p);
    p.send_control('c').unwrap();
    p.exp_string("\x1b[?25h").unwrap(); // the cursor is shown again
    p.exp_string("Cancelled: nothing was changed.").unwrap();
    assert_eq!(exit_code(&mut p), 1);
    assert_eq!(r.snapshot(), before);
}

#[test]
fn review_each_step() {
    let r = Root::new();
    r.write("/etc/docker/daemon.json", "{\"debug\": true}\n");
    let mut p = setup_at_terminal(&r, &[]);
    no_extra_options(&mut p);
    apply_menu(&mut p);
    answer(&mut p, "2"); // Review each step
    p.exp_string("Apply runc-conf").unwrap();
    p.exp_string("[Y/n]").unwrap();
    answer(&mut p, "y");
    p.exp_string("Apply daemon-json").unwrap();
    p.exp_string("[Y/n]").unwrap();
    answer(&mut p, "n");
    p.exp_string("declined by the operator").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
    assert_eq!(r.read("/etc/docker/daemon.json"), "{\"debug\": true}\n");
}

#[test]
fn a_repair_is_asked_for_and_defaults_to_no() {
    let r = Root::new();
    r.write("/etc/criu/runc.conf", "tcp-established\r\n");
    let mut p = setup_at_terminal(&r, &[]);
    no_extra_options(&mut p);
    p.exp_string("Repair it: convert the line endings to LF?")
        .unwrap();
    p.exp_string("[y/N]").unwrap();
    answer(&mut p, ""); // default: no
    apply_menu(&mut p);
    answer(&mut p, "");
    assert_eq!(exit_code(&mut p), 1);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\r\n");

    let mut p = setup_at_terminal(&r, &[]);
    no_extra_options(&mut p);
    p.exp_string("Repair it: convert the line endings to LF?")
        .unwrap();
    p.exp_string("[y/N]").unwrap();
    answer(&mut p, "y");
    p.exp_string("converted CRLF line endings to LF").unwrap();
    apply_menu(&mut p);
    answer(&mut p, "proceed"); // the start of an option's name works too
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
}
