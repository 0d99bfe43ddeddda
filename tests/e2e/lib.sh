# dockpoint e2e harness: real Debian hosts booted in their own namespaces on
# this machine, with a real dockerd (under systemd or its SysV init script)
# and real apt. Sourced by run.sh. Everything it starts it records by pid and
# stops by pid; every mount lives in the host's private mount namespace and
# dies with it; cgroup directories it made are removed by their own names.
set -euo pipefail

E2E_CACHE=${E2E_CACHE:-/var/cache/dockpoint-e2e}
E2E_WORK=${E2E_WORK:-/var/tmp/dockpoint-e2e}
E2E_LOG=${E2E_LOG:-$E2E_WORK/logs}
E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Bump when the way roots are prepared changes, so cached roots are rebuilt.
E2E_ROOT_VERSION=3

# This run's tag in the names of its hosts' cgroups: two runs (each with its
# own E2E_WORK) never touch each other's hosts, even for cases of one name.
E2E_RUN=$(printf '%s' "$E2E_WORK" | md5sum | cut -c1-8)
# The cgroup of host NAME of this run.
host_cg() {
    local base=/sys/fs/cgroup/unified
    [ -d "$base" ] || base=/sys/fs/cgroup
    echo "$base/dockpoint-e2e-$E2E_RUN-$1"
}
# Every host cgroup of this run.
run_cgs() {
    local cg; for cg in "$(dirname "$(host_cg x)")"/dockpoint-e2e-"$E2E_RUN"-*; do [ -d "$cg" ] && echo "$cg"; done
    return 0
}

log() { printf '[e2e %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# The Debian mirror, from this machine's own apt sources (never hard-coded).
mirror_uri() {
    local uri
    uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list 2>/dev/null \
            | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
    fi
    [ -n "$uri" ] || die "no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    echo "${uri%/}"
}

# host:port of the mirror, for the apt bridge.
mirror_hostport() {
    local rest host port
    rest=$(mirror_uri)
    rest=${rest#http://}
    rest=${rest%%/*}
    host=${rest%%:*}
    port=80
    [ "$host" != "$rest" ] && port=${rest##*:}
    echo "$host:$port"
}

# Run a command in a chroot of ROOT with the machine's /proc, /dev, /sys
# (used only while preparing a root, before it is ever booted).
in_chroot() {
    local root=$1; shift
    unshare -m --propagation private bash -c '
        set -e; R=$1; shift
        mount -t proc proc "$R/proc"; mount --rbind /sys "$R/sys"; mount --rbind /dev "$R/dev"
        exec chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"
    ' _ "$root" "$@"
}

# Prepare (once, cached) a pristine root NAME of Debian SUITE; INIT is
# systemd or sysv. Prints its path. Suites: bookworm, trixie, sid (unstable:
# its Release file is past Valid-Until on the frozen mirror, hence the apt
# option; its docker.io 28 pulls containerd 2.x and runc under those names,
# docker-cli is separate as on trixie, and the masks below hold for its
# systemd 262: boots to `running`).
build_root() {
    local name=$1 suite=$2 init=$3
    local dir=$E2E_CACHE/roots/$name stamp
    stamp="v$E2E_ROOT_VERSION $suite $init"
    if [ -f "$dir/.e2e-ready" ] && [ "$(cat "$dir/.e2e-ready")" = "$stamp" ]; then
        echo "$dir"; return
    fi
    log "building root $name ($suite, $init): debootstrap, about a minute"
    rm -rf "$dir" "$dir.tmp"
    mkdir -p "$dir.tmp" "$E2E_LOG"
    local mirror; mirror=$(mirror_uri)
    debootstrap --variant=minbase "$suite" "$dir.tmp" "$mirror" >"$E2E_LOG/debootstrap-$name.log" 2>&1 \
        || { tail -n 20 "$E2E_LOG/debootstrap-$name.log" >&2; die "debootstrap $suite failed"; }
    local R=$dir.tmp
    cp /etc/resolv.conf "$R/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
    local pkgs="docker.io iptables busybox-static procps"
    [ "$init" = systemd ] && pkgs="$pkgs systemd systemd-sysv dbus"
    in_chroot "$R" apt-get -o Acquire::Check-Valid-Until=false update >"$E2E_LOG/prepare-$name.log" 2>&1
    # docker-cli is its own package (a Recommends of docker.io) from Debian 13 on.
    in_chroot "$R" apt-cache show docker-cli >/dev/null 2>&1 && pkgs="$pkgs docker-cli"
    in_chroot "$R" apt-get install -y --no-install-recommends $pkgs >>"$E2E_LOG/prepare-$name.log" 2>&1 \
        || { tail -n 20 "$E2E_LOG/prepare-$name.log" >&2; die "installing docker into $name failed"; }
    in_chroot "$R" apt-get clean
    rm -f "$R/usr/sbin/policy-rc.d"
    # apt inside the booted host reaches the mirror through the harness's bridge.
    printf 'Acquire::http::Proxy "http://127.0.0.1:3142";\nAcquire::Check-Valid-Until "false";\n' \
        > "$R/etc/apt/apt.conf.d/01dockpoint-e2e-proxy"
    if [ "$init" = systemd ]; then
        # Units that cannot work in a namespace, or would touch the machine.
        for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
                 systemd-udev-trigger.service systemd-udev-settle.service getty@tty1.service \
                 console-getty.service systemd-sysctl.service systemd-binfmt.service \
                 proc-sys-fs-binfmt_misc.automount systemd-modules-load.service \
                 systemd-remount-fs.service systemd-networkd.service systemd-timesyncd.service \
                 sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
                 sys-fs-fuse-connections.mount systemd-journald-audit.socket \
                 apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
                 dpkg-db-backup.timer systemd-tmpfiles-clean.timer; do
            ln -sf /dev/null "$R/etc/systemd/system/$u"
        done
        mkdir -p "$R/etc/systemd/journald.conf.d"
        printf '[Journal]\nStorage=volatile\n' > "$R/etc/systemd/journald.conf.d/e2e.conf"
    else
        # This machine lacks CAP_SYS_RESOURCE: Debian's init script aborts on its
        # ulimit lines. A property of this sandbox, not of the product.
        sed -i -E 's/^(\s*ulimit .*)$/\1 2>\/dev\/null || true/' "$R/etc/init.d/docker"
    fi
    echo "dockpoint-e2e-$name" > "$R/etc/hostname"
    # A busybox image for docker import (no registry here).
    mkdir -p "$R/opt/e2e/img/bin"
    cp "$R/bin/busybox" "$R/opt/e2e/img/bin/busybox"
    for l in sh sleep nc cat echo; do ln -sf busybox "$R/opt/e2e/img/bin/$l"; done
    tar -C "$R/opt/e2e/img" -cf "$R/opt/e2e/busybox.tar" .
    rm -rf "$R/opt/e2e/img"
    echo "$stamp" > "$R/.e2e-ready"
    mv "$R" "$dir"
    echo "$dir"
}

# A fresh copy of pristine root NAME for one case. Prints its path.
fresh_root() {
    local src=$1 case=$2
    local dst=$E2E_WORK/hosts/$case
    rm -rf "$dst"; mkdir -p "$E2E_WORK/hosts"
    cp -a "$src" "$dst"
    echo "$dst"
}

# Boot ROOT as host NAME with INIT (systemd|sysv) in new namespaces.
# Sets HOST_PID (its PID 1, as seen from the machine), HOST_ROOT, HOST_NAME,
# HOST_INIT, HOST_CG; starts the apt bridge.
boot_host() {
    HOST_ROOT=$1 HOST_INIT=$2 HOST_NAME=$3
    HOST_CG=$(host_cg "$HOST_NAME")
    mkdir -p "$E2E_LOG"
    [ -d "$HOST_CG" ] && cg_remove "$HOST_CG"
    mkdir "$HOST_CG"
    (
        echo "$BASHPID" > "$HOST_CG/cgroup.procs"
        exec setsid unshare --pid --fork --mount --uts --ipc --net --cgroup --propagation private \
            "$E2E_HERE/pid1.sh" "$HOST_ROOT" "$HOST_INIT"
    ) >"$E2E_LOG/boot-$HOST_NAME.log" 2>&1 </dev/null &
    local unshare_pid=$! i
    HOST_PID=
    for i in $(seq 1 200); do
        HOST_PID=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}')
        [ -n "$HOST_PID" ] && break
        sleep 0.02
    done
    [ -n "$HOST_PID" ] || die "host $HOST_NAME did not start: $(cat "$E2E_LOG/boot-$HOST_NAME.log")"
    echo "$HOST_PID" >> "$E2E_WORK/pids"
    # Wait until the host has pivoted into its root.
    for i in $(seq 1 250); do
        nsenter -t "$HOST_PID" -m -r test -f /.e2e-ready 2>/dev/null && break
        sleep 0.02
    done
    if [ "$HOST_INIT" = systemd ]; then
        local state=
        for i in $(seq 1 300); do
            state=$(hx systemctl is-system-running 2>/dev/null || true)
            case "$state" in running|degraded) break ;; esac
            sleep 0.1
        done
        case "$state" in running|degraded) ;; *) die "systemd in $HOST_NAME did not come up ($state): $(tail -n 30 "$E2E_LOG/boot-$HOST_NAME.log")" ;; esac
        [ "$state" = degraded ] && log "$HOST_NAME is degraded: $(hx systemctl --failed --no-legend 2>&1 | tr '\n' ' ')"
    fi
    apt_bridge_start
    log "booted $HOST_NAME ($HOST_INIT) as pid $HOST_PID"
}

# Run a command inside the booted host, as root, with a clean environment.
hx() {
    nsenter -t "$HOST_PID" -a -r -w env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}

# The apt bridge: inside the host, 127.0.0.1:3142 forwards over a unix socket
# to the machine side, which forwards to the mirror. Loopback and unix sockets
# only; the test host keeps its own network namespace.
apt_bridge_start() {
    local sock=$E2E_WORK/apt-$HOST_NAME.sock
    rm -f "$sock"
    socat "UNIX-LISTEN:$sock,fork,mode=600" "TCP:$(mirror_hostport)" >/dev/null 2>&1 &
    BRIDGE_PIDS="$!"
    echo "$!" >> "$E2E_WORK/pids"
    local i; for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.02; done
    nsenter -t "$HOST_PID" -n socat TCP-LISTEN:3142,bind=127.0.0.1,reuseaddr,fork "UNIX-CONNECT:$sock" >/dev/null 2>&1 &
    BRIDGE_PIDS="$BRIDGE_PIDS $!"
    echo "$!" >> "$E2E_WORK/pids"
}

# Remove a cgroup directory tree we created (deepest first).
cg_remove() {
    local cg=$1
    [ -d "$cg" ] || return 0
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ ! -d "$cg" ] || log "warning: could not remove $cg"
}

# Kill every process in a cgroup tree of ours (by its own name), then remove it.
kill_cgroup() {
    local cg=$1
    [ -d "$cg" ] || return 0
    log "cleaning up $cg"
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    sleep 0.3
    cg_remove "$cg"
}

# Stop the host: docker's containers first, then poweroff (systemd) or
# docker's init script; the PID namespace dies with its PID 1.
stop_host() {
    [ -n "${HOST_PID:-}" ] || return 0
    if [ -d "/proc/$HOST_PID" ]; then
        hx sh -c 'ids=$(docker ps -aq 2>/dev/null); [ -z "$ids" ] || docker rm -f $ids' >/dev/null 2>&1 || true
        if [ "$HOST_INIT" = systemd ]; then
            kill -s SIGRTMIN+4 "$HOST_PID" 2>/dev/null || true
        else
            hx service docker stop >/dev/null 2>&1 || true
            kill -s TERM "$HOST_PID" 2>/dev/null || true
        fi
        local i; for i in $(seq 1 100); do [ -d "/proc/$HOST_PID" ] || break; sleep 0.1; done
        [ -d "/proc/$HOST_PID" ] && { log "$HOST_NAME did not stop; killing its PID 1"; kill -KILL "$HOST_PID" 2>/dev/null || true; sleep 0.3; }
    fi
    # The apt bridge, and any server a case started in the host's network
    # namespace (HOST_EXTRA_PIDS, e.g. the CRIU test repository).
    local p; for p in ${BRIDGE_PIDS:-} ${HOST_EXTRA_PIDS:-}; do kill "$p" 2>/dev/null || true; done
    BRIDGE_PIDS= HOST_EXTRA_PIDS=
    cg_remove "$HOST_CG"
    rm -f "$E2E_WORK/apt-$HOST_NAME.sock"
    HOST_PID=
}
