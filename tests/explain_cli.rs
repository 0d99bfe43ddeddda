//! `dockpoint explain` on realistic texts: every catalogue id on several
//! variants (docker output, journal lines with escaped quotes, CRIU log
//! lines), the texts captured on the real e2e hosts, CRIU logs named in the
//! text, the generic message, noise, and megabytes of input.

mod common;
use common::*;
use std::io::Write;

fn explain(args: &[&str]) -> Run {
    let mut all = vec!["explain", "--format", "json"];
    all.extend_from_slice(args);
    run(&all)
}

fn ids(r: &Run) -> Vec<String> {
    r.json()["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

/// (id, variants): each variant must be diagnosed as id, first.
const VARIANTS: &[(&str, &[&str])] = &[
    (
        "tcp-established-missing",
        &[
            "(00.040444) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.",
            "Error (sk-inet.c:188): Connected TCP socket, consider using --tcp-established option.",
        ],
    ),
    (
        "container-auto-removed",
        &[
            "Error response from daemon: Cannot checkpoint container bela: failed to read checkpoint reader: open /var/lib/docker/containers/3f2a/checkpoints/c1/cgroup.img: no such file or directory",
            "Error response from daemon: Cannot checkpoint container x: failed to read checkpoint reader: failed to Lchown \"/var/lib/docker/containers/ab/checkpoints/cp/pages-1.img\" for UID 0, GID 0: lchown /var/lib/docker/containers/ab/checkpoints/cp/pages-1.img: no such file or directory",
            "Error response from daemon: container is marked for removal and cannot be started",
        ],
    ),
    (
        "experimental-disabled",
        &[
            "docker checkpoint create is only supported on a Docker daemon with experimental features enabled",
            "\"--checkpoint\" is only supported on a Docker daemon with experimental features enabled",
            "Error response from daemon: checkpoint is only supported in experimental mode",
            "Error response from daemon: This experimental feature is disabled by default. Start the Docker daemon in experimental mode in order to enable it.",
            "docker checkpoint create is only supported on a Docker cli with experimental cli features enabled",
        ],
    ),
    (
        "criu-not-found",
        &[
            "Error response from daemon: Cannot checkpoint container c: runc did not terminate successfully: exit status 1: CRIU version check failed: exec: \"criu\": executable file not found in $PATH: unknown",
            "time=\"2026-11-25T09:00:00Z\" level=error msg=\"Handler for POST /v1.45/containers/c/checkpoints returned error: Cannot checkpoint container c: runc did not terminate sucessfully: CRIU version check failed: exec: \\\"criu\\\": executable file not found in $PATH\"",
        ],
    ),
    (
        "criu-too-old",
        &[
            "Error response from daemon: Cannot checkpoint container c: CRIU version 20600 must be 30000 or higher",
            "criu version check failed: CRIU version 31000 must be 31100 or higher",
        ],
    ),
    (
        "criu-kernel-too-new",
        &[
            "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds",
            "(00.000512) Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.",
            "Error (criu/crtools.c:260): Could not initialize kernel features detection.",
        ],
    ),
    (
        "criu-socket-options",
        &[
            "(00.065903) Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported",
            "Error (criu/sockets.c:630): sockets: Can't get 1:34 opt: Operation not supported",
        ],
    ),
    (
        "rseq-unsupported",
        &[
            "Error (criu/cr-dump.c:1044): Task 1234 has rseq but kernel lacks get_rseq_conf feature",
            "Error (criu/cr-restore.c:2447): restore: 1234 killed by signal 11: Segmentation fault",
        ],
    ),
    (
        "criu-no-capability",
        &[
            "Error (criu/crtools.c:243): CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability: ",
            "Error (criu/crtools.c:280): Running as non-root requires '--unprivileged'",
        ],
    ),
    (
        "runc-conf-invalid",
        &[
            "criu failed: type NOTIFY errno 0\ncriu: unrecognized option '----tcp-established'",
            "criu: unrecognized option '--tcp-establised'",
            "Unsupported configuration file format. Please consult man page criu(8)",
        ],
    ),
    (
        "daemon-flag-conflict",
        &[
            "unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives are specified both as a flag and in the configuration file: experimental: (from flag: true, from file: true)",
            "dockerd[811]: time=\"2026-11-25T09:00:00Z\" level=fatal msg=\"the following directives are specified both as a flag and in the configuration file: experimental: (from flag: true, from file: true)\"",
        ],
    ),
    (
        "daemon-json-invalid",
        &[
            "unable to configure the Docker daemon with file /etc/docker/daemon.json: invalid character '/' looking for beginning of object key string",
            "failed to start daemon: json: cannot unmarshal string into Go struct field Config.experimental of type bool",
            "the following directives don't match any configuration option: experimantal",
            "unable to configure the Docker daemon with file /etc/docker/daemon.json: EOF",
        ],
    ),
    (
        "docker-not-linux",
        &[
            "Error response from daemon: docker checkpoint is only supported on a Docker daemon running on linux",
            "Windows: Containers do not support checkpoints",
        ],
    ),
    (
        "container-tty",
        &[
            "(00.021) Error (criu/mount.c:1087): mnt: ./dev/console doesn't have a proper root mount",
            "Error (criu/cr-dump.c:1333): Task attached to shell terminal. Consider using --shell-job option. More details on http://criu.org/Simple_loop",
            "Error (criu/tty.c:1014): tty: Don't have tty to inherit session from, aborting",
        ],
    ),
    (
        "ghost-file-limit",
        &[
            "Error (criu/files-reg.c:1026): Can't dump ghost file /tmp/libnetty_transport_native_epoll_x86_64123.so of 2073672 size, increase limit",
        ],
    ),
    (
        "in-flight-connections",
        &[
            "Error (criu/sk-inet.c:190): In-flight connection (l) for 1234:11",
            "Error (criu/sk-inet.c:198): In-flight connections can be ignored with the --skip-in-flight option.",
        ],
    ),
    (
        "external-unix-socket",
        &[
            "Error (criu/sk-unix.c:789): unix: External socket is used. Consider using --ext-unix-sk option.",
            "Error (criu/sk-unix.c:655): unix: Can't dump half of stream unix connection.",
        ],
    ),
    (
        "network-lock-failed",
        &[
            "Error (criu/util.c:626): execvp(\"iptables-restore\", ...) failed: No such file or directory",
            "iptables-restore: invalid option -- 'w'",
            "Error (criu/netfilter.c:88): CHAIN_ADD failed",
            "Error: CHAIN_USER_DEL failed (Device or resource busy): chain CRIU",
            "Error (criu/net.c:3136): Nftables based locking requires libnftables and set concatenations support",
        ],
    ),
    (
        "apparmor-denied",
        &[
            "Error (compel/src/lib/infect.c:1513): Unable to connect a transport socket: Permission denied",
            "Error (criu/lsm.c:265): can't write lsm profile",
            "kernel: audit: type=1400 apparmor=\"DENIED\" operation=\"connect\" profile=\"docker-default\"",
            "Error (criu/lsm.c:82): err scanfing: Invalid argument",
        ],
    ),
    (
        "overlayfs-mount-id",
        &["Error (criu/files-reg.c:1719): Can't lookup mount=795 for fd=-3 path=/bin/sh"],
    ),
    (
        "mptcp-socket",
        &["Error (criu/sockets.c:750): inet: Unsupported proto 262 for socket 1234"],
    ),
    (
        "seccomp-suspend",
        &["Error (compel/src/lib/infect.c:357): suspending seccomp failed: Invalid argument"],
    ),
    (
        "freezer-unsupported",
        &[
            "Error response from daemon: Cannot checkpoint container c: OCI runtime pause failed: freezer not supported: openat2 /sys/fs/cgroup/system.slice/docker-1.scope/cgroup.freeze: no such file or directory: unknown",
        ],
    ),
    (
        "container-not-running",
        &[
            "Error response from daemon: Cannot checkpoint container bela: container 3f2a9c is not running",
        ],
    ),
    (
        "checkpoint-exists",
        &["Error response from daemon: checkpoint with name cp1 already exists for container bela"],
    ),
    (
        "checkpoint-not-found",
        &[
            "Error response from daemon: checkpoint cp9 does not exist for container bela",
            "Error response from daemon: invalid checkpoint ID",
        ],
    ),
    (
        "restore-content-exists",
        &[
            "Error response from daemon: failed to upload checkpoint to containerd: commit failed: content sha256:5d41402abc4b2a76b9719d911017c592ae1d2b7c4d2b5c5f0b1e5e5a5c5d5e5f: already exists",
        ],
    ),
    (
        "restore-digest-not-found",
        &[
            "Error response from daemon: failed to create task for container: content digest sha256:abc123: not found: unknown",
        ],
    ),
    (
        "restore-netns",
        &[
            "Error response from daemon: failed to create task: bind-mount /proc/0/ns/net -> /var/run/docker/netns/1a2b3c: no such file or directory",
        ],
    ),
    (
        "restore-custom-dir",
        &["Error response from daemon: custom checkpointdir is not supported"],
    ),
    (
        "restore-address-in-use",
        &[
            "Error (criu/sk-inet.c:835): inet: Can't bind inet socket (id 115): Cannot assign requested address",
            "Error (criu/sk-inet.c:960): inet: Can't connect inet socket back",
        ],
    ),
    (
        "cpu-mismatch",
        &[
            "Error (criu/arch/x86/cpu.c:412): cpu: FPU feature required by image is not supported on host (avx512f)",
            "Error (criu/cpu.c:133): CPU instruction capabilities do not match run time",
        ],
    ),
    (
        "restore-silently-skipped",
        &["$ docker start --checkpoint cp1 bela\n$ echo $?\n0"],
    ),
    (
        "loopback-down",
        &[
            "Error (criu/kerndat.c:870): kerndat_tcp_repair failed",
            "Error (criu/sk-inet.c:1005): Unable to bind a socket: Cannot assign requested address",
        ],
    ),
    (
        "container-gone",
        &["Error response from daemon: No such container: rm1"],
    ),
    (
        "criu-check-failed",
        &[
            "Error (criu/cr-check.c:124): /proc/<pid>/map_files is inaccessible: No such file or directory\nWarn  (criu/cr-check.c:1632): Does not look good.",
            "Error (criu/cr-check.c:191): System call kcmp is not supported: Function not implemented",
        ],
    ),
    (
        "file-locks",
        &[
            "(00.151002) Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks! You can try --file-locks to dump them.",
        ],
    ),
    (
        "file-changed",
        &[
            "(00.412233)      1: Error (criu/files-reg.c:2175): File var/lib/bela/journal.0007 has bad size 20971520 (expect 18874368)",
        ],
    ),
    (
        "tcp-close-needed",
        &[
            "(00.000861) Error (criu/image.c:94): Need to set the --tcp-close options.",
            "need to set the --tcp-close option",
        ],
    ),
    (
        "criu-mount-propagation",
        &[
            "(00.233410)      1: Error (criu/mount-v2.c:983): mnt-v2: Failed to make mount 402 slave: Invalid argument",
        ],
    ),
];

#[test]
fn every_catalogue_id_has_variants_and_is_recognised() {
    let catalogue: Vec<&str> = dockpoint::explain::catalogue::CATALOGUE
        .iter()
        .map(|e| e.id)
        .collect();
    for id in &catalogue {
        assert!(
            VARIANTS.iter().any(|(v, _)| v == id),
            "no variants for {id}"
        );
    }
    let r = Root::new();
    for (id, variants) in VARIANTS {
        for v in *variants {
            let out = explain(&["--root", r.dir.path().to_str().unwrap(), v]);
            assert_eq!(out.code, 0, "{id}: {v}\n{}", out.all());
            let got = ids(&out);
            assert_eq!(got[0], *id, "{v}: got {got:?}");
            let d = &out.json()["diagnoses"][0];
            for k in ["id", "title", "matched", "cause", "fix"] {
                assert!(d.get(k).is_some(), "{id}: no {k}");
            }
            assert!(!d["fix"].as_array().unwrap().is_empty());
        }
    }
}

/// The ids the project must cover, kept in the repository (the shared
/// failure catalogue they come from is not beside every clone).
fn required_ids() -> Vec<String> {
    let text = std::fs::read_to_string(fx("explain/catalogue-ids.txt")).unwrap();
    text.lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn fx(rel: &str) -> String {
    format!("{}/tests/fixtures/{rel}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_ids_of_the_failure_catalogue_are_all_here() {
    let ours: Vec<&str> = dockpoint::explain::catalogue::CATALOGUE
        .iter()
        .map(|e| e.id)
        .collect();
    let ids = required_ids();
    assert!(ids.len() >= 34, "{ids:?}");
    for id in &ids {
        assert!(
            ours.contains(&id.as_str()),
            "{id} from catalogue-ids.txt is not in the catalogue"
        );
    }
    assert!(ids.iter().any(|i| i == "loopback-down"));
}

#[test]
fn texts_captured_on_the_real_hosts() {
    let fx = |n: &str| format!("{}/tests/fixtures/captured/{n}", env!("CARGO_MANIFEST_DIR"));
    let r = Root::new();
    let root = r.dir.path().to_str().unwrap();
    for (file, id) in [
        ("d13-experimental-off.txt", "experimental-disabled"),
        ("d13-criu-missing.txt", "criu-not-found"),
        ("d12-criu3171-check.txt", "criu-kernel-too-new"),
        ("d13-criu411-criu-dump.log", "criu-socket-options"),
        (
            "d13-criu421-no-tcp-established-criu-dump.log",
            "tcp-established-missing",
        ),
        (
            "d13-criu421-no-tcp-established.txt",
            "tcp-established-missing",
        ),
        ("d13-criu411-tcp-checkpoint.txt", "tcp-established-missing"),
        ("d13-rm-container.txt", "container-gone"),
    ] {
        let out = explain(&["--root", root, "--file", &fx(file)]);
        assert_eq!(out.code, 0, "{file}: {}", out.all());
        assert_eq!(ids(&out)[0], id, "{file}");
    }
    // The harmless rlimit line of a real log is not blamed.
    let out = explain(&["--root", root, "--file", &fx("d13-criu411-criu-dump.log")]);
    assert!(!out.stdout.contains("RLIMIT_NOFILE"), "{}", out.stdout);
    // With the docker error AND its log, the log's specific cause leads.
    let out = explain(&[
        "--root",
        root,
        "--file",
        &fx("d13-criu411-tcp-checkpoint.txt"),
        "--file",
        &fx("d13-criu411-criu-dump.log"),
    ]);
    let got = ids(&out);
    assert_eq!(got[0], "criu-socket-options", "{got:?}");
    assert!(
        !got.contains(&"tcp-established-missing".to_string()),
        "{got:?}"
    );
    assert!(out.stdout.contains("is generic"));
}

#[test]
fn a_criu_log_named_in_the_text_is_read() {
    let r = Root::new();
    let log = "/run/containerd/io.containerd.runtime.v2.task/moby/0123abc/criu-dump.log";
    r.write(
        log,
        "(00.001) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n(00.002) Warn  (compel/src/lib/infect.c:129): Will restore 7 with interrupted system call\n(00.040444) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.\n(00.04) Error (criu/cr-dump.c:1545): Dump files (pid: 1970) failed with -1\n",
    );
    let text = format!(
        "Error response from daemon: Cannot checkpoint container bela: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0 path= {log}: unknown"
    );
    let out = explain(&["--root", r.dir.path().to_str().unwrap(), &text]);
    assert_eq!(out.code, 0);
    let j = out.json();
    assert_eq!(j["logs_read"][0], log);
    assert_eq!(j["diagnoses"][0]["id"], "tcp-established-missing");
    assert_eq!(j["diagnoses"][0]["confidence"], "certain");
    assert_eq!(j["diagnoses"][0]["source"], log);
    assert_eq!(
        j["diagnoses"].as_array().unwrap().len(),
        1,
        "noise is not blamed"
    );
    // The same in journald's form, with escaped quotes and `type DUMP`.
    let journal = format!(
        "Nov 25 09:00:00 host dockerd[811]: time=\"2026-11-25T09:00:00Z\" level=error msg=\"Handler for POST /v1.45/containers/bela/checkpoints returned error: Cannot checkpoint container bela: runc did not terminate successfully: exit status 1: criu failed: type DUMP errno 0 path= {log}: unknown\""
    );
    let human = run(&[
        "explain",
        "--root",
        r.dir.path().to_str().unwrap(),
        &journal,
    ]);
    assert!(
        human.stdout.contains(&format!("read the CRIU log {log}")),
        "{}",
        human.stdout
    );
}

#[test]
fn the_bare_generic_message_leads_with_tcp_established_and_checks_runc_conf() {
    let generic = "Error response from daemon: Cannot checkpoint container bela: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0 path= /run/containerd/io.containerd.runtime.v2.task/moby/gone/criu-dump.log: unknown";
    let r = Root::new();
    let root = r.dir.path().to_str().unwrap();
    let out = explain(&["--root", root, generic]);
    assert_eq!(out.code, 0);
    let d = &out.json()["diagnoses"][0];
    assert_eq!(d["id"], "tcp-established-missing");
    assert_eq!(d["confidence"], "likely");
    let notes = d["notes"].to_string();
    assert!(notes.contains("generic"), "{notes}");
    assert!(notes.contains("no /etc/criu/runc.conf"), "{notes}");
    assert!(notes.contains("could not read the CRIU log"), "{notes}");
    // With tcp-established set on this host, it is demoted and says so.
    r.write("/etc/criu/runc.conf", "tcp-established\n");
    let out = explain(&["--root", root, generic]);
    let d = &out.json()["diagnoses"][0];
    assert_eq!(d["confidence"], "possible");
    assert!(d["notes"].to_string().contains("has tcp-established"));
    // `sucessfully` and `type DUMP` are the same message.
    let old = generic
        .replace("successfully", "sucessfully")
        .replace("NOTIFY", "DUMP");
    assert_eq!(
        ids(&explain(&["--root", root, &old]))[0],
        "tcp-established-missing"
    );
}

#[test]
fn nothing_recognised_says_what_to_send() {
    let out = run(&["explain", "everything is fine"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("criu-dump.log"), "{}", out.stdout);
    let noise = "(00.001) Error (criu/util.c:1534): rlimit: Can't setup RLIMIT_NOFILE for self: Operation not permitted\n(00.002) Warn  (compel/src/lib/infect.c:129): Will restore 7 with interrupted system call\n(00.003) Set CLONE_PARENT | CLONE_NEWPID but it might cause restore problem";
    assert_eq!(explain(&[noise]).code, 1);
}

#[test]
fn stdin_and_megabytes_stream() {
    let mut child = std::process::Command::new(BIN)
        .args(["explain", "--format", "json"])
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        let noise = "Nov 25 09:00:00 host dockerd[811]: time=\"2026-11-25T09:00:00Z\" level=info msg=\"API listen on /run/docker.sock\"\n";
        for _ in 0..60_000 {
            stdin.write_all(noise.as_bytes()).unwrap();
        }
        stdin
            .write_all(b"dockerd[811]: level=error msg=\"checkpoint with name cp1 already exists for container bela\"\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["diagnoses"][0]["id"], "checkpoint-exists");
    assert_eq!(j["format_version"], 1);
}

#[test]
fn usage() {
    let r = run(&["explain", "--file", "/nonexistent/file"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/file"));
}

// ---------------------------------------------------------------------------
// Real-world texts: the classes of messages public trackers show.

fn diag<'a>(j: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    j["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
}

fn explain_in(root: &Root, args: &[&str]) -> Run {
    let mut all = vec!["--root", root.dir.path().to_str().unwrap()];
    all.extend_from_slice(args);
    explain(&all)
}

#[test]
fn harmless_iptables_restore_lines_never_outrank_the_real_error() {
    let r = Root::new();
    // Unlock noise (nf_tables and legacy iptables-restore) printed before
    // the real error, in a CRIU log and in a journal.
    for (file, real) in [
        (
            "explain/unlock-noise-then-unix-socket.log",
            "external-unix-socket",
        ),
        (
            "explain/unlock-noise-journal.txt",
            "tcp-established-missing",
        ),
    ] {
        let out = explain_in(&r, &["--file", &fx(file)]);
        assert_eq!(out.code, 0, "{}", out.all());
        let j = out.json();
        assert_eq!(ids(&out)[0], real, "{file}: {:?}", ids(&out));
        assert_eq!(j["diagnoses"][0]["confidence"], "certain");
        if let Some(d) = diag(&j, "network-lock-failed") {
            assert_eq!(d["confidence"], "possible", "{file}: {d}");
            assert!(d["notes"].to_string().contains("unlock"), "{d}");
        }
    }
    // The same noise after the error, inline.
    let text = "(00.071200) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.\n(00.072001) Unlock network\niptables-restore v1.8.7 (nf_tables): CHAIN_USER_DEL failed (Device or resource busy): chain CRIU";
    assert_eq!(ids(&explain_in(&r, &[text]))[0], "tcp-established-missing");
    // Alone, the noise still names the network lock (it may be the cause).
    let alone = "ip6tables-restore v1.8.7 (nf_tables): \nline 7: CHAIN_USER_DEL failed (Device or resource busy): chain CRIU";
    assert_eq!(ids(&explain_in(&r, &[alone]))[0], "network-lock-failed");
    let missing = "Error (criu/util.c:626): execvp(\"iptables-restore\", ...) failed: No such file or directory\n(00.027127) Error (criu/util.c:641): exited, status=1\n(00.027300) Error (criu/net.c:3332): Locking network failed: iptables-restore returned -1. This may be connected to disabled CONFIG_NETFILTER_XT_MARK kernel build config option.";
    let out = explain_in(&r, &[missing]);
    assert_eq!(ids(&out)[0], "network-lock-failed");
    assert_eq!(out.json()["diagnoses"][0]["confidence"], "certain");
}

#[test]
fn a_flag_conflict_cut_short_at_the_end_of_a_journal_line() {
    let r = Root::new();
    let out = explain_in(&r, &["--file", &fx("explain/flag-conflict-cut.txt")]);
    assert_eq!(ids(&out), ["daemon-flag-conflict"], "{}", out.stdout);
    for cut in [
        "Nov 26 08:02:11 build-03 dockerd[1187]: time=\"2025-11-26T08:02:11.402Z\" level=fatal msg=\"the following directives are specified both as a flag and in the confi",
        "dockerd[977]: unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives are specified both as a flag and in the configuration file: debug: (from flag: true, from file: false), experimental: (from flag: true, from…",
        "unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives are specified both as a flag and",
    ] {
        let out = explain_in(&r, &[cut]);
        assert_eq!(ids(&out), ["daemon-flag-conflict"], "{cut}");
    }
}

#[test]
fn criu_without_privileges_inside_an_unprivileged_container() {
    let r = Root::new();
    for file in [
        "explain/eperm-ptrace.log",
        "explain/eperm-tcp-repair-kerndat.log",
        "explain/eperm-seccomp.log",
        "explain/criu-check-unprivileged.txt",
    ] {
        let out = explain_in(&r, &["--file", &fx(file)]);
        let j = out.json();
        assert_eq!(
            ids(&out)[0],
            "criu-no-capability",
            "{file}: {:?}",
            ids(&out)
        );
        assert_eq!(j["diagnoses"][0]["confidence"], "certain");
        assert!(
            j["diagnoses"][0]["cause"]
                .as_str()
                .unwrap()
                .contains("container"),
            "{}",
            j["diagnoses"][0]["cause"]
        );
        // EPERM is not a kernel too old for seccomp, nor a loopback that is down.
        assert!(diag(&j, "seccomp-suspend").is_none(), "{file}");
        for other in ["loopback-down", "criu-kernel-too-new"] {
            if let Some(d) = diag(&j, other) {
                assert_eq!(d["confidence"], "possible", "{file}: {d}");
            }
        }
    }
    let soccr = "(00.153301) Error (soccr/soccr.c:94): Can't turn TCP repair mode ON: Operation not permitted\n(00.153390) Error (criu/cr-dump.c:1675): Dump files (pid: 8714) failed with -1";
    assert_eq!(ids(&explain_in(&r, &[soccr]))[0], "criu-no-capability");
}

#[test]
fn restore_side_wordings_of_dump_side_failures() {
    let r = Root::new();
    let out = explain_in(&r, &["--file", &fx("explain/restore-ext-unix.log")]);
    assert_eq!(ids(&out)[0], "external-unix-socket");
    for (text, id) in [
        (
            "  3589: Error (criu/sk-unix.c:1401): sk unix: External socket found in image. Consider using the --ext-unix-skoption to allow restoring it.",
            "external-unix-socket",
        ),
        (
            "(00.082213)      1: Error (criu/sk-inet.c:912): inet: Connected TCP socket in image",
            "tcp-established-missing",
        ),
        (
            "Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: criu failed: type RESTORE errno 0\n(00.4) 1: Error (criu/sk-inet.c:912): Connected TCP socket in image",
            "tcp-established-missing",
        ),
    ] {
        let got = ids(&explain_in(&r, &[text]));
        assert_eq!(got[0], id, "{text}: {got:?}");
    }
}

#[test]
fn older_docker_wordings() {
    let r = Root::new();
    for text in [
        "Error response from daemon: Cannot checkpoint container api-7: rpc error: code = 6 desc = mkdir /var/lib/docker/containers/9c1ea0f3b2d84e55a1c0d3f7e9b6a4c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6/checkpoints/nightly: file exists",
        "Error response from daemon: Cannot checkpoint container api-7: mkdir .../checkpoints/NAME: file exists",
        "dockerd[702]: level=error msg=\"Handler for POST /v1.24/containers/api-7/checkpoints returned error: Cannot checkpoint container api-7: rpc error: code = 6 desc = mkdir /var/lib/docker/containers/4d2f/checkpoints/before-upgrade: file exists\"",
    ] {
        let got = ids(&explain_in(&r, &[text]));
        assert_eq!(got[0], "checkpoint-exists", "{text}: {got:?}");
    }
}

#[test]
fn a_restore_with_checkpoint_dir() {
    let r = Root::new();
    for text in [
        "$ docker start --checkpoint snap3 --checkpoint-dir /srv/cps worker\nError response from daemon: custom checkpointdir is not supported",
        "$ docker start --checkpoint-dir=/srv/cps --checkpoint=snap3 worker\nError response from daemon: custome checkpointdir is not supported",
        "dockerd[588]: time=\"2025-03-02T11:00:41Z\" level=error msg=\"Handler for POST /v1.41/containers/worker/start returned error: custom checkpointdir is not supported\"",
        "$ docker start --checkpoint-dir=/tmp --checkpoint=checkpoint2 looper-clone\nError response from daemon: shim error: open /tmp/checkpoint2/config.json: no such file or directory",
    ] {
        let got = ids(&explain_in(&r, &[text]));
        assert_eq!(got[0], "restore-custom-dir", "{text}: {got:?}");
    }
}

#[test]
fn user_retyped_text_in_any_case() {
    let r = Root::new();
    let root = r.dir.path().to_str().unwrap();
    for (id, variants) in VARIANTS {
        for v in *variants {
            for typed in [v.to_lowercase(), v.to_uppercase()] {
                let out = explain(&["--root", root, &typed]);
                assert_eq!(out.code, 0, "{id}: {typed}");
                assert_eq!(ids(&out)[0], *id, "{typed}");
            }
        }
    }
    // Retyped without the apostrophes (the doctor's quoting drops them).
    for (text, id) in [
        (
            "Error (criu/cr-check.c:1056): Cant turn TCP repair mode ON: Operation not permitted",
            "criu-no-capability",
        ),
        (
            "sockets: Cant get 1:16 opt: Operation not supported",
            "criu-socket-options",
        ),
        (
            "tty: Dont have tty to inherit session from, aborting",
            "container-tty",
        ),
        (
            "criu: unrecognized option --tcp-establised",
            "runc-conf-invalid",
        ),
    ] {
        assert_eq!(ids(&explain(&["--root", root, text]))[0], id, "{text}");
    }
}

#[test]
fn vdso_failures_on_other_arches() {
    let r = Root::new();
    let out = explain_in(&r, &["--file", &fx("explain/vdso-aarch64-check.txt")]);
    let j = out.json();
    assert_eq!(ids(&out)[0], "criu-kernel-too-new");
    let cause = j["diagnoses"][0]["cause"].as_str().unwrap();
    assert!(cause.contains("aarch64"), "{cause}");
    assert!(!cause.starts_with("x86_64"), "{cause}");
    for text in [
        "(00.008988) Error (criu/pie-util-vdso.c:97): vdso: ELF header magic mismatch",
        "Error (criu/vdso.c:620): vdso: Failed to fill compat vdso symtable",
    ] {
        assert_eq!(
            ids(&explain_in(&r, &[text]))[0],
            "criu-kernel-too-new",
            "{text}"
        );
    }
}

#[test]
fn the_seeds_second_error_as_the_wiki_prints_it() {
    let r = Root::new();
    let wiki = "Error response from daemon: Cannot checkpoint container bela: failed to read checkpoint reader: open .../cgroup.img: no such file or directory";
    let out = explain_in(&r, &[wiki]);
    assert_eq!(ids(&out)[0], "container-auto-removed", "{}", out.stdout);
    assert_eq!(out.json()["diagnoses"][0]["confidence"], "certain");
}

#[test]
fn criu_check_failure_lines() {
    let r = Root::new();
    let out = explain_in(&r, &["--file", &fx("explain/criu-check-no-config.txt")]);
    assert_eq!(ids(&out)[0], "criu-check-failed", "{}", out.stdout);
    // As the doctor quotes them: `criu check fails: LINE`, quotes dropped.
    let d12 = std::fs::read_to_string(fx("captured/d12-criu3171-check.txt")).unwrap();
    let first = d12.lines().find(|l| l.starts_with("Error (")).unwrap();
    for (text, id) in [
        (format!("criu check fails: {first}"), "criu-kernel-too-new"),
        (
            "criu check fails: Error (criu/cr-check.c:1056): Cant turn TCP repair mode ON: Operation not permitted".into(),
            "criu-no-capability",
        ),
        (
            "criu check fails: Error (criu/cr-check.c:145): The sock diag infrastructure is incomplete.".into(),
            "criu-check-failed",
        ),
        (
            "criu check fails: Warn  (criu/cr-check.c:1632): Does not look good.".into(),
            "criu-check-failed",
        ),
        (
            "Error (criu/cr-check.c:759): Kernel doesnt support PTRACE_O_SUSPEND_SECCOMP".into(),
            "seccomp-suspend",
        ),
    ] {
        assert_eq!(ids(&explain_in(&r, &[&text]))[0], id, "{text}");
    }
    // `Looks good.` is not a failure, and a check line explain does not
    // know is left unknown (the doctor then gives its own advice).
    assert_eq!(explain_in(&r, &["Looks good."]).code, 1);
    let unknown = "criu check fails: Error (criu/cr-check.c:1): zorblax frobnicated the quux";
    assert_eq!(explain_in(&r, &[unknown]).code, 1);
}

// ---------------------------------------------------------------------------
// The input surface.

/// Run with a watchdog: a hang fails the test instead of hanging it.
fn run_guarded(args: &[&str], stdin: Option<&[u8]>) -> Run {
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        let mut s = child.stdin.take().unwrap();
        let _ = s.write_all(bytes);
    }
    let pid = child.id();
    let guard = std::thread::spawn(move || {
        for _ in 0..600 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return false;
            }
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        true
    });
    let out = child.wait_with_output().unwrap();
    let _ = guard;
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_fifo_device_socket_or_directory_given_as_file_is_refused_at_once() {
    let t = tempfile::tempdir().unwrap();
    let fifo = t.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let sock = t.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    for (path, word) in [
        (fifo.to_str().unwrap(), "FIFO"),
        ("/dev/zero", "character device"),
        (t.path().to_str().unwrap(), "directory"),
        (sock.to_str().unwrap(), "socket"),
    ] {
        let out = run_guarded(&["explain", "--file", path], None);
        assert_eq!(out.code, 2, "{path}: {}", out.all());
        assert!(out.stderr.contains(path), "{}", out.stderr);
        assert!(out.stderr.contains(word), "{path}: {}", out.stderr);
    }
    // A regular file is read.
    let f = t.path().join("err.txt");
    std::fs::write(
        &f,
        "Error response from daemon: custom checkpointdir is not supported\n",
    )
    .unwrap();
    let out = run_guarded(&["explain", "--file", f.to_str().unwrap()], None);
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn criu_logs_that_are_not_regular_files_are_refused_at_once() {
    let r = Root::new();
    let dir = "/run/containerd/io.containerd.runtime.v2.task/moby/fe01";
    std::fs::create_dir_all(r.path(dir)).unwrap();
    nix::unistd::mkfifo(
        &r.path(&format!("{dir}/criu-dump.log")),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    std::fs::create_dir_all(r.path(&format!("{dir}/restore.log"))).unwrap();
    std::os::unix::fs::symlink("/dev/zero", r.path(&format!("{dir}/zero.log"))).unwrap();
    let text = format!(
        "criu failed: type NOTIFY errno 0 path= {dir}/criu-dump.log: unknown\ncriu failed: type RESTORE errno 0 path= {dir}/restore.log: unknown\ncriu failed: type NOTIFY errno 0 path= {dir}/zero.log: unknown"
    );
    let out = run_guarded(
        &[
            "explain",
            "--format",
            "json",
            "--root",
            r.dir.path().to_str().unwrap(),
            &text,
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let j = out.json();
    assert_eq!(j["logs_read"].as_array().unwrap().len(), 0, "{j}");
    let refused = j["logs_refused"].to_string();
    assert!(refused.contains("FIFO"), "{refused}");
    assert!(refused.contains("directory"), "{refused}");
}

#[test]
fn stdin_without_newlines_streams_in_bounded_memory() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(BIN)
        .args(["explain", "--format", "json", "-"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        stdin.write_all(&zeros).unwrap();
    }
    // The child has consumed all but a pipe's worth: its peak so far.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    stdin
        .write_all(b"\nError response from daemon: custom checkpointdir is not supported\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        hwm_kib < 48 * 1024,
        "peak RSS {hwm_kib} KiB after 64 MiB without a newline"
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["diagnoses"][0]["id"], "restore-custom-dir");
}

#[test]
fn a_log_path_climbing_out_of_the_root_is_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    // The victim, outside the root.
    let victim_dir = t.path().join("victim");
    std::fs::create_dir_all(&victim_dir).unwrap();
    let secret = "Error (criu/files-reg.c:1031): Can't dump ghost file /SECRET-OUTSIDE of 99 size, increase limit";
    std::fs::write(victim_dir.join("criu-dump.log"), format!("{secret}\n")).unwrap();
    let victim_abs = victim_dir.join("criu-dump.log");
    // A log inside the root, reached through an absolute link inside it.
    let inside = "/var/log/criu/real.log";
    std::fs::create_dir_all(root.join("var/log/criu")).unwrap();
    std::fs::write(
        root.join("var/log/criu/real.log"),
        "(00.07) Error (criu/sk-unix.c:874): unix: External socket is used. Consider using --ext-unix-sk option.\n",
    )
    .unwrap();
    let bundle = root.join("run/containerd/io.containerd.runtime.v2.task/moby/ab12");
    std::fs::create_dir_all(&bundle).unwrap();
    std::os::unix::fs::symlink(inside, bundle.join("criu-dump.log")).unwrap();
    // A link inside the root to the victim's absolute path stays inside too.
    std::os::unix::fs::symlink(&victim_abs, bundle.join("escape.log")).unwrap();
    let text = format!(
        "criu failed: type NOTIFY errno 0 path= /../../victim/criu-dump.log: unknown\n\
         criu failed: type NOTIFY errno 0 path= /../../../../../../{}: unknown\n\
         criu failed: type NOTIFY errno 0 path= /run/containerd/io.containerd.runtime.v2.task/moby/ab12/escape.log: unknown\n\
         criu failed: type NOTIFY errno 0 path= /run/containerd/io.containerd.runtime.v2.task/moby/ab12/criu-dump.log: unknown",
        victim_abs.display()
    );
    for format in ["json", "human"] {
        let out = run(&[
            "explain",
            "--format",
            format,
            "--root",
            root.to_str().unwrap(),
            &text,
        ]);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(!out.all().contains("SECRET-OUTSIDE"), "{}", out.all());
        assert!(!out.all().contains("ghost"), "{}", out.all());
        if format == "json" {
            let j = out.json();
            let read: Vec<&str> = j["logs_read"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(
                read,
                ["/run/containerd/io.containerd.runtime.v2.task/moby/ab12/criu-dump.log"],
                "{j}"
            );
            assert_eq!(j["diagnoses"][0]["id"], "external-unix-socket");
        }
    }
}

#[test]
fn many_distinct_log_paths_are_capped_and_said() {
    let r = Root::new();
    let mut text = String::with_capacity(200_000 * 120);
    for i in 0..200_000 {
        text.push_str(&format!(
            "criu failed: type NOTIFY errno 0 path= /run/containerd/io.containerd.runtime.v2.task/moby/{i:x}/criu-dump.log: unknown\n"
        ));
    }
    let out = run_guarded(
        &[
            "explain",
            "--format",
            "json",
            "--root",
            r.dir.path().to_str().unwrap(),
            "-",
        ],
        Some(text.as_bytes()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = out.json();
    let followed = j["logs_read"].as_array().unwrap().len()
        + j["logs_unreadable"].as_array().map_or(0, |a| a.len());
    assert!(followed > 0 && followed <= 64, "{followed}");
    assert!(
        j["logs_not_followed"].as_u64().unwrap() > 0,
        "{}",
        out.stdout
    );
    let human = run_guarded(
        &["explain", "--root", r.dir.path().to_str().unwrap(), "-"],
        Some(text.as_bytes()),
    );
    assert!(human.stdout.contains("not followed"), "{}", human.stdout);
}

#[test]
fn control_characters_are_escaped_in_human_output() {
    let r = Root::new();
    let text = "\x1b[2J\x1b]0;owned\x07Error response from daemon: custom checkpointdir is not supported\r\x1b[1A\u{9b}31m\u{2028}fake: line";
    let out = run(&["explain", "--root", r.dir.path().to_str().unwrap(), text]);
    assert_eq!(out.code, 0, "{}", out.all());
    for bad in ['\x1b', '\r', '\x07', '\u{9b}', '\u{2028}'] {
        assert!(!out.stdout.contains(bad), "{bad:?} in {:?}", out.stdout);
    }
    assert!(out.stdout.contains("\\x1b[2J"), "{}", out.stdout);
    assert!(out.stdout.contains("\\r"), "{}", out.stdout);
    // JSON keeps the text exact (serde escapes it).
    let j = explain_in(&r, &[text]).json();
    assert!(
        j["diagnoses"][0]["matched"]
            .as_str()
            .unwrap()
            .contains('\x1b')
    );
}

#[test]
fn a_missing_root_is_a_usage_error() {
    let out = run(&[
        "explain",
        "--root",
        "/nonexistent/dockpoint-root",
        "some text",
    ]);
    assert_eq!(out.code, 2, "{}", out.all());
    assert!(
        out.stderr.contains("/nonexistent/dockpoint-root"),
        "{}",
        out.stderr
    );
}

#[test]
fn stdin_that_is_a_device_is_refused_and_the_stdin_pipe_is_read() {
    use std::process::{Command, Stdio};
    // `dockpoint explain < /dev/zero` would never end.
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let child = Command::new(BIN)
        .args(["explain", "-"])
        .stdin(Stdio::from(zero))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        for _ in 0..600 {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    });
    let out = child.wait_with_output().unwrap();
    let _ = watchdog.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("character device"), "{stderr}");
    // `--file /dev/stdin` on a pipe is the stdin pipe: read.
    let out = run_guarded(
        &["explain", "--format", "json", "--file", "/dev/stdin"],
        Some(b"Error response from daemon: custom checkpointdir is not supported\n"),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.json()["diagnoses"][0]["id"], "restore-custom-dir");
}
