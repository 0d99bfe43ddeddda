//! `--root` is a chroot, not a prefix (security).
//!
//! Every test builds a temp dir `T` with the root at `T/box/R` and victims
//! outside it (`T/outside/...`, `T/daemon.json`, `T/x`: files whose every
//! line carries `SECRET-LINE`). The root gets a symlink layout that escapes
//! when paths are joined as a prefix (absolute links, `..` chains, dangling
//! links to new paths outside). After every command, all of `T` outside `R`
//! must be byte-, mode- and owner-identical with no new path, and no secret
//! line may appear in stdout or stderr. Where a link is meant inside the
//! image, the write must land where a chroot would put it.

mod common_faults;
use common_faults::*;
use std::fs;
use std::path::Path;

const YES: &[&str] = &["--yes", "--no-install", "--no-restart", "--format", "json"];

/// The generic docker error: explain then checks the root's runc.conf.
const GENERIC: &str = "Error response from daemon: Cannot checkpoint container c: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0: unknown";

/// A CRIU log line the catalogue knows as `ghost-file-limit`.
const INSIDE_LOG: &str = "(00.050000) Error (criu/files-reg.c:1000): Can't dump ghost file /tmp/jni.so of 5000000 size, increase limit\n";

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The read-only commands (dry runs, doctor, explain) on a layout: exit
/// codes as documented, nothing changed anywhere, no secret printed.
fn read_only_commands(j: &Jail, layout: &str) {
    let before = j.snapshot_outside();
    let root_before = snapshot(&j.root, &[]);
    let runs: Vec<(&str, Out, &[i32])> = vec![
        (
            "setup --dry-run --format json",
            j.setup(&["--dry-run", "--no-install", "--format", "json"]),
            &[0, 1],
        ),
        (
            "setup --dry-run",
            j.setup(&["--dry-run", "--no-install"]),
            &[0, 1],
        ),
        (
            "setup --dry-run --repair --format json",
            j.setup(&["--dry-run", "--no-install", "--repair", "--format", "json"]),
            &[0, 1],
        ),
        (
            "doctor --format json",
            j.doctor(&["--format", "json"]),
            &[0, 1, 3],
        ),
        ("doctor -v", j.doctor(&["-v"]), &[0, 1, 3]),
        ("explain", j.explain(&[GENERIC]), &[0, 1]),
    ];
    for (what, out, codes) in &runs {
        let ctx = format!("{layout}: {what}");
        out.assert_exit_in(codes);
        out.assert_no_secret();
        j.assert_outside_unchanged(&before, &ctx);
        assert_same(&root_before, &snapshot(&j.root, &[]), &ctx);
    }
}

/// `setup --yes` (and with `--repair`, on a fresh jail): exit 0, the files
/// written where a chroot puts them, nothing outside touched.
fn real_runs(
    build: &dyn Fn(&Jail),
    layout: &str,
    daemon_at: &dyn Fn(&Jail) -> String,
    runc_at: &dyn Fn(&Jail) -> String,
) {
    for extra in [&[][..], &["--repair"][..]] {
        let j = Jail::new();
        build(&j);
        let before = j.snapshot_outside();
        let args = [YES, extra].concat();
        let out = j.setup(&args);
        let ctx = format!("{layout}: setup {}", args.join(" "));
        j.assert_outside_unchanged(&before, &ctx);
        out.assert_no_secret();
        assert_eq!(out.code(), Some(0), "{ctx}:\n{}", out.all());
        let d = j.path(&daemon_at(&j));
        let v: serde_json::Value = serde_json::from_str(&read(&d))
            .unwrap_or_else(|e| panic!("{ctx}: {} is not JSON: {e}", d.display()));
        assert_eq!(
            v["experimental"],
            true,
            "{ctx}: daemon.json must be written at {}",
            d.display()
        );
        let r = j.path(&runc_at(&j));
        assert!(
            read(&r).lines().any(|l| l == "tcp-established"),
            "{ctx}: runc.conf must be written at {}",
            r.display()
        );
        // A second run finds it done and still touches nothing outside.
        let again = j.setup(&args);
        again.assert_no_secret();
        j.assert_outside_unchanged(&before, &format!("{ctx} (second run)"));
        assert_eq!(
            again.code(),
            Some(0),
            "{ctx} (second run):\n{}",
            again.all()
        );
        assert_eq!(again.json()["changed"], false, "{ctx}: {}", again.all());
    }
}

fn check_layout(
    layout: &str,
    build: &dyn Fn(&Jail),
    daemon_at: &dyn Fn(&Jail) -> String,
    runc_at: &dyn Fn(&Jail) -> String,
) {
    let j = Jail::new();
    build(&j);
    read_only_commands(&j, layout);
    real_runs(build, layout, daemon_at, runc_at);
}

/// `T/outside` as a string: an absolute path of this machine, and where a
/// chroot finds it inside the root.
fn o(j: &Jail) -> String {
    j.outside.to_str().unwrap().to_string()
}

fn std_daemon(_: &Jail) -> String {
    "/etc/docker/daemon.json".into()
}

fn std_runc(_: &Jail) -> String {
    "/etc/criu/runc.conf".into()
}

#[test]
fn etc_docker_is_an_absolute_link_to_an_outside_dir() {
    check_layout(
        "etc/docker -> T/outside",
        &|j| j.link("/etc/docker", &j.outside),
        &|j| format!("{}/daemon.json", o(j)),
        &std_runc,
    );
}

#[test]
fn etc_is_an_absolute_link_to_an_outside_dir() {
    check_layout(
        "etc -> T/outside",
        &|j| {
            fs::remove_dir_all(j.path("/etc")).unwrap();
            j.link("/etc", &j.outside);
        },
        &|j| format!("{}/docker/daemon.json", o(j)),
        &|j| format!("{}/criu/runc.conf", o(j)),
    );
}

#[test]
fn etc_docker_is_a_dotdot_chain_above_the_root() {
    // From R/etc, ../../.. is T: a prefix join writes T/daemon.json.
    check_layout(
        "etc/docker -> ../../..",
        &|j| j.link("/etc/docker", "../../.."),
        &|_| "/daemon.json".into(),
        &std_runc,
    );
}

#[test]
fn etc_docker_is_an_absolute_link_with_dotdots() {
    // Joined onto R as a prefix, /../../outside is T/outside.
    check_layout(
        "etc/docker -> /../../outside",
        &|j| j.link("/etc/docker", "/../../outside"),
        &|_| "/outside/daemon.json".into(),
        &std_runc,
    );
}

#[test]
fn etc_docker_is_an_absolute_link_with_dotdots_and_the_outside_path() {
    check_layout(
        "etc/docker -> /../../../<T>/outside",
        &|j| j.link("/etc/docker", format!("/../../..{}", o(j))),
        &|j| format!("{}/daemon.json", o(j)),
        &std_runc,
    );
}

#[test]
fn etc_docker_is_a_relative_link_out_of_the_root() {
    check_layout(
        "etc/docker -> ../../../outside",
        &|j| j.link("/etc/docker", "../../../outside"),
        &|_| "/outside/daemon.json".into(),
        &std_runc,
    );
}

#[test]
fn runc_conf_is_a_relative_link_out_of_the_root() {
    // From R/etc/criu, ../../../../x is T/x.
    check_layout(
        "etc/criu/runc.conf -> ../../../../x",
        &|j| j.link("/etc/criu/runc.conf", "../../../../x"),
        &std_daemon,
        &|_| "/x".into(),
    );
}

#[test]
fn runc_conf_is_a_relative_link_to_an_outside_file() {
    check_layout(
        "etc/criu/runc.conf -> ../../../../outside/runc.conf",
        &|j| j.link("/etc/criu/runc.conf", "../../../../outside/runc.conf"),
        &std_daemon,
        &|_| "/outside/runc.conf".into(),
    );
}

#[test]
fn runc_conf_is_an_absolute_link_with_dotdots() {
    check_layout(
        "etc/criu/runc.conf -> /../../outside/runc.conf",
        &|j| j.link("/etc/criu/runc.conf", "/../../outside/runc.conf"),
        &std_daemon,
        &|_| "/outside/runc.conf".into(),
    );
}

#[test]
fn etc_criu_is_an_absolute_link_to_an_outside_dir() {
    check_layout(
        "etc/criu -> T/outside",
        &|j| j.link("/etc/criu", &j.outside),
        &std_daemon,
        &|j| format!("{}/runc.conf", o(j)),
    );
}

#[test]
fn daemon_json_is_an_absolute_link_to_an_outside_file() {
    check_layout(
        "etc/docker/daemon.json -> T/outside/daemon.json",
        &|j| j.link("/etc/docker/daemon.json", j.outside.join("daemon.json")),
        &|j| format!("{}/daemon.json", o(j)),
        &std_runc,
    );
}

#[test]
fn etc_docker_is_a_dangling_link_to_a_new_outside_dir() {
    check_layout(
        "etc/docker -> T/outside/newdir (dangling)",
        &|j| j.link("/etc/docker", j.outside.join("newdir")),
        &|j| format!("{}/newdir/daemon.json", o(j)),
        &std_runc,
    );
}

#[test]
fn daemon_json_is_a_dangling_link_to_a_new_outside_file() {
    check_layout(
        "etc/docker/daemon.json -> T/outside/new.json (dangling)",
        &|j| j.link("/etc/docker/daemon.json", j.outside.join("new.json")),
        &|j| format!("{}/new.json", o(j)),
        &std_runc,
    );
}

#[test]
fn runc_conf_is_a_dangling_relative_link_to_a_new_outside_path() {
    check_layout(
        "etc/criu/runc.conf -> ../../../../outside/new/runc.conf (dangling)",
        &|j| j.link("/etc/criu/runc.conf", "../../../../outside/new/runc.conf"),
        &std_daemon,
        &|_| "/outside/new/runc.conf".into(),
    );
}

#[test]
fn a_chain_of_links_inside_the_root_escapes_at_its_end() {
    check_layout(
        "etc/docker -> /a, a -> ../../outside",
        &|j| {
            j.link("/etc/docker", "/a");
            j.link("/a", "../../outside");
        },
        &|_| "/outside/daemon.json".into(),
        &std_runc,
    );
}

/// An image whose `etc/docker -> /srv/dockercfg` means its own /srv: the
/// write lands there (it failed when links were followed on the machine).
#[test]
fn a_link_meant_inside_the_image_is_followed_inside_the_image() {
    for existing in [true, false] {
        let j = Jail::new();
        j.mkdir("/srv/dockercfg");
        if existing {
            j.write("/srv/dockercfg/daemon.json", "{\"debug\": true}\n");
        }
        j.link("/etc/docker", "/srv/dockercfg");
        j.mkdir("/srv/criucfg");
        j.link("/etc/criu", "../srv/criucfg");
        let before = j.snapshot_outside();
        let out = j.setup(YES);
        let ctx = format!("existing daemon.json: {existing}");
        assert_eq!(out.code(), Some(0), "{ctx}:\n{}", out.all());
        j.assert_outside_unchanged(&before, &ctx);
        let want = if existing {
            "{\"debug\": true, \"experimental\": true}\n"
        } else {
            "{\n  \"experimental\": true\n}\n"
        };
        assert_eq!(read(&j.path("/srv/dockercfg/daemon.json")), want, "{ctx}");
        assert_eq!(read(&j.path("/srv/criucfg/runc.conf")), "tcp-established\n");
        for l in ["/etc/docker", "/etc/criu"] {
            assert!(
                fs::symlink_metadata(j.path(l))
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "{ctx}: {l} must stay a link"
            );
        }
        if existing {
            let b = backups(&j.path("/srv/dockercfg"), "daemon.json");
            assert_eq!(b.len(), 1, "{ctx}: {b:?}");
            assert_eq!(
                read(&j.path(&format!("/srv/dockercfg/{}", b[0]))),
                "{\"debug\": true}\n"
            );
        }
        // The doctor reads the same files through the same links.
        let doc = j.doctor(&["--format", "json"]);
        doc.assert_exit_in(&[0, 1, 3]);
        let checks = doc.json()["checks"].as_array().unwrap().clone();
        for id in ["daemon-json.experimental", "runc-conf.tcp-established"] {
            let c = checks
                .iter()
                .find(|c| c["id"] == id)
                .unwrap_or_else(|| panic!("no check {id}:\n{}", doc.all()));
            assert_eq!(c["status"], "pass", "{ctx}: {c}");
        }
        j.assert_outside_unchanged(&before, &ctx);
    }
}

/// Lays out a jail's root.
type Build = Box<dyn Fn(&Jail)>;

const ALPINE: &str =
    "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";

/// `R/etc/os-release -> /usr/lib/os-release` names the image's distro, not
/// the machine's (and a link out of the root never reads the outside file).
#[test]
fn os_release_links_resolve_inside_the_image() {
    let cases: Vec<(&str, Build)> = vec![
        (
            "etc/os-release -> /usr/lib/os-release",
            Box::new(|j| {
                j.write("/usr/lib/os-release", ALPINE);
                j.link("/etc/os-release", "/usr/lib/os-release");
            }),
        ),
        (
            "etc/os-release -> ../usr/lib/os-release",
            Box::new(|j| {
                j.write("/usr/lib/os-release", ALPINE);
                j.link("/etc/os-release", "../usr/lib/os-release");
            }),
        ),
        (
            "etc/os-release -> T/outside/os-release",
            Box::new(|j| {
                j.write(&format!("{}/os-release", o(j)), ALPINE);
                j.link("/etc/os-release", j.outside.join("os-release"));
            }),
        ),
        (
            "etc/os-release -> ../../../outside/os-release",
            Box::new(|j| {
                j.write("/outside/os-release", ALPINE);
                j.link("/etc/os-release", "../../../outside/os-release");
            }),
        ),
        (
            "etc -> T/outside/etc, no os-release in the image's /etc",
            Box::new(|j| {
                fs::remove_dir_all(j.path("/etc")).unwrap();
                j.link("/etc", j.outside.join("etc"));
                j.write("/usr/lib/os-release", ALPINE);
            }),
        ),
    ];
    for (name, build) in cases {
        let j = Jail::new();
        build(&j);
        let before = j.snapshot_outside();
        let dry = j.setup(&["--dry-run", "--no-install", "--format", "json"]);
        dry.assert_exit_in(&[0, 1]);
        dry.assert_no_secret();
        assert_eq!(
            dry.json()["host"]["distro"]["id"],
            "alpine",
            "{name}:\n{}",
            dry.all()
        );
        assert_eq!(dry.json()["host"]["distro"]["family"], "alpine", "{name}");
        let human = j.setup(&["--dry-run", "--no-install"]);
        human.assert_no_secret();
        assert!(
            human.all().contains("Alpine Linux v3.20"),
            "{name}: the image's distro must be named:\n{}",
            human.all()
        );
        let doc = j.doctor(&["--format", "json"]);
        doc.assert_exit_in(&[0, 1, 3]);
        doc.assert_no_secret();
        let distro = doc.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "host.distro")
            .cloned()
            .unwrap_or_else(|| panic!("no host.distro:\n{}", doc.all()));
        assert!(
            distro["message"].as_str().unwrap_or("").contains("Alpine"),
            "{name}: doctor must name the image's distro: {distro}"
        );
        j.assert_outside_unchanged(&before, name);
    }
}

fn diagnosis_ids(out: &Out) -> Vec<String> {
    out.json()["diagnoses"]
        .as_array()
        .unwrap_or_else(|| panic!("no diagnoses:\n{}", out.all()))
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// `explain --root R` reads the CRIU log named after `path=` inside R:
/// `..` cannot climb out, and an absolute path is the image's, not the
/// machine's.
#[test]
fn explain_reads_the_named_log_inside_the_root() {
    let named = |j: &Jail| -> Vec<(String, String)> {
        vec![
            ("/../../outside/x.log".into(), "/outside/x.log".into()),
            (format!("{}/x.log", o(j)), format!("{}/x.log", o(j))),
            (
                format!("/../../../..{}/x.log", o(j)),
                format!("{}/x.log", o(j)),
            ),
        ]
    };
    for inside in [true, false] {
        let j = Jail::new();
        for (path, lands) in named(&j) {
            if inside {
                j.write(&lands, INSIDE_LOG);
            }
            let before = j.snapshot_outside();
            let text = format!("criu failed: type NOTIFY errno 0 path= {path}: unknown");
            for format in ["json", "human"] {
                let out = j.explain(&["--format", format, &text]);
                let ctx = format!("path= {path} (log inside the root: {inside}), {format}");
                out.assert_exit_in(&[0, 1]);
                out.assert_no_secret();
                j.assert_outside_unchanged(&before, &ctx);
                assert!(
                    !out.stdout.contains("Connected TCP socket"),
                    "{ctx}: the machine's log was read:\n{}",
                    out.all()
                );
                if format == "json" {
                    let ids = diagnosis_ids(&out);
                    let read: Vec<String> = out.json()["logs_read"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string())
                        .collect();
                    if inside {
                        assert!(
                            ids.iter().any(|i| i == "ghost-file-limit"),
                            "{ctx}: the image's log must be read:\n{}",
                            out.all()
                        );
                        assert_eq!(read.len(), 1, "{ctx}:\n{}", out.all());
                    } else {
                        assert!(read.is_empty(), "{ctx}: read {read:?}:\n{}", out.all());
                    }
                }
            }
        }
    }
}

/// A log named in the text that is a link out of the root is not read.
#[test]
fn explain_does_not_follow_a_log_link_out_of_the_root() {
    for target in ["ABS", "../../../../outside/x.log", "/../../outside/x.log"] {
        let j = Jail::new();
        let t = if target == "ABS" {
            j.outside.join("x.log").to_str().unwrap().to_string()
        } else {
            target.to_string()
        };
        j.link("/var/log/criu/dump.log", &t);
        let before = j.snapshot_outside();
        for format in ["json", "human"] {
            let out = j.explain(&[
                "--format",
                format,
                "criu failed: type NOTIFY errno 0 path= /var/log/criu/dump.log: unknown",
            ]);
            out.assert_exit_in(&[0, 1]);
            out.assert_no_secret();
            assert!(
                !out.stdout.contains("Connected TCP socket"),
                "dump.log -> {t}: the outside log was read:\n{}",
                out.all()
            );
            j.assert_outside_unchanged(&before, &t);
        }
    }
}

/// explain's check of the root's runc.conf (the generic message) reads the
/// image's file through its links, never an outside one.
#[test]
fn explain_checks_the_images_runc_conf() {
    let j = Jail::new();
    j.mkdir("/srv/criucfg");
    j.write("/srv/criucfg/runc.conf", "tcp-established\n");
    j.link("/etc/criu", "/srv/criucfg");
    let out = j.explain(&["--format", "json", GENERIC]);
    out.assert_exit_in(&[0]);
    let d = &out.json()["diagnoses"][0];
    assert_eq!(d["id"], "tcp-established-missing", "{}", out.all());
    assert_eq!(
        d["confidence"],
        "possible",
        "the image's runc.conf has tcp-established:\n{}",
        out.all()
    );
}
