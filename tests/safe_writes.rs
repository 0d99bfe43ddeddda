//! Safe writes (the real binary on temp roots): backups that never follow
//! a planted link and never outlive a failed step, unpredictable O_EXCL temp
//! files that a later run sweeps, a concurrent edit never lost, only regular
//! and bounded files read (a FIFO never hangs anything), a setup lock no
//! unprivileged user can take, and a stdout that fails without a panic.
//! Tests that need strace or root say so and skip without them; the
//! fault-injection suite (tests/fault/run.sh) runs from here too.

mod common_faults;
use common_faults::*;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const YES: &[&str] = &["--yes", "--no-install", "--no-restart", "--format", "json"];

const OLD_DAEMON: &str =
    "{\n  \"log-driver\": \"journald\",\n  \"log-opts\": {\"max-size\": \"10m\"}\n}\n";
const NEW_DAEMON: &str = "{\n  \"log-driver\": \"journald\",\n  \"log-opts\": {\"max-size\": \"10m\"},\n  \"experimental\": true\n}\n";
const OLD_RUNC: &str = "# site options\nskip-in-flight\n";
const NEW_RUNC: &str = "# site options\nskip-in-flight\ntcp-established\n";

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A jail whose root has both files needing an edit.
fn jail_with_files() -> Jail {
    let j = Jail::new();
    j.write("/etc/docker/daemon.json", OLD_DAEMON);
    j.write("/etc/criu/runc.conf", OLD_RUNC);
    j
}

fn utc_stamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

// ---------------------------------------------------------------- backups

/// A dangling symlink planted at every backup name dockpoint could pick in
/// the next minute and a half: root must never create a file through it.
#[test]
fn planted_backup_links_are_never_followed() {
    let j = jail_with_files();
    let now = jiff::Timestamp::now();
    let mut planted: Vec<(PathBuf, PathBuf)> = Vec::new();
    for (dir, name) in [("/etc/docker", "daemon.json"), ("/etc/criu", "runc.conf")] {
        for s in -2i64..90 {
            let stamp = utc_stamp(now + jiff::SignedDuration::from_secs(s));
            for n in ["".to_string(), "-1".into(), "-2".into()] {
                let link = j.path(&format!("{dir}/{name}.dockpoint-{stamp}{n}.bak"));
                let target = j.outside.join(format!("planted-{name}-{}", planted.len()));
                std::os::unix::fs::symlink(&target, &link).unwrap();
                planted.push((link, target));
            }
        }
    }
    let before = j.snapshot_outside();
    let out = j.setup(YES);
    j.assert_outside_unchanged(&before, "setup with planted .bak links");
    for (link, target) in &planted {
        assert!(
            !target.exists(),
            "a file was created through the planted link {}",
            link.display()
        );
        assert_eq!(&fs::read_link(link).unwrap(), target);
    }
    assert_eq!(out.code(), Some(0), "{}", out.all());
    assert_eq!(read(&j.path("/etc/docker/daemon.json")), NEW_DAEMON);
    assert_eq!(read(&j.path("/etc/criu/runc.conf")), NEW_RUNC);
    // The backups are real files, named in the report, with the old bytes.
    for (id, dir, name, old) in [
        ("daemon-json", "/etc/docker", "daemon.json", OLD_DAEMON),
        ("runc-conf", "/etc/criu", "runc.conf", OLD_RUNC),
    ] {
        let real: Vec<String> = backups(&j.path(dir), name)
            .into_iter()
            .filter(|b| {
                fs::symlink_metadata(j.path(&format!("{dir}/{b}")))
                    .unwrap()
                    .is_file()
            })
            .collect();
        assert_eq!(real.len(), 1, "{name}: {real:?}");
        let b = j.path(&format!("{dir}/{}", real[0]));
        assert_eq!(read(&b), old);
        assert_eq!(out.step(id)["backup"], b.to_str().unwrap(), "{}", out.all());
    }
}

/// Temp and backup files are created O_EXCL (and the backup O_NOFOLLOW),
/// with names no one can guess: two runs never pick the same temp name.
#[test]
fn temp_and_backup_files_are_created_exclusively_with_unpredictable_names() {
    if !need_strace("temp_and_backup_files_are_created_exclusively_with_unpredictable_names") {
        return;
    }
    let mut temp_names = Vec::new();
    for _ in 0..2 {
        let j = jail_with_files();
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace");
        let mut c = Command::new("strace");
        c.args([
            "-f",
            "-s",
            "4096",
            "-e",
            "trace=open,openat,openat2,creat",
            "-o",
        ])
        .arg(&trace)
        .arg(BIN)
        .args(["setup", "--root", j.root_arg()])
        .args(YES);
        let out = run(&mut c);
        assert_eq!(out.code(), Some(0), "{}", out.all());
        let text = read(&trace);
        let creates: Vec<&str> = text.lines().filter(|l| l.contains("O_CREAT")).collect();
        // The new content's temp file, and the backup's (written under a
        // temp name, then renamed: RENAME_NOREPLACE, never over a file).
        let temps: Vec<&&str> = creates
            .iter()
            .filter(|l| l.contains(".dockpoint-tmp-") && !l.contains(".bak-partial"))
            .collect();
        let baks: Vec<&&str> = creates
            .iter()
            .filter(|l| l.contains(".bak-partial\""))
            .collect();
        assert_eq!(temps.len(), 2, "one temp file per edited file:\n{text}");
        assert_eq!(baks.len(), 2, "one backup per edited file:\n{text}");
        for l in &temps {
            assert!(l.contains("O_EXCL"), "temp file not O_EXCL: {l}");
            let name = l
                .split('"')
                .find(|s| s.contains(".dockpoint-tmp-"))
                .unwrap()
                .to_string();
            let random = name.rsplit(".dockpoint-tmp-").next().unwrap();
            assert!(
                random.len() >= 12 && random.chars().all(|c| c.is_ascii_alphanumeric()),
                "the temp name's random part is too short to be unpredictable: {name}"
            );
            temp_names.push(name);
        }
        for l in &baks {
            assert!(
                l.contains("O_EXCL") && l.contains("O_NOFOLLOW"),
                "backup not O_EXCL|O_NOFOLLOW: {l}"
            );
        }
    }
    let mut uniq = temp_names.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(
        uniq.len(),
        temp_names.len(),
        "temp names repeat: {temp_names:?}"
    );
}

/// A step that fails after its backup was made removes the backup (an
/// empty or unused `.bak` could later be restored) and its temp file, and
/// leaves the file as it was.
#[test]
fn a_failing_step_leaves_no_backup_and_no_temp() {
    if !need_strace("a_failing_step_leaves_no_backup_and_no_temp") {
        return;
    }
    // Only daemon.json needs an edit: its temp is fsync #1, its backup
    // fsync #2, its rename the first rename.
    for (inject, errno) in [
        ("rename,renameat,renameat2", "EIO"),
        ("fsync,fdatasync", "ENOSPC"),
    ] {
        for when in [1, 2] {
            if inject.starts_with("rename") && when == 2 {
                continue;
            }
            let j = Jail::new();
            j.write("/etc/docker/daemon.json", OLD_DAEMON);
            j.write("/etc/criu/runc.conf", "tcp-established\n");
            let dir = tempfile::tempdir().unwrap();
            let mut c = Command::new("strace");
            c.args(["-f", "-o"])
                .arg(dir.path().join("trace"))
                .arg("-e")
                .arg(format!("trace={inject}"))
                .arg("-e")
                .arg(format!("inject={inject}:error={errno}:when={when}"))
                .arg(BIN)
                .args(["setup", "--root", j.root_arg()])
                .args(YES);
            let out = run(&mut c);
            let ctx = format!("{inject} #{when} fails with {errno}");
            out.assert_exit_in(&[1]);
            assert_eq!(out.step("daemon-json")["status"], "failed", "{ctx}");
            assert_eq!(out.step("daemon-json")["backup"], serde_json::Value::Null);
            assert_eq!(
                read(&j.path("/etc/docker/daemon.json")),
                OLD_DAEMON,
                "{ctx}"
            );
            let d = j.path("/etc/docker");
            assert!(
                backups(&d, "daemon.json").is_empty(),
                "{ctx}: {:?}",
                names(&d)
            );
            assert!(temps(&d).is_empty(), "{ctx}: {:?}", names(&d));
        }
    }
}

// ---------------------------------------------------------------- temps

/// Temp files of dockpoint's own left by a killed run are removed by the
/// next run; nothing else in the directory is.
#[test]
fn stale_temps_of_ours_are_removed_by_the_next_run() {
    let j = jail_with_files();
    let stale = [
        "/etc/docker/.daemon.json.dockpoint-tmp-0123456789abcdef",
        "/etc/docker/.daemon.json.dockpoint-tmp-feedfacecafebeef",
        "/etc/criu/.runc.conf.dockpoint-tmp-00000000deadbeef",
    ];
    for s in stale {
        j.write(s, "{\"half\": ");
    }
    // Not ours to remove: an admin's files, and a link with our prefix.
    j.write("/etc/docker/daemon.json.orig", "{}\n");
    j.write("/etc/docker/.daemon.json.swp", "vim\n");
    j.link(
        "/etc/docker/.daemon.json.dockpoint-tmp-link",
        j.outside.join("secret.txt"),
    );
    let before = j.snapshot_outside();
    let out = j.setup(YES);
    assert_eq!(out.code(), Some(0), "{}", out.all());
    j.assert_outside_unchanged(&before, "stale temps");
    for s in stale {
        assert!(
            fs::symlink_metadata(j.path(s)).is_err(),
            "{s} was left:\n{:?}",
            names(&j.path("/etc/docker"))
        );
    }
    assert_eq!(read(&j.path("/etc/docker/daemon.json.orig")), "{}\n");
    assert_eq!(read(&j.path("/etc/docker/.daemon.json.swp")), "vim\n");
    assert_eq!(read(&j.path("/etc/docker/daemon.json")), NEW_DAEMON);
}

/// The next run sweeps a killed run's temps even when it has nothing to
/// write (the file was fixed by hand in between).
#[test]
fn stale_temps_are_removed_even_when_nothing_needs_writing() {
    let j = Jail::new();
    j.write("/etc/docker/daemon.json", NEW_DAEMON);
    j.write("/etc/criu/runc.conf", NEW_RUNC);
    let stale = [
        "/etc/docker/.daemon.json.dockpoint-tmp-0123456789abcdef",
        "/etc/criu/.runc.conf.dockpoint-tmp-00000000deadbeef",
    ];
    for s in stale {
        j.write(s, "{\"half\": ");
    }
    let out = j.setup(YES);
    assert_eq!(out.code(), Some(0), "{}", out.all());
    assert_eq!(out.json()["changed"], false);
    for s in stale {
        assert!(
            fs::symlink_metadata(j.path(s)).is_err(),
            "{s} was left by a run with nothing to write"
        );
    }
}

// ------------------------------------------------------- concurrent edits

/// What the "editor" does to daemon.json while setup is stopped.
#[derive(Clone, Copy, Debug)]
enum Edit {
    /// write a temp file and rename it over daemon.json (vim, sed -i, ...)
    Atomic,
    /// open daemon.json with O_TRUNC and write the new content
    Truncating,
}

fn editor(path: &Path, edit: Edit, content: &str) {
    match edit {
        Edit::Atomic => {
            let tmp = path.with_file_name(".daemon.json.editor~");
            fs::write(&tmp, content).unwrap();
            fs::rename(&tmp, path).unwrap();
        }
        Edit::Truncating => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .unwrap();
            f.write_all(content.as_bytes()).unwrap();
        }
    }
}

/// Setup is stopped between its plan and its rename (at the temp file's
/// fsync, then at the backup's); meanwhile an editor rewrites daemon.json.
/// The editor's bytes must survive: setup fails with "changed while
/// dockpoint worked", writes nothing, leaves no backup and no temp.
#[test]
fn a_concurrent_edit_is_never_lost() {
    if !need_strace("a_concurrent_edit_is_never_lost") {
        return;
    }
    let edited = "{\n  \"log-driver\": \"syslog\",\n  \"debug\": true\n}\n";
    // (what setup planned from, the editor's edit, the editor's bytes)
    let cases = [
        (OLD_DAEMON, Edit::Atomic, edited),
        (OLD_DAEMON, Edit::Truncating, edited),
        // The reproduction: setup read a daemon.json the editor had just
        // truncated, planned {"experimental": true}, and the editor's full
        // content was then replaced by it.
        ("", Edit::Truncating, OLD_DAEMON),
    ];
    for (planned_from, edit, theirs) in cases {
        for when in [1u32, 2] {
            let ctx = format!("planned from {planned_from:?}, {edit:?} edit at fsync #{when}");
            let j = Jail::new();
            j.write("/etc/docker/daemon.json", planned_from);
            j.write("/etc/criu/runc.conf", "tcp-established\n");
            let d = j.path("/etc/docker");
            let args = [&["setup", "--root", j.root_arg()][..], YES].concat();
            let (t, pid) = Traced::stopped_at("fsync,fdatasync", when, &args);
            // Stopped between the plan and the rename: the temp file is there
            // (and, at the second fsync, the backup).
            assert_eq!(temps(&d).len(), 1, "{ctx}: {:?}", names(&d));
            if when == 2 {
                assert_eq!(
                    backups_in_progress(&d, "daemon.json").len(),
                    1,
                    "{ctx}: {:?}",
                    names(&d)
                );
            }
            editor(&j.path("/etc/docker/daemon.json"), edit, theirs);
            let out = t.resume(pid);
            out.assert_exit_in(&[1]);
            let step = out.step("daemon-json");
            assert_eq!(step["status"], "failed", "{ctx}:\n{}", out.all());
            assert!(
                step["message"]
                    .as_str()
                    .unwrap()
                    .contains("changed while dockpoint worked"),
                "{ctx}: {step}"
            );
            assert_eq!(
                read(&j.path("/etc/docker/daemon.json")),
                theirs,
                "{ctx}: the editor's bytes were lost"
            );
            assert!(
                backups(&d, "daemon.json").is_empty(),
                "{ctx}: {:?}",
                names(&d)
            );
            assert!(temps(&d).is_empty(), "{ctx}: {:?}", names(&d));
        }
    }
}

// ------------------------------------------------------ non-regular files

#[derive(Clone, Copy, Debug, PartialEq)]
enum Special {
    Fifo,
    Dir,
    Socket,
    /// /dev/zero's numbers: reading it never ends.
    Zero,
}

const SPECIALS: [Special; 4] = [Special::Fifo, Special::Dir, Special::Socket, Special::Zero];

impl Special {
    /// Make it at `p`; the socket's listener must stay alive. None when
    /// this machine does not let us (mknod in a container without CAP_MKNOD).
    fn make(self, p: &Path) -> Option<Option<std::os::unix::net::UnixListener>> {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        match self {
            Special::Fifo => {
                nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
                Some(None)
            }
            Special::Dir => {
                fs::create_dir(p).unwrap();
                Some(None)
            }
            Special::Socket => Some(Some(std::os::unix::net::UnixListener::bind(p).unwrap())),
            Special::Zero => nix::sys::stat::mknod(
                p,
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
                nix::sys::stat::makedev(1, 5),
            )
            .ok()
            .map(|_| None),
        }
    }

    /// Words a clear refusal uses for it.
    fn words(self) -> &'static [&'static str] {
        match self {
            Special::Fifo => &["FIFO", "fifo", "named pipe"],
            Special::Dir => &["directory"],
            Special::Socket => &["socket"],
            Special::Zero => &["device"],
        }
    }

    fn named_in(self, text: &str) -> bool {
        self.words().iter().any(|w| text.contains(w)) || text.contains("not a regular file")
    }

    fn is_still_there(self, p: &Path) -> bool {
        let Ok(m) = fs::symlink_metadata(p) else {
            return false;
        };
        let ft = m.file_type();
        match self {
            Special::Fifo => ft.is_fifo(),
            Special::Dir => ft.is_dir(),
            Special::Socket => ft.is_socket(),
            Special::Zero => ft.is_char_device(),
        }
    }
}

/// A FIFO, directory, socket or device where daemon.json or runc.conf is
/// expected: setup refuses that step at once, names what it found, leaves
/// it alone, and still does the other file.
#[test]
fn setup_refuses_a_non_regular_config_at_once() {
    let mut bad = Failures::default();
    for kind in SPECIALS {
        for (id, abs, other) in [
            (
                "daemon-json",
                "/etc/docker/daemon.json",
                "/etc/criu/runc.conf",
            ),
            (
                "runc-conf",
                "/etc/criu/runc.conf",
                "/etc/docker/daemon.json",
            ),
        ] {
            let j = Jail::new();
            let p = j.path(abs);
            let Some(_listener) = kind.make(&p) else {
                println!("SKIPPED {kind:?} at {abs}: mknod is not allowed here");
                continue;
            };
            let ctx = format!("{kind:?} at {abs}");
            let before = j.snapshot_outside();
            let out = j.setup(YES);
            bad.result(out.exit_in(&[1]), &ctx);
            if out.code() == Some(1) {
                let step = out.step(id);
                let msg = step["message"].as_str().unwrap_or("");
                bad.check(step["status"] == "failed", || {
                    format!("{ctx}: the step must fail:\n{}", out.all())
                });
                bad.check(msg.contains(abs) && kind.named_in(msg), || {
                    format!("{ctx}: the refusal must name the file and what it is: {msg}")
                });
            }
            bad.check(kind.is_still_there(&p), || {
                format!("{ctx}: it was replaced")
            });
            bad.check(j.path(other).is_file(), || {
                format!("{ctx}: the other file was not written")
            });
            j.assert_outside_unchanged(&before, &ctx);
            // The dry run answers at once too, and says what it found.
            let dry = j.setup(&["--dry-run", "--no-install", "--format", "json"]);
            bad.result(dry.exit_in(&[0, 1]), &format!("{ctx}, dry run"));
            bad.check(kind.named_in(&dry.all()), || {
                format!("{ctx}: dry run does not say what it found:\n{}", dry.all())
            });
        }
    }
    bad.assert_none("non-regular config files and setup");
}

/// `doctor --root R --timeout 5` with a FIFO (or another non-regular file)
/// as runc.conf or daemon.json: it finishes, and the checks name it rather
/// than calling the file absent.
#[test]
fn doctor_refuses_a_non_regular_config_at_once() {
    let mut bad = Failures::default();
    for kind in SPECIALS {
        for (prefix, abs) in [
            ("runc-conf.", "/etc/criu/runc.conf"),
            ("daemon-json.", "/etc/docker/daemon.json"),
        ] {
            let j = Jail::new();
            let Some(_listener) = kind.make(&j.path(abs)) else {
                println!("SKIPPED {kind:?} at {abs}: mknod is not allowed here");
                continue;
            };
            let ctx = format!("{kind:?} at {abs}");
            let out = j.doctor(&["--timeout", "5", "--format", "json"]);
            bad.result(out.exit_in(&[1, 3]), &ctx);
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&out.stdout) else {
                bad.check(false, || {
                    format!("{ctx}: stdout is not JSON:\n{}", out.all())
                });
                continue;
            };
            let text: Vec<String> = v["checks"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|c| c["id"].as_str().unwrap_or("").starts_with(prefix))
                .map(|c| format!("{}: {} {}", c["id"], c["status"], c["message"]))
                .collect();
            bad.check(
                text.iter().any(|t| kind.named_in(t) && t.contains(abs)),
                || {
                    format!(
                        "{ctx}: no {prefix}* check names the file and what it is:\n{}",
                        text.join("\n")
                    )
                },
            );
        }
    }
    bad.assert_none("non-regular config files and doctor");
}

/// A FIFO (or another non-regular file) where os-release is: setup and
/// doctor finish and say what is wrong with it.
#[test]
fn a_non_regular_os_release_is_named_not_waited_on() {
    let mut bad = Failures::default();
    for kind in SPECIALS {
        let j = Jail::new();
        fs::remove_file(j.path("/etc/os-release")).unwrap();
        let Some(_listener) = kind.make(&j.path("/etc/os-release")) else {
            println!("SKIPPED {kind:?} os-release: mknod is not allowed here");
            continue;
        };
        let ctx = format!("{kind:?} at /etc/os-release");
        let dry = j.setup(&["--dry-run", "--no-install"]);
        bad.result(dry.exit_in(&[0, 1]), &ctx);
        bad.check(
            dry.all().contains("os-release") && kind.named_in(&dry.all()),
            || {
                format!(
                    "{ctx}: setup must say what is wrong with os-release:\n{}",
                    dry.all()
                )
            },
        );
        let doc = j.doctor(&["--timeout", "5"]);
        bad.result(doc.exit_in(&[0, 1, 3]), &ctx);
        bad.check(
            doc.all().contains("os-release") && kind.named_in(&doc.all()),
            || {
                format!(
                    "{ctx}: doctor must say what is wrong with os-release:\n{}",
                    doc.all()
                )
            },
        );
    }
    bad.assert_none("non-regular os-release");
}

/// The CRIU log named after `path=` is a FIFO (or a device, a socket, a
/// directory): explain finishes and says so.
#[test]
fn explain_refuses_a_non_regular_log_at_once() {
    let mut bad = Failures::default();
    for kind in SPECIALS {
        let j = Jail::new();
        let abs = "/run/containerd/io.containerd.runtime.v2.task/moby/abc/criu-dump.log";
        let Some(_listener) = kind.make(&j.path(abs)) else {
            println!("SKIPPED {kind:?} log: mknod is not allowed here");
            continue;
        };
        let ctx = format!("{kind:?} as the CRIU log");
        let text = format!("criu failed: type NOTIFY errno 0 path= {abs}: unknown");
        let out = j.explain(&[&text]);
        bad.result(out.exit_in(&[0, 1]), &ctx);
        bad.check(out.all().contains(abs) && kind.named_in(&out.all()), || {
            format!(
                "{ctx}: explain must say the log is not a regular file:\n{}",
                out.all()
            )
        });
        let json = j.explain(&["--format", "json", &text]);
        bad.result(json.exit_in(&[0, 1]), &ctx);
        bad.check(json.stdout.contains("\"logs_read\": []"), || {
            format!("{ctx}: nothing may be read:\n{}", json.all())
        });
    }
    bad.assert_none("non-regular CRIU logs and explain");
}

/// Config files over the bound are refused, not read whole, by setup and
/// by the doctor.
#[test]
fn oversized_config_files_are_refused() {
    let mut bad = Failures::default();
    for (id, prefix, abs) in [
        ("daemon-json", "daemon-json.", "/etc/docker/daemon.json"),
        ("runc-conf", "runc-conf.", "/etc/criu/runc.conf"),
    ] {
        let j = Jail::new();
        let p = j.path(abs);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let f = fs::File::create(&p).unwrap();
        // Sparse: 64 MiB of nothing on disk.
        f.set_len(64 << 20).unwrap();
        drop(f);
        let out = j.setup(YES);
        out.assert_exit_in(&[1]);
        let step = out.step(id);
        let msg = step["message"].as_str().unwrap_or("").to_string();
        bad.check(
            step["status"] == "failed" && msg.contains(abs) && msg.contains("larger than"),
            || format!("{abs}: setup must refuse it as too large: {step}"),
        );
        assert_eq!(fs::metadata(&p).unwrap().len(), 64 << 20);
        assert!(
            backups(
                p.parent().unwrap(),
                p.file_name().unwrap().to_str().unwrap()
            )
            .is_empty()
        );
        let doc = j.doctor(&["--format", "json"]);
        bad.result(doc.exit_in(&[1, 3]), abs);
        let checks: Vec<String> = doc.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"].as_str().unwrap().starts_with(prefix))
            .map(|c| format!("{}: {} {}", c["id"], c["status"], c["message"]))
            .collect();
        bad.check(checks.iter().any(|c| c.contains("larger than")), || {
            format!(
                "{abs}: no {prefix}* doctor check says it is too large:\n{}",
                checks.join("\n")
            )
        });
    }
    bad.assert_none("oversized config files");
}

// ------------------------------------------------------------------ lock

/// As an unprivileged user, take every lock one can on the root: flock on
/// its world-readable directories, shared flock and POSIX read locks on its
/// files, and whatever is reachable in /run/dockpoint. Prints `held N
/// dockpoint-locks M`, then holds them until stdin closes.
const ATTACKER: &str = r#"
import fcntl, os, sys
root = sys.argv[1]
held = 0
fds = []
for p in [root, root + "/etc", root + "/etc/docker", root + "/etc/criu"]:
    fd = os.open(p, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fds.append(fd)
    held += 1
for p in [root + "/etc/os-release", root + "/etc/docker/daemon.json", root + "/etc/criu/runc.conf"]:
    fd = os.open(p, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    fds.append(fd)
    held += 1
ours = 0
try:
    for n in os.listdir("/run/dockpoint"):
        try:
            fd = os.open("/run/dockpoint/" + n, os.O_RDONLY)
        except OSError:
            continue
        for how in (fcntl.LOCK_EX, fcntl.LOCK_SH):
            try:
                fcntl.flock(fd, how | fcntl.LOCK_NB)
                ours += 1
                break
            except OSError:
                pass
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            ours += 1
        except OSError:
            pass
        fds.append(fd)
except OSError:
    pass
print("held", held, "dockpoint-locks", ours, flush=True)
sys.stdin.read()
"#;

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// An unprivileged user holding every lock it can take on a root (and on
/// its /etc) does not block `setup` run by root, and gets no wait message
/// blaming "another dockpoint setup".
#[test]
fn an_unprivileged_user_cannot_block_setup() {
    if !need_root("an_unprivileged_user_cannot_block_setup") {
        return;
    }
    let j = jail_with_files();
    for p in [
        j.top().to_path_buf(),
        j.top().join("box"),
        j.root.clone(),
        j.path("/etc"),
        j.path("/etc/docker"),
        j.path("/etc/criu"),
    ] {
        chmod(&p, 0o755);
    }
    // A first run makes whatever lock file dockpoint keeps for this root.
    let first = j.setup(YES);
    assert_eq!(first.code(), Some(0), "{}", first.all());
    fs::write(j.path("/etc/docker/daemon.json"), OLD_DAEMON).unwrap();

    let mut attacker = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            ATTACKER,
            j.root_arg(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setpriv python3");
    let mut line = String::new();
    BufReader::new(attacker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let attacker_err = drain(attacker.stderr.take());
    let guard = KillOnDrop(attacker);
    if !line.starts_with("held 7 ") {
        drop(guard);
        panic!(
            "the unprivileged user could not take its locks: {line:?}\n{}",
            attacker_err.join().unwrap()
        );
    }
    assert!(
        line.trim_end().ends_with("dockpoint-locks 0"),
        "an unprivileged user took a lock in /run/dockpoint: {line:?}"
    );
    let out = j.setup(YES);
    assert_eq!(out.code(), Some(0), "{}", out.all());
    assert!(
        !out.stderr.contains("waiting for"),
        "setup waited for an unprivileged user's lock:\n{}",
        out.all()
    );
    assert_eq!(read(&j.path("/etc/docker/daemon.json")), NEW_DAEMON);
    drop(guard);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        if wait_child(&mut self.0).is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Wait briefly-bounded for a child that was told to end (stdin closed).
fn wait_child(c: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + WATCHDOG;
    loop {
        if let Ok(Some(s)) = c.try_wait() {
            return Some(s);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A second setup waiting for the lock names the holder's pid and command.
#[test]
fn a_waiting_setup_names_the_lock_holder() {
    if !need_root("a_waiting_setup_names_the_lock_holder")
        || !need_strace("a_waiting_setup_names_the_lock_holder")
    {
        return;
    }
    let j = jail_with_files();
    let args = [&["setup", "--root", j.root_arg()][..], YES].concat();
    let (holder, pid) = Traced::stopped_at("fsync,fdatasync", 1, &args);
    let mut second = Command::new(BIN)
        .args(&args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out2 = drain(second.stdout.take());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = second.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            all.push_str(&l);
            all.push('\n');
            let _ = tx.send(l);
        }
        all
    });
    let waiting = loop {
        match rx.recv_timeout(WATCHDOG) {
            Ok(l) if l.contains("waiting for") => break l,
            Ok(_) => continue,
            Err(_) => {
                let _ = second.kill();
                let _ = second.wait();
                panic!("the second setup never said it was waiting for the lock");
            }
        }
    };
    assert!(
        waiting.contains(&format!("pid {pid}")) && waiting.contains("dockpoint"),
        "the wait message must name the holder's pid {pid} and command: {waiting}"
    );
    let first = holder.resume(pid);
    assert_eq!(first.code(), Some(0), "{}", first.all());
    let st = wait_bounded(&mut second, WATCHDOG, "second setup");
    let stderr2 = reader.join().unwrap();
    let stdout2 = out2.join().unwrap();
    assert_eq!(st.code(), Some(0), "{stdout2}\n{stderr2}");
    assert_eq!(read(&j.path("/etc/docker/daemon.json")), NEW_DAEMON);
}

// ----------------------------------------------------------------- stdout

/// Where stdout goes: a pipe whose reader is gone, or a full disk.
fn broken_stdout(kind: &str) -> Stdio {
    match kind {
        "closed pipe" => {
            let (r, w) = std::io::pipe().unwrap();
            drop(r);
            Stdio::from(w)
        }
        "/dev/full" => Stdio::from(
            fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        ),
        _ => unreachable!(),
    }
}

/// A broken pipe or a full disk on stdout: no panic (exit 101), an exit
/// code from the documented set, and the error said on stderr.
#[test]
fn a_failing_stdout_never_panics() {
    let j = jail_with_files();
    let root = j.root_arg().to_string();
    let log = "Error response from daemon: Cannot checkpoint container c: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0: unknown";
    let cases: Vec<(Vec<&str>, &[i32])> = vec![
        (
            vec![
                "setup",
                "--root",
                &root,
                "--yes",
                "--no-install",
                "--format",
                "json",
            ],
            &[0, 1],
        ),
        (
            vec!["setup", "--root", &root, "--yes", "--no-install"],
            &[0, 1],
        ),
        (vec!["setup", "--root", &root, "--dry-run"], &[0, 1]),
        (
            vec!["doctor", "--root", &root, "--format", "json"],
            &[0, 1, 3],
        ),
        (vec!["doctor", "--root", &root], &[0, 1, 3]),
        (vec!["explain", "--format", "json", log], &[0, 1]),
        (vec!["explain", log], &[0, 1]),
    ];
    let mut bad = Failures::default();
    for kind in ["closed pipe", "/dev/full"] {
        for (args, codes) in &cases {
            // setup has work to do each time.
            fs::write(j.path("/etc/docker/daemon.json"), OLD_DAEMON).unwrap();
            let mut c = Command::new(BIN);
            c.args(args)
                .env("NO_COLOR", "1")
                .stdin(Stdio::null())
                .stdout(broken_stdout(kind))
                .stderr(Stdio::piped());
            let what = format!("{} > {kind}", args.join(" "));
            let mut child = c.spawn().unwrap();
            let err = drain(child.stderr.take());
            let st = wait_bounded(&mut child, WATCHDOG, &what);
            let stderr = err.join().unwrap();
            let tail: String = stderr
                .lines()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            let mut why = Vec::new();
            if stderr.contains("panicked") {
                why.push("a panic".to_string());
            }
            if !st.code().is_some_and(|c| codes.contains(&c)) {
                why.push(format!("{st}, want an exit code in {codes:?}"));
            }
            let lower = stderr.to_lowercase();
            if !["stdout", "standard output", "broken pipe", "no space left"]
                .iter()
                .any(|w| lower.contains(w))
            {
                why.push("the failed output is not said on stderr".into());
            }
            bad.check(why.is_empty(), || {
                format!("{what}: {}; stderr ends:\n{tail}", why.join("; "))
            });
        }
    }
    bad.assert_none("a failing stdout");
}

// ---------------------------------------------------------- fault suite

/// tests/fault/run.sh: every write, fsync, rename, openat and
/// copy_file_range of a setup run failed in turn, and kill -9 at (a sample
/// of) every syscall; see the script for the invariants.
#[test]
fn fault_injection_suite() {
    if !need_root("fault_injection_suite") || !need_strace("fault_injection_suite") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fault/run.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .env("DOCKPOINT", BIN)
        .stdin(Stdio::null())
        .spawn()
        .expect("bash tests/fault/run.sh");
    // The suite bounds each case itself; this only turns a hang into a failure.
    let st = wait_bounded(
        &mut child,
        std::time::Duration::from_secs(1200),
        "tests/fault/run.sh",
    );
    assert!(
        st.success(),
        "the fault-injection suite failed ({st}): see its output above"
    );
}
