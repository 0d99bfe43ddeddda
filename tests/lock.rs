//! The setup lock: a second run waits, names the holder, and goes on when
//! the holder is done; stale lock files of vanished roots are removed.

mod common;
use common::*;
use std::io::BufRead;

#[test]
fn a_second_setup_waits_naming_the_holder_then_runs() {
    let r = Root::new();
    let root = r.dir.path().to_str().unwrap().to_string();
    let host = dockpoint::host::Host::new(
        Some(r.dir.path().to_path_buf()),
        Box::new(dockpoint::host::SystemRunner),
        dockpoint::host::Term::plain(),
    )
    .unwrap();
    let held =
        dockpoint::fsio::SetupLock::acquire(&host, std::time::Duration::from_secs(5), &|_| {})
            .expect("the first lock");
    let mut child = std::process::Command::new(BIN)
        .args([
            "setup",
            "--root",
            &root,
            "--yes",
            "--no-install",
            "--format",
            "json",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the event: its first line on stderr says who holds the lock.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    if is_root() {
        assert!(
            line.contains(&format!("pid {}", std::process::id())),
            "the waiting run names the holder: {line}"
        );
    } else {
        assert!(line.contains("waiting for"), "{line}");
    }
    assert!(r.snapshot().iter().all(|(p, _)| !p.ends_with("runc.conf")));
    drop(held);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let out = wait_or_kill(child, 120);
    assert_eq!(out.status.code(), Some(0), "{line}{rest}");
    assert_eq!(r.read("/etc/criu/runc.conf"), "tcp-established\n");
}

#[test]
fn lock_files_of_vanished_roots_are_removed() {
    if !is_root() {
        eprintln!("skipped: the root-owned lock directory is for root's runs");
        return;
    }
    let gone = Root::new();
    let gone_path = gone.dir.path().to_path_buf();
    assert_eq!(gone.setup(&["--yes", "--no-install"]).code, 0);
    let ino = {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&gone_path).unwrap();
        format!("root-{}-{}.lock", m.dev(), m.ino())
    };
    let lock = std::path::Path::new("/run/dockpoint").join(&ino);
    assert!(lock.exists(), "{} after a run", lock.display());
    // The next root exists before the first is removed, so it cannot reuse
    // its inode (and so its lock name).
    let r = Root::new();
    drop(gone);
    assert_eq!(r.setup(&["--yes", "--no-install"]).code, 0);
    assert!(!lock.exists(), "the vanished root's lock file was removed");
}
