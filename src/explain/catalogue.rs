//! Known checkpoint / restore failures, as data. Ids are stable: every id of
//! the project's failure catalogue (the list the tests hold in
//! tests/fixtures/explain/catalogue-ids.txt) is here, plus a few more for
//! messages public trackers show.
//!
//! Patterns match the meaningful words only (never names, ids, paths,
//! digests, file.c:line numbers or versions); they match ASCII case-
//! insensitively (users retype messages), and are written in the subset of
//! regex syntax that both the regex crate and POSIX ERE (`grep -i -E`) read
//! the same way. An apostrophe is written `('|’)?`: the doctor's quoting and
//! people retyping drop it, chat tools curl it.
//!
//! `samples` are lines as users paste them; the tests check that every
//! pattern matches one of its entry's samples, that every sample leads to
//! its entry, and that the scanner's literal prefilter lets each through.

/// How sure a diagnosis is when its pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Possible,
    Likely,
    Certain,
}

pub struct Entry {
    pub id: &'static str,
    pub title: &'static str,
    /// Lines that say this failure happened: `confidence` when they match.
    pub patterns: &'static [&'static str],
    /// Lines that other failures print too: only `Possible` on their own.
    pub weak: &'static [&'static str],
    /// Its lines also follow from other failures (CRIU unlocking the
    /// network after any failed dump): ranked `Possible`, after any other
    /// specific diagnosis, when there is one.
    pub secondary: bool,
    /// Ids not reported for a line this entry matches (a more specific
    /// reading of the same line).
    pub supersedes: &'static [&'static str],
    pub cause: &'static str,
    pub fix: &'static [&'static str],
    pub links: &'static [&'static str],
    pub confidence: Confidence,
    pub samples: &'static [&'static str],
}

use Confidence::*;

const D: Entry = Entry {
    id: "",
    title: "",
    patterns: &[],
    weak: &[],
    secondary: false,
    supersedes: &[],
    cause: "",
    fix: &[],
    links: &[],
    confidence: Certain,
    samples: &[],
};

/// The generic docker/runc wrapper around every CRIU failure: it says
/// nothing about the cause, which is in the CRIU log named after `path=`.
pub const GENERIC: &str = r"criu failed: type (NOTIFY|DUMP|RESTORE|PRE_DUMP)";

/// The CRIU log a docker error or journal line names.
pub const LOG_PATH: &str = r#"((?i:path=|log file: ?))[ ]*(/[^ :\\"']+\.log)"#;

pub const CATALOGUE: &[Entry] = &[
    Entry {
        id: "tcp-established-missing",
        title: "CRIU was not told to dump established TCP connections",
        patterns: &[
            r"Connected TCP socket, consider using --tcp-established",
            r"Connected TCP socket in image",
        ],
        cause: "the container has established TCP connections, and CRIU dumps (and restores) them only with tcp-established, which docker can pass only through /etc/criu/runc.conf",
        fix: &[
            "add the line `tcp-established` (no leading dashes) to /etc/criu/runc.conf: dockpoint setup does it; no docker restart is needed",
        ],
        links: &["https://criu.org/TCP_connection"],
        samples: &[
            "(00.040444) Error (criu/sk-inet.c:200): inet: Connected TCP socket, consider using --tcp-established option.",
            "(00.082213)      1: Error (criu/sk-inet.c:912): inet: Connected TCP socket in image",
        ],
        ..D
    },
    Entry {
        id: "tcp-close-needed",
        title: "the checkpoint was made with tcp-close, and the restore runs without it",
        patterns: &[r"Need to set the --tcp-close option"],
        // Seen on the e2e host: dumped with runc.conf [tcp-established,
        // tcp-close], restored with [tcp-established].
        cause: "CRIU dumped the container's TCP connections with tcp-close in /etc/criu/runc.conf (as dockpoint enable --tcp-close sets it), and restores such a checkpoint only with tcp-close set again",
        fix: &[
            "add the line `tcp-close` back to /etc/criu/runc.conf (beside tcp-established; no docker restart is needed) and restore again: the connections come back closed",
            "or cold start (docker start NAME): the state since the checkpoint is lost",
        ],
        links: &["https://criu.org/TCP_connection"],
        samples: &["(00.000861) Error (criu/image.c:94): Need to set the --tcp-close options."],
        ..D
    },
    Entry {
        id: "container-auto-removed",
        title: "the container was started with --rm",
        patterns: &[
            // The seed's wording keeps `...` for the path: match any path.
            r"open [^ ]*cgroup\.img: no such file or directory",
            r"failed to read checkpoint reader: failed to Lchown [^ ]*checkpoints",
            r"is marked for removal and cannot be started",
        ],
        // On docker 26 the checkpoint of a --rm container "succeeds" and the
        // restore finds no container (seen on the e2e host): container-gone.
        cause: "the checkpoint stops the container and --rm (HostConfig.AutoRemove) deletes the container and its directory while the checkpoint is written there",
        fix: &[
            "recreate the container without --rm",
            "check: docker inspect -f '{{.HostConfig.AutoRemove}}' NAME",
        ],
        samples: &[
            "Error response from daemon: Cannot checkpoint container bela: failed to read checkpoint reader: open .../cgroup.img: no such file or directory",
            "Error response from daemon: Cannot checkpoint container x: failed to read checkpoint reader: failed to Lchown \"/var/lib/docker/containers/ab/checkpoints/cp/pages-1.img\" for UID 0, GID 0",
            "Error response from daemon: container is marked for removal and cannot be started",
        ],
        ..D
    },
    Entry {
        id: "experimental-disabled",
        title: "docker's experimental features are off",
        patterns: &[
            r"only supported on a Docker daemon with experimental features enabled",
            r"checkpoint is only supported in experimental mode",
            r"This experimental feature is disabled by default",
            r"only supported on a Docker cli with experimental cli features enabled",
        ],
        cause: "docker checkpoint is experimental in every docker release",
        fix: &[
            "set \"experimental\": true in /etc/docker/daemon.json and restart docker (systemctl restart docker): dockpoint setup does both",
            "`systemctl daemon-reload` does not apply it: experimental is not reloadable",
        ],
        samples: &[
            "\"--checkpoint\" is only supported on a Docker daemon with experimental features enabled",
            "Error response from daemon: checkpoint is only supported in experimental mode",
            "Error response from daemon: This experimental feature is disabled by default. Start the Docker daemon in experimental mode in order to enable it.",
            "docker checkpoint create is only supported on a Docker cli with experimental cli features enabled",
        ],
        ..D
    },
    Entry {
        id: "criu-not-found",
        title: "CRIU is not installed (or not on containerd's PATH)",
        patterns: &[r"CRIU version check failed: exec: [^ ]*criu[^ ]*: executable file not found"],
        cause: "runc runs `criu` from the PATH of containerd and its shim; it is not installed there (Docker Desktop has no CRIU at all)",
        fix: &[
            "install CRIU: dockpoint setup (apt-get install criu on Debian and Ubuntu), then criu check",
        ],
        links: &["https://criu.org/Installation"],
        samples: &[
            "runc did not terminate successfully: exit status 1: CRIU version check failed: exec: \"criu\": executable file not found in $PATH: unknown",
        ],
        ..D
    },
    Entry {
        id: "criu-too-old",
        title: "CRIU is older than runc accepts",
        patterns: &[r"CRIU version [0-9]+ must be [0-9]+ or higher"],
        cause: "runc needs CRIU >= 3.0, and reading /etc/criu/runc.conf needs CRIU >= 3.11",
        fix: &["install a newer CRIU: dockpoint setup reports the version this kernel needs"],
        links: &["https://criu.org/Installation"],
        samples: &["Cannot checkpoint container c: CRIU version 20600 must be 30000 or higher"],
        ..D
    },
    Entry {
        id: "criu-kernel-too-new",
        title: "this CRIU cannot run on this kernel (vDSO)",
        patterns: &[
            r"vdso: Unexpected rt vDSO area bounds",
            r"Failed to fill (self|compat) vdso symtable",
            r"kerndat_vdso_fill_symtable failed",
            r"vdso: Not all dynamic entries are present",
            r"vdso: ELF header magic mismatch",
            r"vdso: VVAR and VVAR_VCLOCK entries are not subsequent",
            r"Can('|’)?t find vDSO/VVAR bounds",
        ],
        // Every kernel-feature probe failure ends with it (a down loopback,
        // missing privileges): on its own it only suggests the vDSO.
        weak: &[r"Could not initialize kernel features detection"],
        cause: "CRIU cannot parse this kernel's vDSO, so every CRIU command fails at kernel feature detection, criu check included. Kernels change the vDSO's layout: x86_64 kernels >= 6.13 split it ([vvar_vclock] in /proc/self/maps), aarch64 kernels built without --hash-style=sysv (6.11 and later, e.g. 6.12) ship it with DT_GNU_HASH only; CRIU < 4.1 fails on both, and other architectures (ppc64le, s390x, riscv64) needed their own fixes in newer CRIU releases",
        fix: &[
            "install the newest CRIU for this kernel (>= 4.1; >= 4.2 on kernels >= 6.16): dockpoint setup --criu-source debian-testing on Debian 13, the CRIU PPA on Ubuntu",
        ],
        links: &["https://github.com/checkpoint-restore/criu/issues/2532"],
        samples: &[
            "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds",
            "(00.096688) Error (criu/vdso.c:627): vdso: Failed to fill self vdso symtable",
            "Error (criu/vdso.c:620): vdso: Failed to fill compat vdso symtable",
            "(00.000512) Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.",
            "(00.096663) Error (criu/pie-util-vdso.c:193): vdso: Not all dynamic entries are present",
            "(00.008988) Error (criu/pie-util-vdso.c:97): vdso: ELF header magic mismatch",
            "Error (criu/vdso.c:364): vdso: VVAR and VVAR_VCLOCK entries are not subsequent",
            "Error (criu/vdso.c:343): vdso: Can't find vDSO/VVAR bounds",
            "Error (criu/crtools.c:260): Could not initialize kernel features detection.",
        ],
        ..D
    },
    Entry {
        id: "criu-socket-options",
        title: "this CRIU cannot dump sockets on this kernel",
        patterns: &[r"Can('|’)?t get [0-9]+:(16|34) opt"],
        cause: "kernel 6.16 restricted SO_PASSCRED / SO_PASSSEC to unix, netlink and bluetooth sockets; CRIU < 4.2 asks for them on every socket, so no container with a TCP socket can be checkpointed (CRIU #2705, #2718)",
        fix: &["install CRIU >= 4.2: dockpoint setup --criu-source debian-testing on Debian 13"],
        links: &["https://github.com/checkpoint-restore/criu/issues/2705"],
        samples: &[
            "(00.065903) Error (criu/sockets.c:628): sockets: Can't get 1:16 opt: Operation not supported",
        ],
        ..D
    },
    Entry {
        id: "rseq-unsupported",
        title: "rseq: the CRIU or kernel is too old for this image's glibc",
        patterns: &[
            r"has rseq but kernel lacks get_rseq_conf feature",
            r"restore.*killed by signal 11",
        ],
        cause: "glibc >= 2.35 registers rseq; CRIU < 3.17 or a kernel < 5.13 cannot checkpoint or restore it",
        fix: &[
            "CRIU >= 3.17 and kernel >= 5.13",
            "workaround: GLIBC_TUNABLES=glibc.pthread.rseq=0 in the container's environment",
        ],
        confidence: Likely,
        samples: &[
            "Error (criu/cr-dump.c:1044): Task 1234 has rseq but kernel lacks get_rseq_conf feature",
            "Error (criu/cr-restore.c:2447): restore: 1234 killed by signal 11: Segmentation fault",
        ],
        ..D
    },
    Entry {
        id: "criu-no-capability",
        title: "CRIU runs without the privileges it needs",
        patterns: &[
            r"CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability",
            r"Running as non-root requires ('|’)?--unprivileged",
            // EPERM from ptrace, TCP repair and seccomp suspension: CRIU run
            // inside an unprivileged container (or by a non-root user).
            r"Unable to interrupt task: [0-9]+ \(Operation not permitted\)",
            r"Can('|’)?t turn TCP repair mode ON: Operation not permitted",
            r"Unable to set TCP_REPAIR( with setsockopt)?: Operation not permitted",
            r"TCP_REPAIR isn('|’)?t available to unprivileged users",
            r"suspending seccomp failed: Operation not permitted",
            r"couldn('|’)?t suspend seccomp: Operation not permitted",
            r"map_files is inaccessible: Operation not permitted",
        ],
        supersedes: &["criu-check-failed"],
        cause: "CRIU was run without the privileges it needs: rootless docker, a non-root run, or CRIU inside an unprivileged container, where docker's default capabilities, seccomp profile and AppArmor forbid what CRIU does (ptrace of other processes, TCP repair mode, suspending seccomp): Operation not permitted",
        fix: &[
            "checkpoint with rootful docker on the host, as root: docker checkpoint create runs CRIU there",
            "to run criu inside a container, the container needs --privileged (at least CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_NET_ADMIN with --security-opt seccomp=unconfined and apparmor=unconfined)",
        ],
        samples: &[
            "Error (criu/crtools.c:243): CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability: ",
            "Running as non-root requires '--unprivileged'",
            "Warn  (compel/src/lib/infect.c:129): Unable to interrupt task: 41 (Operation not permitted)",
            "Error (soccr/soccr.c:94): Can't turn TCP repair mode ON: Operation not permitted",
            "(00.012210) Error (criu/kerndat.c:743): Unable to set TCP_REPAIR with setsockopt: Operation not permitted",
            "Warn  (criu/cr-check.c:1100): TCP_REPAIR isn't available to unprivileged users",
            "(00.020958) Error (compel/src/lib/ptrace.c:27): suspending seccomp failed: Operation not permitted",
            "Error (criu/cr-check.c:761): couldn't suspend seccomp: Operation not permitted",
            "Error (criu/cr-check.c:124): /proc/<pid>/map_files is inaccessible: Operation not permitted",
        ],
        ..D
    },
    Entry {
        id: "runc-conf-invalid",
        title: "/etc/criu/runc.conf has a line CRIU rejects",
        patterns: &[
            r"criu: unrecognized option ('|’)?--",
            r"Unsupported configuration file format",
        ],
        cause: "a bad line in /etc/criu/runc.conf (leading dashes, an unknown option, CRLF endings, an unclosed quote) makes CRIU reject the file, which breaks every checkpoint and restore on the host",
        fix: &[
            "lint it: criu --config /etc/criu/runc.conf -V",
            "dockpoint setup repairs leading dashes and, with --repair, the rest",
        ],
        samples: &[
            "criu: unrecognized option '----tcp-established'",
            "Unsupported configuration file format. Please consult man page criu(8)",
        ],
        ..D
    },
    Entry {
        id: "daemon-flag-conflict",
        title: "a key is set both as a dockerd flag and in daemon.json",
        // The journal often cuts the rest of the line (the keys) short.
        patterns: &[r"following directives are specified both as a"],
        supersedes: &["daemon-json-invalid"],
        cause: "dockerd refuses to start when a key is in daemon.json and also a flag (unit ExecStart, drop-ins, DOCKER_OPTS in /etc/default/docker or /etc/conf.d/docker)",
        fix: &[
            "keep the setting in one place: remove it from daemon.json or from the flags, then systemctl restart docker",
            "see which keys: journalctl -u docker --no-pager -o cat | grep -F 'both as a flag' (the full line)",
        ],
        samples: &[
            "unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives are specified both as a flag and in the configuration file: experimental: (from flag: true, from file: true)",
            "level=fatal msg=\"the following directives are specified both as a flag and in the confi",
        ],
        ..D
    },
    Entry {
        id: "daemon-json-invalid",
        title: "dockerd rejects daemon.json",
        patterns: &[
            r"unable to configure the Docker daemon with file [^ ]+: ",
            r"cannot unmarshal [a-z]+ into Go struct field [A-Za-z.]*experimental",
            r"the following directives don('|’)?t match any configuration option",
        ],
        cause: "daemon.json is strict JSON (no comments, no trailing commas) with known keys and typed values (\"experimental\": true, not \"true\")",
        fix: &[
            "fix the file (dockpoint setup names the line and repairs the experimental key), then systemctl restart docker",
        ],
        samples: &[
            "unable to configure the Docker daemon with file /etc/docker/daemon.json: invalid character '/' looking for beginning of object key string",
            "failed to start daemon: json: cannot unmarshal string into Go struct field Config.experimental of type bool",
            "the following directives don't match any configuration option: experimantal",
        ],
        ..D
    },
    Entry {
        id: "docker-not-linux",
        title: "checkpoints are not supported on this docker platform",
        patterns: &[
            r"docker checkpoint is only supported on a Docker daemon running on linux",
            r"Containers do not support checkpoints",
        ],
        cause: "docker checkpoint needs a Linux docker engine with CRIU",
        fix: &["use a Linux host with docker engine"],
        samples: &[
            "Error response from daemon: docker checkpoint is only supported on a Docker daemon running on linux",
            "Windows: Containers do not support checkpoints",
        ],
        ..D
    },
    Entry {
        id: "container-tty",
        title: "the container has a terminal (-t)",
        patterns: &[
            r"dev/console doesn('|’)?t have a proper root mount",
            r"Task attached to shell terminal",
            r"Don('|’)?t have tty to inherit session from",
        ],
        cause: "a container started with -t (and a shell on its terminal) cannot be checkpointed",
        fix: &["recreate the container without -t"],
        samples: &[
            "(00.021) Error (criu/mount.c:1087): mnt: ./dev/console doesn't have a proper root mount",
            "Error (criu/cr-dump.c:1333): Task attached to shell terminal. Consider using --shell-job option.",
            "Error (criu/tty.c:1014): tty: Don't have tty to inherit session from, aborting",
        ],
        ..D
    },
    Entry {
        id: "ghost-file-limit",
        title: "a deleted-but-open file is larger than CRIU's ghost limit",
        patterns: &[r"Can('|’)?t dump ghost file .* of [0-9]+ size, increase limit"],
        cause: "deleted-but-open files over 1 MiB are refused (JVMs extract JNI libraries to /tmp and delete them)",
        fix: &[
            "add `ghost-limit 100M` to /etc/criu/runc.conf: dockpoint setup --criu-option 'ghost-limit 100M'",
        ],
        samples: &[
            "Error (criu/files-reg.c:1026): Can't dump ghost file /tmp/libnetty_transport_native_epoll_x86_64123.so of 2073672 size, increase limit",
        ],
        ..D
    },
    Entry {
        id: "in-flight-connections",
        title: "half-open connections on a listening socket",
        patterns: &[r"In-flight connection"],
        cause: "connections not yet accepted by the application cannot be dumped",
        fix: &[
            "add `skip-in-flight` to /etc/criu/runc.conf: dockpoint setup --criu-option skip-in-flight",
        ],
        samples: &[
            "Error (criu/sk-inet.c:190): In-flight connection (l) for 1234:11",
            "Error (criu/sk-inet.c:198): In-flight connections can be ignored with the --skip-in-flight option.",
        ],
        ..D
    },
    Entry {
        id: "external-unix-socket",
        title: "a unix socket connected outside the container",
        patterns: &[
            r"External socket is used",
            // The restore side of the same failure.
            r"External socket found in image",
            r"Can('|’)?t dump half of stream unix connection",
            r"Can('|’)?t dump name-less external socket",
        ],
        cause: "a socket connected to something outside the container (a bind-mounted docker.sock, syslog)",
        fix: &[
            "remove the outside connection (the bind mount)",
            "for datagram sockets: `ext-unix-sk` in /etc/criu/runc.conf",
        ],
        samples: &[
            "Error (criu/sk-unix.c:789): unix: External socket is used. Consider using --ext-unix-sk option.",
            "    17: Error (criu/sk-unix.c:1912): unix: External socket found in image. Consider using the --ext-unix-sk option to allow restoring it.",
            "Error (criu/sk-unix.c:655): unix: Can't dump half of stream unix connection.",
            "Error (criu/sk-unix.c:888): unix: Can't dump name-less external socket.",
        ],
        ..D
    },
    Entry {
        id: "network-lock-failed",
        title: "CRIU could not lock the container's network",
        patterns: &[
            r"execvp\(.?.?ip6?tables-restore",
            r"ip6?tables-restore: invalid option -- ('|’)?w",
            r"Locking network failed",
            r"Nftables based locking requires libnftables",
            r"CRIU was built without libnftables support",
        ],
        // What iptables-restore prints when CRIU removes its rules again.
        weak: &[
            r"CHAIN_ADD failed",
            r"CHAIN_USER_DEL failed",
            r"RULE_DELETE failed",
            r"ip6?tables-restore: line [0-9]+ failed",
            r"Bad rule \(does a matching rule exist in that chain",
        ],
        secondary: true,
        cause: "CRIU locks the container's network with iptables-restore (or nftables) while it dumps and unlocks it afterwards: iptables-restore is missing or too old, or the kernel lacks the xt_mark match",
        fix: &[
            "install iptables",
            "or `network-lock nftables` in /etc/criu/runc.conf where `criu check --feature network_lock_nftables` passes",
        ],
        samples: &[
            "Error (criu/util.c:626): execvp(\"iptables-restore\", ...) failed: No such file or directory",
            "Error (criu/util.c:626): execvp(\"ip6tables-restore\", ...) failed: No such file or directory",
            "iptables-restore: invalid option -- 'w'",
            "Error (criu/net.c:3332): Locking network failed: iptables-restore returned 1. This may be connected to disabled CONFIG_NETFILTER_XT_MARK kernel build config option.",
            "Error (criu/net.c:3136): Nftables based locking requires libnftables and set concatenations support",
            "Error (criu/net.c:3311): CRIU was built without libnftables support",
            "Error (criu/netfilter.c:88): CHAIN_ADD failed",
            "line 7: CHAIN_USER_DEL failed (Device or resource busy): chain CRIU",
            "line 4: RULE_DELETE failed (No such file or directory): rule in chain INPUT",
            "iptables-restore: line 3 failed",
            "iptables: Bad rule (does a matching rule exist in that chain?).",
        ],
        ..D
    },
    Entry {
        id: "apparmor-denied",
        title: "AppArmor blocked CRIU",
        patterns: &[
            r"Unable to connect a transport socket: Permission denied",
            r"can('|’)?t write lsm profile",
            r"err scanfing: Invalid argument",
            r"apparmor=.?.?DENIED",
        ],
        cause: "AppArmor blocked CRIU's parasite, or the container's profile is not loaded",
        fix: &[
            "upgrade CRIU",
            "only to confirm: --security-opt apparmor=unconfined",
        ],
        confidence: Likely,
        samples: &[
            "Error (compel/src/lib/infect.c:1513): Unable to connect a transport socket: Permission denied",
            "Error (criu/lsm.c:265): can't write lsm profile",
            "Error (criu/lsm.c:82): err scanfing: Invalid argument",
            "kernel: audit: type=1400 apparmor=\"DENIED\" operation=\"connect\" profile=\"docker-default\"",
        ],
        ..D
    },
    Entry {
        id: "overlayfs-mount-id",
        title: "overlayfs reports wrong mount ids",
        patterns: &[r"Can('|’)?t lookup mount=[0-9]+ for fd=-?[0-9]+ path="],
        cause: "Ubuntu-patched overlayfs reports wrong mount ids",
        fix: &["a newer kernel, or another storage driver"],
        confidence: Likely,
        samples: &["Error (criu/files-reg.c:1719): Can't lookup mount=795 for fd=-3 path=/bin/sh"],
        ..D
    },
    Entry {
        id: "mptcp-socket",
        title: "an MPTCP socket",
        patterns: &[r"Unsupported proto 262 for socket"],
        cause: "Go >= 1.24 programs listen with MPTCP, which CRIU cannot dump",
        fix: &["GODEBUG=multipathtcp=0 in the container's environment"],
        samples: &["Error (criu/sockets.c:750): inet: Unsupported proto 262 for socket 1234"],
        ..D
    },
    Entry {
        id: "seccomp-suspend",
        title: "the kernel cannot suspend seccomp",
        patterns: &[
            r"suspending seccomp failed: Invalid argument",
            r"Kernel doesn('|’)?t support PTRACE_O_SUSPEND_SECCOMP",
        ],
        supersedes: &["criu-check-failed"],
        cause: "kernels < 4.3 lack PTRACE_O_SUSPEND_SECCOMP",
        fix: &["a newer kernel"],
        samples: &[
            "Error (compel/src/lib/infect.c:357): suspending seccomp failed: Invalid argument",
            "Error (criu/cr-check.c:759): Kernel doesn't support PTRACE_O_SUSPEND_SECCOMP",
        ],
        ..D
    },
    Entry {
        id: "freezer-unsupported",
        title: "no freezer for this container's cgroup",
        patterns: &[r"freezer not supported: openat2 [^ ]*cgroup\.freeze"],
        cause: "checkpointing a container that was itself restored into another cgroup (cgroup v2)",
        fix: &["checkpoint the original container"],
        confidence: Likely,
        samples: &[
            "OCI runtime pause failed: freezer not supported: openat2 /sys/fs/cgroup/system.slice/docker-1.scope/cgroup.freeze: no such file or directory: unknown",
        ],
        ..D
    },
    Entry {
        id: "container-not-running",
        title: "the container is not running",
        patterns: &[r"container [^ ]+ is not running"],
        cause: "only running containers can be checkpointed",
        fix: &["docker start NAME, then checkpoint it"],
        samples: &[
            "Error response from daemon: Cannot checkpoint container bela: container 3f2a9c is not running",
        ],
        ..D
    },
    Entry {
        id: "checkpoint-exists",
        title: "a checkpoint with that name exists",
        patterns: &[
            r"checkpoint with name [^ ]+ already exists for container",
            // Docker 1.13 and 17.0x said it with the directory it could not make.
            r"mkdir [^ ]*/checkpoints/[^ ]+: *file exists",
        ],
        // The same, wrapped before `file exists` when pasted.
        weak: &[r"mkdir [^ ]*/checkpoints/[^ ]+: *$"],
        cause: "checkpoint names are unique per container",
        fix: &["docker checkpoint rm CONTAINER NAME, or pick a new name"],
        samples: &[
            "Error response from daemon: checkpoint with name cp1 already exists for container bela",
            "Error response from daemon: Cannot checkpoint container cr: rpc error: code = 6 desc = mkdir /var/lib/docker/containers/c4ba/checkpoints/checkpoint2: file exists",
            "Error response from daemon: Cannot checkpoint container cr: rpc error: code = 6 desc = mkdir /var/lib/docker/containers/c4ba/checkpoints/checkpoint2:",
        ],
        ..D
    },
    Entry {
        id: "checkpoint-not-found",
        title: "no checkpoint by that name",
        patterns: &[
            r"checkpoint [^ ]+ does not exist for container",
            r"invalid checkpoint ID",
        ],
        cause: "the checkpoint name does not match one of the container's checkpoints",
        fix: &["name it as `docker checkpoint ls CONTAINER` lists it"],
        samples: &[
            "Error response from daemon: checkpoint cp9 does not exist for container bela",
            "Error response from daemon: invalid checkpoint ID",
        ],
        ..D
    },
    Entry {
        id: "restore-content-exists",
        title: "an immediate restore raced containerd's garbage collection",
        patterns: &[
            r"failed to upload checkpoint to containerd: commit failed: content sha256:[0-9a-f]+: already exists",
        ],
        cause: "docker checkpoint create leaves the checkpoint's blobs in containerd's content store until its GC runs (about 2 s); the restore re-uploads the same digest (moby#42900)",
        fix: &[
            "retry after 1-2 s",
            "or remove the blobs: ctr -n moby content rm DIGEST",
        ],
        links: &["https://github.com/moby/moby/issues/42900"],
        samples: &[
            "Error response from daemon: failed to upload checkpoint to containerd: commit failed: content sha256:5d41402abc4b2a76b9719d911017c592: already exists",
        ],
        ..D
    },
    Entry {
        id: "restore-digest-not-found",
        title: "docker 25.0.0-25.0.3 restore regression",
        patterns: &[r"failed to create task for container: content digest [^ ]+: not found"],
        cause: "a regression in docker 25.0.0 to 25.0.3",
        fix: &["upgrade docker to >= 25.0.4"],
        samples: &[
            "Error response from daemon: failed to create task for container: content digest sha256:abc123: not found: unknown",
        ],
        ..D
    },
    Entry {
        id: "restore-netns",
        title: "docker >= 28 cannot restore into a none or bridge network",
        patterns: &[r"bind-mount /proc/0/ns/net -> [^ ]+: no such file or directory"],
        cause: "docker >= 28 sets up the network namespace from the task's pid before containerd has restored it (pid 0); containerd#12141, moby#50750",
        fix: &[
            "--network host, or --network container:HOLDER (a plain sleeping container owns the network)",
            "or create the container through the API with \"NetworkDisabled\": true",
        ],
        links: &["https://github.com/moby/moby/issues/50750"],
        samples: &[
            "Error response from daemon: bind-mount /proc/0/ns/net -> /var/run/docker/netns/3d6232adf17d: no such file or directory",
        ],
        ..D
    },
    Entry {
        id: "restore-custom-dir",
        title: "restore cannot read a custom checkpoint directory",
        // `custome` is how one report retyped it.
        patterns: &[r"checkpointdir is not supported"],
        // Docker 17.0x looked for DIR/NAME; a start command naming a dir.
        weak: &[
            r"shim error: open [^ ]*/config\.json: no such file or directory",
            r"docker (container )?start .*--checkpoint-dir",
        ],
        supersedes: &["restore-silently-skipped"],
        cause: "docker restores only from /var/lib/docker/containers/FULL-ID/checkpoints/NAME: since 17.12 it refuses --checkpoint-dir on start (moby#37344), and 17.0x looked for DIR/NAME where create had written DIR/CONTAINER-ID/checkpoints/NAME",
        fix: &[
            "copy the checkpoint into /var/lib/docker/containers/FULL-ID/checkpoints/ and restore without --checkpoint-dir",
        ],
        links: &["https://github.com/moby/moby/issues/37344"],
        samples: &[
            "Error response from daemon: custom checkpointdir is not supported",
            "Error response from daemon: shim error: open /tmp/checkpoint2/config.json: no such file or directory",
            "$ docker start --checkpoint-dir=/tmp --checkpoint=checkpoint2 looper-clone",
        ],
        ..D
    },
    Entry {
        id: "restore-address-in-use",
        title: "the container's IP address changed",
        patterns: &[
            r"Can('|’)?t bind inet socket .*Cannot assign requested address",
            r"Can('|’)?t connect inet socket back",
        ],
        cause: "sockets bound to the container's old address (its established connections, or a listener bound to that address) cannot come back: docker gave it another address (the default bridge hands out the lowest free one at each start, so after a reboot another container may hold it)",
        fix: &[
            "add `tcp-close` to /etc/criu/runc.conf (dockpoint enable NAME --tcp-close): established connections then come back closed and the restore works on the new address",
            "a listener bound to the old address needs that address: listen on 0.0.0.0, or give the container a fixed one (a user-defined network and --ip)",
        ],
        confidence: Likely,
        samples: &[
            "Error (criu/sk-inet.c:835): inet: Can't bind inet socket (id 115): Cannot assign requested address",
            "Error (criu/sk-inet.c:960): inet: Can't connect inet socket back",
        ],
        ..D
    },
    Entry {
        id: "cpu-mismatch",
        title: "the checkpoint came from a host with another CPU",
        patterns: &[
            r"FPU feature required by image is not supported on host",
            r"CPU instruction capabilities do not match run time",
            r"CPU capabilities do not match run time",
            r"CPU xsave (max )?size mismatch",
            r"CPU xfeatures has unsupported bits",
        ],
        cause: "the image needs CPU features this host lacks",
        fix: &["restore on the same CPU model; check with criu cpuinfo check"],
        samples: &[
            "Error (criu/arch/x86/cpu.c:412): cpu: FPU feature required by image is not supported on host (fpu:1 fxsr:1 osxsave:0 xsaves:0)",
            "Error (criu/cpu.c:133): CPU instruction capabilities do not match run time",
            "Error (criu/arch/x86/cpu.c:390): cpu: CPU capabilities do not match run time",
            "Error (criu/arch/x86/cpu.c:348): cpu: CPU xsave size mismatch (1088/2696)",
            "Error (criu/arch/x86/cpu.c:340): cpu: CPU xfeatures has unsupported bits (0xe0)",
        ],
        ..D
    },
    Entry {
        id: "restore-silently-skipped",
        title: "docker start --checkpoint may have restored nothing",
        patterns: &[r"docker (container )?start --checkpoint"],
        cause: "docker start --checkpoint on a container that is still running prints nothing, exits 0 and ignores the checkpoint (some 19.03/20.10 releases also restart the app from scratch)",
        fix: &[
            "docker stop NAME first, then docker start --checkpoint CP NAME",
            "verify the state continued before telling the app (BELA's SIGHUP)",
        ],
        confidence: Possible,
        samples: &["$ docker start --checkpoint cp1 bela"],
        ..D
    },
    Entry {
        id: "container-gone",
        title: "the container no longer exists (was it started with --rm?)",
        patterns: &[r"No such container: "],
        cause: "a container started with --rm is removed when the checkpoint stops it, together with its checkpoints (seen with docker 26.1.5: the checkpoint prints its name, then `docker start --checkpoint` says `No such container`)",
        fix: &[
            "recreate the container without --rm and checkpoint again",
            "check: docker inspect -f '{{.HostConfig.AutoRemove}}' NAME",
        ],
        confidence: Possible,
        samples: &["Error response from daemon: No such container: rm1"],
        ..D
    },
    Entry {
        id: "loopback-down",
        title: "the network namespace's loopback is down",
        patterns: &[r"Unable to bind a socket: Cannot assign requested address"],
        // Also what CRIU says when TCP repair is forbidden (EPERM).
        weak: &[r"kerndat_tcp_repair failed"],
        cause: "runc/CRIU run in a network namespace whose lo is down: every dump fails",
        fix: &["bring lo up in that namespace (ip link set lo up)"],
        samples: &[
            "Error (criu/kerndat.c:710): Unable to bind a socket: Cannot assign requested address",
            "Error (criu/kerndat.c:870): kerndat_tcp_repair failed when initializing kerndat.",
        ],
        ..D
    },
    Entry {
        id: "criu-check-failed",
        title: "criu check found a kernel feature CRIU needs missing",
        // What criu check's own probes print (criu/cr-check.c); an Error
        // line explain does not know is left to the doctor's advice.
        patterns: &[
            r"Does not look good",
            r"(map_files|ns_last_pid|sem_next_id)( sysctl)? is inaccessible",
            r"The sock diag infrastructure is incomplete",
            r"System call kcmp is not supported",
            r"prctl: PR_[A-Z_]+ is not supported",
            r"procfs: stat extension is not supported",
            r"SO_PEEK_OFF sockoption doesn('|’)?t work",
            r"Unaligned vmsplice doesn('|’)?t work",
            r"fdinfo doesn('|’)?t contain the",
            r"Unable to dump pending signals",
            r"Your kernel probably lacks the support for mremapping special mappings",
            r"TCP_REPAIR can('|’)?t be enabled for half-closed sockets",
        ],
        cause: "criu check stops at the first kernel feature CRIU requires that is missing or hidden: a kernel built without CONFIG_CHECKPOINT_RESTORE (or the other options CRIU needs), or criu run where /proc and /sys are restricted (inside a container)",
        fix: &[
            "run `criu check -v4` as root on the host and read its first Error line",
            "the kernel options CRIU needs: https://criu.org/Installation#Configuring_the_kernel",
        ],
        links: &["https://criu.org/Installation"],
        confidence: Likely,
        samples: &[
            "Warn  (criu/cr-check.c:1632): Does not look good.",
            "Error (criu/cr-check.c:124): /proc/<pid>/map_files is inaccessible: No such file or directory",
            "The sock diag infrastructure is incomplete.",
            "Error (criu/cr-check.c:160): /proc/sys/kernel/ns_last_pid sysctl is inaccessible: Read-only file system",
            "Error (criu/cr-check.c:191): System call kcmp is not supported: Function not implemented",
            "Error (criu/cr-check.c:470): Unaligned vmsplice doesn't work: Invalid argument",
            "Error (criu/cr-check.c:328): fdinfo doesn't contain the mnt_id field",
            "Your kernel probably lacks the support for mremapping special mappings",
            "Error (criu/cr-check.c:1077): TCP_REPAIR can't be enabled for half-closed sockets",
            "Error (criu/cr-check.c:533): /proc/sys/kernel/sem_next_id is inaccessible: No such file or directory",
            "Error (criu/cr-check.c:207): prctl: PR_GET_TID_ADDRESS is not supported: Invalid argument",
            "procfs: stat extension is not supported",
            "SO_PEEK_OFF sockoption doesn't work.",
            "Error (criu/cr-check.c:567): Unable to dump pending signals: Input/output error",
        ],
        ..D
    },
    Entry {
        id: "file-locks",
        title: "the container holds file locks",
        patterns: &[r"Some file locks are hold by dumping tasks"],
        cause: "a process in the container holds a file lock (flock, fcntl, lease), and CRIU dumps locks only with file-locks, which docker can pass only through /etc/criu/runc.conf",
        fix: &["add `file-locks` to /etc/criu/runc.conf: dockpoint setup --criu-option file-locks"],
        samples: &[
            "Error (criu/file-lock.c:110): Some file locks are hold by dumping tasks! You can try --file-locks to dump them.",
        ],
        ..D
    },
    Entry {
        id: "file-changed",
        title: "a file the container had open changed since the checkpoint",
        patterns: &[r"File .+ has bad size [0-9]+ \(expect [0-9]+\)"],
        cause: "CRIU checks the size of every regular file the processes had open (except O_WRONLY|O_APPEND ones) and refuses to restore when it changed: a log, journal or database on a volume was written after the checkpoint",
        fix: &[
            "restore before anything writes those files again (no cold start in between)",
            "or have the application open such files O_WRONLY|O_APPEND, or close them before the checkpoint",
        ],
        samples: &[
            "    1: Error (criu/files-reg.c:2175): File data/journal.bin has bad size 1048576 (expect 524288)",
        ],
        ..D
    },
    Entry {
        id: "criu-mount-propagation",
        title: "this CRIU cannot restore mounts on this kernel",
        patterns: &[r"Failed to make mount [0-9]+ slave: Invalid argument"],
        cause: "the kernel refuses the mount propagation change CRIU < 4.1.1 makes on restore: do_change_type()'s fix (kernel commit 12f147ddd6de, mainline 6.16, backported to the stable kernels in June 2025)",
        fix: &[
            "install CRIU >= 4.1.1 (on kernels >= 6.16, >= 4.2 for containers with TCP sockets): dockpoint doctor says which this kernel needs, and dockpoint setup the ways to it on this host",
        ],
        links: &["https://github.com/checkpoint-restore/criu/issues/2694"],
        samples: &[
            "(00.233410)      1: Error (criu/mount-v2.c:983): mnt-v2: Failed to make mount 402 slave: Invalid argument",
        ],
        ..D
    },
];
