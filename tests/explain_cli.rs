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

#[test]
fn the_ids_of_the_shared_catalogue_are_all_here() {
    let shared = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/failure-catalogue.md"
    ));
    let Ok(text) = shared else {
        // The reference lives beside the repository; CI has it too.
        panic!("../shared/reference/failure-catalogue.md is missing");
    };
    let ours: Vec<&str> = dockpoint::explain::catalogue::CATALOGUE
        .iter()
        .map(|e| e.id)
        .collect();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let id = line.trim_start_matches("| `").split('`').next().unwrap();
        assert!(
            ours.contains(&id),
            "{id} from failure-catalogue.md is not in the catalogue"
        );
    }
    assert!(text.contains("`loopback-down`") && ours.contains(&"loopback-down"));
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
