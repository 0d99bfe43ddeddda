//! Known checkpoint / restore failures, as data. Ids are the stable ids of
//! ../shared/reference/failure-catalogue.md. Patterns match the meaningful
//! words only (never names, ids, paths, digests, file.c:line numbers or
//! versions), and are written in the subset of regex syntax that both the
//! regex crate and POSIX ERE (`grep -E`) read the same way.

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
    pub patterns: &'static [&'static str],
    pub cause: &'static str,
    pub fix: &'static [&'static str],
    pub links: &'static [&'static str],
    pub confidence: Confidence,
}

use Confidence::*;

/// The generic docker/runc wrapper around every CRIU failure: it says
/// nothing about the cause, which is in the CRIU log named after `path=`.
pub const GENERIC: &str = r"criu failed: type (NOTIFY|DUMP|RESTORE) errno 0";

/// The CRIU log a docker error or journal line names.
pub const LOG_PATH: &str = r"(path=|log file: ?)[ ]*(/[^ :\\]+\.log)";

pub const CATALOGUE: &[Entry] = &[
    Entry {
        id: "tcp-established-missing",
        title: "CRIU was not told to dump established TCP connections",
        patterns: &[r"Connected TCP socket, consider using --tcp-established"],
        cause: "the container has established TCP connections, and CRIU dumps them only with tcp-established, which docker can pass only through /etc/criu/runc.conf",
        fix: &[
            "add the line `tcp-established` (no leading dashes) to /etc/criu/runc.conf: dockpoint setup does it; no docker restart is needed",
        ],
        links: &["https://criu.org/TCP_connection"],
        confidence: Certain,
    },
    Entry {
        id: "container-auto-removed",
        title: "the container was started with --rm",
        patterns: &[
            r"failed to read checkpoint reader: open [^ ]*/checkpoints/[^ ]*cgroup\.img: no such file or directory",
            r"failed to read checkpoint reader: failed to Lchown [^ ]*checkpoints",
            r"is marked for removal and cannot be started",
        ],
        // On docker 26 the checkpoint of a --rm container "succeeds" and the
        // restore finds no container (seen on the e2e host): see LEARNED below.
        cause: "the checkpoint stops the container and --rm (HostConfig.AutoRemove) deletes the container and its directory while the checkpoint is written there",
        fix: &[
            "recreate the container without --rm",
            "check: docker inspect -f '{{.HostConfig.AutoRemove}}' NAME",
        ],
        links: &[],
        confidence: Certain,
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
        links: &[],
        confidence: Certain,
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
        confidence: Certain,
    },
    Entry {
        id: "criu-too-old",
        title: "CRIU is older than runc accepts",
        patterns: &[r"CRIU version [0-9]+ must be [0-9]+ or higher"],
        cause: "runc needs CRIU >= 3.0, and reading /etc/criu/runc.conf needs CRIU >= 3.11",
        fix: &["install a newer CRIU: dockpoint setup reports the version this kernel needs"],
        links: &["https://criu.org/Installation"],
        confidence: Certain,
    },
    Entry {
        id: "criu-kernel-too-new",
        title: "this CRIU cannot run on this kernel (vDSO)",
        patterns: &[
            r"vdso: Unexpected rt vDSO area bounds",
            r"Failed to fill self vdso symtable",
            r"kerndat_vdso_fill_symtable failed",
            r"Could not initialize kernel features detection",
        ],
        cause: "x86_64 kernels >= 6.13 split the vDSO ([vvar_vclock] in /proc/self/maps); CRIU < 4.1 fails every command there",
        fix: &[
            "install CRIU >= 4.1 (>= 4.2 on kernels >= 6.16): dockpoint setup --criu-source debian-testing on Debian 13, the CRIU PPA on Ubuntu",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "criu-socket-options",
        title: "this CRIU cannot dump sockets on this kernel",
        patterns: &[r"Can't get [0-9]+:(16|34) opt"],
        cause: "kernel 6.16 restricted SO_PASSCRED / SO_PASSSEC to unix, netlink and bluetooth sockets; CRIU < 4.2 asks for them on every socket, so no container with a TCP socket can be checkpointed (CRIU #2705, #2718)",
        fix: &["install CRIU >= 4.2: dockpoint setup --criu-source debian-testing on Debian 13"],
        links: &["https://github.com/checkpoint-restore/criu/issues/2705"],
        confidence: Certain,
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
        links: &[],
        confidence: Likely,
    },
    Entry {
        id: "criu-no-capability",
        title: "CRIU runs without the privileges it needs",
        patterns: &[
            r"CRIU needs to have the CAP_SYS_ADMIN or the CAP_CHECKPOINT_RESTORE capability",
            r"Running as non-root requires '--unprivileged'",
        ],
        cause: "CRIU was run without privileges (rootless docker, or a non-root run)",
        fix: &["checkpoint with rootful docker, as root"],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "runc-conf-invalid",
        title: "/etc/criu/runc.conf has a line CRIU rejects",
        patterns: &[
            r"criu: unrecognized option '--",
            r"Unsupported configuration file format",
        ],
        cause: "a bad line in /etc/criu/runc.conf (leading dashes, an unknown option, CRLF endings, an unclosed quote) makes CRIU reject the file, which breaks every checkpoint and restore on the host",
        fix: &[
            "lint it: criu --config /etc/criu/runc.conf -V",
            "dockpoint setup repairs leading dashes and, with --repair, the rest",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "daemon-flag-conflict",
        title: "a key is set both as a dockerd flag and in daemon.json",
        patterns: &[
            r"the following directives are specified both as a flag and in the configuration file",
        ],
        cause: "dockerd refuses to start when a key is in daemon.json and also a flag (unit ExecStart, drop-ins, DOCKER_OPTS in /etc/default/docker or /etc/conf.d/docker)",
        fix: &[
            "keep the setting in one place: remove it from daemon.json or from the flags, then systemctl restart docker",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "daemon-json-invalid",
        title: "dockerd rejects daemon.json",
        patterns: &[
            r"unable to configure the Docker daemon with file [^ ]+: ",
            r"cannot unmarshal [a-z]+ into Go struct field [A-Za-z.]*experimental",
            r"the following directives don't match any configuration option",
        ],
        cause: "daemon.json is strict JSON (no comments, no trailing commas) with known keys and typed values (\"experimental\": true, not \"true\")",
        fix: &[
            "fix the file (dockpoint setup names the line and repairs the experimental key), then systemctl restart docker",
        ],
        links: &[],
        confidence: Certain,
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
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "container-tty",
        title: "the container has a terminal (-t)",
        patterns: &[
            r"dev/console doesn't have a proper root mount",
            r"Task attached to shell terminal",
            r"Don't have tty to inherit session from",
        ],
        cause: "a container started with -t (and a shell on its terminal) cannot be checkpointed",
        fix: &["recreate the container without -t"],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "ghost-file-limit",
        title: "a deleted-but-open file is larger than CRIU's ghost limit",
        patterns: &[r"Can't dump ghost file .* of [0-9]+ size, increase limit"],
        cause: "deleted-but-open files over 1 MiB are refused (JVMs extract JNI libraries to /tmp and delete them)",
        fix: &[
            "add `ghost-limit 100M` to /etc/criu/runc.conf: dockpoint setup --criu-option 'ghost-limit 100M'",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "in-flight-connections",
        title: "half-open connections on a listening socket",
        patterns: &[
            r"In-flight connection",
            r"In-flight connections can be ignored with the --skip-in-flight option",
        ],
        cause: "connections not yet accepted by the application cannot be dumped",
        fix: &[
            "add `skip-in-flight` to /etc/criu/runc.conf: dockpoint setup --criu-option skip-in-flight",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "external-unix-socket",
        title: "a unix socket connected outside the container",
        patterns: &[
            r"External socket is used",
            r"Can't dump half of stream unix connection",
        ],
        cause: "a socket connected to something outside the container (a bind-mounted docker.sock, syslog)",
        fix: &[
            "remove the outside connection (the bind mount)",
            "for datagram sockets: `ext-unix-sk` in /etc/criu/runc.conf",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "network-lock-failed",
        title: "CRIU could not lock the container's network",
        patterns: &[
            r"execvp\(.?.?iptables-restore",
            r"iptables-restore: invalid option -- 'w'",
            r"CHAIN_ADD failed",
            r"CHAIN_USER_DEL failed",
            r"Nftables based locking requires libnftables",
        ],
        cause: "CRIU locks the container network with iptables (or nftables) while it dumps",
        fix: &[
            "install iptables",
            "or `network-lock nftables` in /etc/criu/runc.conf where `criu check --feature network_lock_nftables` passes",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "apparmor-denied",
        title: "AppArmor blocked CRIU",
        patterns: &[
            r"Unable to connect a transport socket: Permission denied",
            r"can't write lsm profile",
            r"err scanfing: Invalid argument",
            r"apparmor=.?.?DENIED",
        ],
        cause: "AppArmor blocked CRIU's parasite, or the container's profile is not loaded",
        fix: &[
            "upgrade CRIU",
            "only to confirm: --security-opt apparmor=unconfined",
        ],
        links: &[],
        confidence: Likely,
    },
    Entry {
        id: "overlayfs-mount-id",
        title: "overlayfs reports wrong mount ids",
        patterns: &[r"Can't lookup mount=[0-9]+ for fd=-?[0-9]+ path="],
        cause: "Ubuntu-patched overlayfs reports wrong mount ids",
        fix: &["a newer kernel, or another storage driver"],
        links: &[],
        confidence: Likely,
    },
    Entry {
        id: "mptcp-socket",
        title: "an MPTCP socket",
        patterns: &[r"Unsupported proto 262 for socket"],
        cause: "Go >= 1.24 programs listen with MPTCP, which CRIU cannot dump",
        fix: &["GODEBUG=multipathtcp=0 in the container's environment"],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "seccomp-suspend",
        title: "the kernel cannot suspend seccomp",
        patterns: &[r"suspending seccomp failed: Invalid argument"],
        cause: "kernels < 4.3 lack PTRACE_O_SUSPEND_SECCOMP",
        fix: &["a newer kernel"],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "freezer-unsupported",
        title: "no freezer for this container's cgroup",
        patterns: &[r"freezer not supported: openat2 [^ ]*cgroup\.freeze"],
        cause: "checkpointing a container that was itself restored into another cgroup (cgroup v2)",
        fix: &["checkpoint the original container"],
        links: &[],
        confidence: Likely,
    },
    Entry {
        id: "container-not-running",
        title: "the container is not running",
        patterns: &[r"container [^ ]+ is not running"],
        cause: "only running containers can be checkpointed",
        fix: &["docker start NAME, then checkpoint it"],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "checkpoint-exists",
        title: "a checkpoint with that name exists",
        patterns: &[r"checkpoint with name [^ ]+ already exists for container"],
        cause: "checkpoint names are unique per container",
        fix: &["docker checkpoint rm CONTAINER NAME, or pick a new name"],
        links: &[],
        confidence: Certain,
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
        links: &[],
        confidence: Certain,
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
        confidence: Certain,
    },
    Entry {
        id: "restore-digest-not-found",
        title: "docker 25.0.0-25.0.3 restore regression",
        patterns: &[r"failed to create task for container: content digest [^ ]+: not found"],
        cause: "a regression in docker 25.0.0 to 25.0.3",
        fix: &["upgrade docker to >= 25.0.4"],
        links: &[],
        confidence: Certain,
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
        confidence: Certain,
    },
    Entry {
        id: "restore-custom-dir",
        title: "restore cannot read a custom checkpoint directory",
        patterns: &[r"custom checkpointdir is not supported"],
        cause: "restore reads only /var/lib/docker/containers/FULL-ID/checkpoints/NAME",
        fix: &[
            "copy the checkpoint into /var/lib/docker/containers/FULL-ID/checkpoints/ and restore without --checkpoint-dir",
        ],
        links: &[],
        confidence: Certain,
    },
    Entry {
        id: "restore-address-in-use",
        title: "the container's IP address changed",
        patterns: &[
            r"Can't bind inet socket .*Cannot assign requested address",
            r"Can't connect inet socket back",
        ],
        cause: "established connections are restored on the old IP, which the new container does not have",
        fix: &[
            "restore into the same container with a fixed --ip",
            "or `tcp-close` in /etc/criu/runc.conf",
        ],
        links: &[],
        confidence: Likely,
    },
    Entry {
        id: "cpu-mismatch",
        title: "the checkpoint came from a host with another CPU",
        patterns: &[
            r"FPU feature required by image is not supported on host",
            r"CPU instruction capabilities do not match run time",
        ],
        cause: "the image needs CPU features this host lacks",
        fix: &["restore on the same CPU model; check with criu cpuinfo check"],
        links: &[],
        confidence: Certain,
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
        links: &[],
        confidence: Possible,
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
        links: &[],
        confidence: Possible,
    },
    Entry {
        id: "loopback-down",
        title: "the network namespace's loopback is down",
        patterns: &[
            r"kerndat_tcp_repair failed",
            r"Unable to bind a socket: Cannot assign requested address",
        ],
        cause: "runc/CRIU run in a network namespace whose lo is down: every dump fails",
        fix: &["bring lo up in that namespace (ip link set lo up)"],
        links: &[],
        confidence: Certain,
    },
];
