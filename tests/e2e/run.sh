#!/usr/bin/env bash
# End-to-end tests of dockpoint on real Debian hosts booted on this machine
# (see lib.sh): real systemd or SysV init, real dockerd, real apt, real CRIU,
# real `docker checkpoint create`. Usage: tests/e2e/run.sh [CASE...]
# Needs root, debootstrap, socat, gpg and apt-ftparchive (apt-utils). Roots
# and the CRIU test repositories (criu-repo.sh) are cached in $E2E_CACHE.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/criu-repo.sh"
REPO=$(cd "$E2E_HERE/../.." && pwd)
CAPTURE=$E2E_WORK/captured

[ "$(id -u)" = 0 ] || die "the e2e tests need root"
for t in debootstrap socat unshare nsenter sysctl gpg gpgconf apt-ftparchive dpkg-deb; do
    command -v "$t" >/dev/null || die "missing $t (apt-get install debootstrap socat gnupg apt-utils)"
done
mkdir -p "$E2E_WORK" "$E2E_LOG" "$CAPTURE"
: > "$E2E_WORK/pids"

cleanup_all() {
    stop_host || true
    local p cg
    # Recorded pids, only while they are still the processes we started.
    while read -r p; do
        [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qE 'socat|pid1\.sh|systemd --system|sleep 3600|http\.server' \
            && kill "$p" 2>/dev/null || true
    done < "$E2E_WORK/pids"
    # Only this run's hosts: another run (its own E2E_WORK) may be booting its own.
    for cg in $(run_cgs); do kill_cgroup "$cg"; done
    rm -rf "$E2E_WORK/hosts"
}
trap cleanup_all EXIT

# --- assertions --------------------------------------------------------------
# Every failed assertion is recorded: a case passes only with none recorded
# (and stops at the first one: cases run under set -e, outside any condition).
fail() { log "ASSERTION FAILED: $*"; echo "$*" >> "$E2E_WORK/failures-$CASE"; return 1; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-value}: expected [$2], got [$1]"; }
expect_in() { case "$1" in *"$2"*) ;; *) fail "${3:-text} does not contain [$2]: ${1:0:2000}";; esac; }
expect_not_in() { case "$1" in *"$2"*) fail "${3:-text} contains [$2]";; *) ;; esac; }
expect_match() { printf '%s' "$1" | grep -qiE -- "$2" || fail "${3:-text} does not match /$2/: ${1:0:2000}"; }
# jq-like look-ups in dockpoint's JSON report.
# A top-level field of a JSON report (lists joined by newlines).
jget() { /usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("\n".join(map(str,v)) if isinstance(v,list) else ("" if v is None else v))' "$1" "$2"; }
step() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=[x for x in d["steps"] if x["id"]==sys.argv[2]][0]; v=s.get(sys.argv[3]); print("" if v is None else v)' "$1" "$2" "$3"; }

# --- helpers on the booted host ------------------------------------------------
# dockpoint from its Debian package (built once by main: make deb), as an
# operator installs it: every case also tests the package.
install_dockpoint() {
    cp "$DEB" "$HOST_ROOT/var/tmp/dockpoint.deb"
    local rc; rc=$(hx_rc dpkg -i /var/tmp/dockpoint.deb)
    rm -f "$HOST_ROOT/var/tmp/dockpoint.deb"
    expect_eq "$rc" 0 "dpkg -i dockpoint.deb"
}
# dockpoint inside the host; JSON report to $1, human logs to the case log; exit code echoed.
dockpoint_json() {
    local out=$1; shift
    local rc=0
    hx dockpoint setup --yes --format json "$@" > "$out" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    echo "$rc"
}
# dockpoint doctor inside the host; JSON to $1; exit code echoed.
doctor_json() {
    local out=$1; shift
    local rc=0
    hx dockpoint doctor --format json "$@" > "$out" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    echo "$rc"
}
check() { # check JSON ID [CONTAINER] FIELD
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=[x for x in d["checks"] if x["id"]==sys.argv[2] and (sys.argv[3]=="" or x.get("container")==sys.argv[3])][0]; print(c[sys.argv[4]] or "")' "$1" "$2" "$3" "$4"
}
docker_up() {
    local i; for i in $(seq 1 100); do hx docker info >/dev/null 2>&1 && return 0; sleep 0.2; done
    fail "docker did not come up"
}
# A checksum of what setup may touch: /etc/apt, /etc/criu, /etc/docker, apt's
# lists and dpkg's state.
state_sum() { hx sh -c 'find /etc/apt /etc/criu /etc/docker /var/lib/apt/lists /var/lib/dpkg -xdev -type f 2>/dev/null | sort | xargs -r md5sum | md5sum'; }
# A command inside the host, its output to the case log; exit code echoed.
hx_rc() { local rc=0; hx "$@" >>"$E2E_LOG/$CASE.log" 2>&1 || rc=$?; echo "$rc"; }
# /etc/apt's files and the package set (with states and versions).
apt_and_packages() { hx sh -c 'find /etc/apt -type f | sort | xargs -r sha256sum; dpkg-query -W -f "\${db:Status-Abbrev} \${Package} \${Version}\n"'; }
# None of the files a CRIU source writes (see criu-repo.sh's case).
no_criu_source_files() {
    local f
    f=$(hx sh -c 'find /etc/apt /var/lib/dockpoint \( -name "dockpoint-criu-*" -o -name "criu-*.installed" \) -print 2>/dev/null' || true)
    [ -z "$f" ] || fail "CRIU source files are there: $f"
}
# The installed packages whose installed version came from the CRIU test repository.
from_criu_repo() {
    hx sh -c 'apt-cache policy $(dpkg-query -W -f "\${Package}\n")' \
        | awk -v url="127.0.0.1:$CRIU_REPO_PORT" '/^[^ ]/ { pkg = $1; sub(/:$/, "", pkg) }
            /^ \*\*\* / { getline; if (index($0, url)) print pkg }' | sort | tr '\n' ' '
}
api_experimental() { hx docker version --format '{{.Server.Experimental}}'; }
dockerd_pid() { hx sh -c 'pidof dockerd' || true; }
busybox_image() { hx docker image inspect e2e/busybox >/dev/null 2>&1 || hx docker import /opt/e2e/busybox.tar e2e/busybox >/dev/null; }
# A container holding an established TCP connection to itself (nc server and client).
tcp_container() {
    # busybox nc ends the connection at EOF on its stdin: keep both stdins open.
    # (A sleeping `sleep 100000` ends at a restore: a loop of short ones.)
    hx docker run -d --name "$1" e2e/busybox sh -c 'while :; do sleep 1; done | nc -l -p 8081 > /dev/null & sleep 0.5; while :; do echo tick; sleep 1; done | nc 127.0.0.1 8081' >/dev/null
    sleep 1.5
    [ "$(hx docker inspect -f '{{.State.Running}}' "$1")" = true ] || fail "container $1 is not running: $(hx docker logs "$1" 2>&1 | tail -n 3)"
}
start_sysv_docker() { hx service docker start >/dev/null; docker_up; }
boot() { # boot ROOTNAME INIT
    local src; src=$(build_root "$1" "$2" "$3")
    boot_host "$(fresh_root "$src" "$CASE")" "$3" "$CASE"
    install_dockpoint
    [ "$3" = sysv ] && start_sysv_docker
    docker_up
}

# cp_json OUT ARGS...: dockpoint ARGS --format json inside the host, the
# report to OUT, stderr to the case's log; the exit code echoed.
cp_json() { local out=$1; shift; local rc=0; hx dockpoint "$@" --format json > "$out" 2>>"$E2E_LOG/$CASE.log" || rc=$?; echo "$rc"; }

# The Debian 13 systemd host with CRIU 4.2.1, installed by dockpoint setup
# from the loopback OBS test repository, and the busybox image.
boot_criu_host() {
    boot trixie-systemd trixie systemd
    criu_repo_serve
    local rc
    rc=$(dockpoint_json "$E2E_WORK/$CASE-setup.json" --criu-source obs --criu-base "$CRIU_REPO_URL")
    expect_eq "$rc" 0 "setup exit code"
    busybox_image
}

# The Engine API client's own test against this host's real dockerd.
api_client_real() { # api_client_real EXPECTED-TEXT
    busybox_image
    [ -n "${API_TESTS:-}" ] || { fail "no library test binary"; return; }
    install -m 755 "$API_TESTS" "$HOST_ROOT/usr/local/bin/dockpoint-api-tests"
    local out rc=0
    out=$(hx env DOCKPOINT_TEST_IMAGE=e2e/busybox dockpoint-api-tests --exact docker::api::tests::docker_real_engine_when_there_is_one --nocapture 2>&1) || rc=$?
    echo "$out" >> "$E2E_LOG/$CASE.log"
    expect_eq "$rc" 0 "API client against the real dockerd"
    expect_in "$out" "the container's life through the API passes"
    expect_in "$out" "$1"
}

# --- the cases -----------------------------------------------------------------

# Debian 13, systemd, docker, no CRIU, experimental off: the distro's CRIU 4.1.1.
case_d13_systemd_distro_criu() {
    boot trixie-systemd trixie systemd
    expect_eq "$(api_experimental)" false "experimental before"
    # What a checkpoint says before setup (for the explain tests).
    busybox_image
    api_client_real "checkpoint list refused (experimental off)"
    hx docker run -d --name pre e2e/busybox sleep 1000 >/dev/null
    hx docker checkpoint create pre cp0 > "$CAPTURE/d13-experimental-off.txt" 2>&1 || true
    expect_in "$(cat "$CAPTURE/d13-experimental-off.txt")" "experimental"
    local j=$E2E_WORK/$CASE.json rc
    # The distro's CRIU cannot checkpoint TCP on this kernel: --yes alone does
    # not install it (in a dry run too), and says the ways.
    rc=$(hx_rc dockpoint setup --dry-run)
    expect_eq "$rc" 1 "dry-run exit code (the plan refuses this CRIU)"
    rc=$(dockpoint_json "$j")
    expect_eq "$rc" 1 "exit code (this CRIU cannot checkpoint TCP here)"
    expect_eq "$(step "$j" criu-install status)" failed "criu-install"
    expect_eq "$(step "$j" criu-install version)" 4.1.1 "the distro's CRIU"
    expect_in "$(step "$j" criu-install message)" "not installed"
    expect_in "$(step "$j" criu-install message)" "Can't get 1:16 opt"
    expect_in "$(step "$j" criu-install message)" "--criu-source debian-testing"
    hx test ! -e /usr/sbin/criu || fail "CRIU was installed though it cannot do the job"
    # The other steps of that run went ahead.
    expect_eq "$(step "$j" runc-conf status)" changed
    expect_eq "$(step "$j" daemon-json status)" changed
    expect_eq "$(step "$j" docker-restart status)" changed
    expect_in "$(step "$j" docker-restart message)" "systemctl restart docker"
    expect_eq "$(api_experimental)" true "experimental after"
    # An explicit --criu-source distro installs it anyway, with the warning.
    local j2=$E2E_WORK/$CASE-anyway.json
    rc=$(dockpoint_json "$j2" --criu-source distro)
    expect_eq "$rc" 1 "exit code (installed anyway, still cannot checkpoint TCP)"
    expect_eq "$(step "$j2" criu-install status)" failed "criu-install"
    expect_eq "$(step "$j2" criu-install method)" apt "criu-install method"
    expect_eq "$(step "$j2" criu-install version)" 4.1.1 "installed CRIU"
    expect_in "$(step "$j2" criu-install message)" "Can't get 1:16 opt"
    expect_in "$(step "$j2" criu-install log)" /var/log/dockpoint/
    hx test -x /usr/sbin/criu || fail "--criu-source distro did not install CRIU"
    api_client_real "checkpoint with exit, then restored"
    expect_eq "$(hx cat /etc/criu/runc.conf)" tcp-established
    # The doctor reports this CRIU's TCP-socket problem.
    local d=$E2E_WORK/$CASE-doctor.json
    rc=$(doctor_json "$d")
    expect_eq "$rc" 1 "doctor exit code"
    expect_eq "$(check "$d" criu.version "" status)" fail "doctor criu.version"
    expect_in "$(check "$d" criu.version "" message)" "Can't get 1:16 opt"
    expect_eq "$(check "$d" docker.experimental "" status)" pass
    expect_eq "$(check "$d" runc-conf.tcp-established "" status)" pass
    # The rest of the setup is real: a container without sockets checkpoints.
    busybox_image
    hx docker run -d --name nosock e2e/busybox sleep 1000 >/dev/null
    hx docker checkpoint create nosock cp1 >/dev/null
    expect_in "$(hx docker checkpoint ls nosock)" cp1 "checkpoint list"
    # And one holding a TCP connection fails the way the doctor will explain.
    tcp_container tcp1
    local err
    err=$(hx docker checkpoint create tcp1 cp1 2>&1 || true)
    expect_in "$err" "criu failed"
    echo "$err" > "$CAPTURE/d13-criu411-tcp-checkpoint.txt"
    hx sh -c 'cat $(ls -t /run/containerd/io.containerd.runtime.v2.task/moby/*/criu-dump.log 2>/dev/null | head -n1)' \
        > "$CAPTURE/d13-criu411-criu-dump.log" 2>/dev/null || true
    expect_in "$(cat "$CAPTURE/d13-criu411-criu-dump.log")" "Can't get 1:16 opt" "criu-dump.log"
    # dockpoint checkpoint stops before docker is called and names the problem.
    local cj=$E2E_WORK/$CASE-checkpoint.json
    rc=0; hx dockpoint checkpoint tcp1 cp2 --format json > "$cj" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    expect_eq "$rc" 1 "dockpoint checkpoint exit code with CRIU 4.1.1"
    expect_eq "$(jget "$cj" status)" refused "dockpoint checkpoint status"
    expect_in "$(jget "$cj" message)" "criu.version"
    expect_in "$(jget "$cj" message)" "Can't get 1:16 opt"
    expect_not_in "$(hx docker checkpoint ls tcp1)" cp2 "tcp1's checkpoints after the refusal"
}

# The same host with --criu-source debian-testing: CRIU 4.2.1 through the pin.
case_d13_systemd_testing_criu() {
    boot trixie-systemd trixie systemd
    local j=$E2E_WORK/$CASE.json rc before after
    before=$(hx dpkg-query -W -f '${Package}\n' | sort)
    # A dry run (with the testing simulation) writes nothing anywhere: not
    # /etc, not apt's state, no log, no work dir.
    local sum0 sum1
    sum0=$(state_sum)
    rc=$(hx_rc dockpoint setup --dry-run --criu-source debian-testing --format json)
    expect_eq "$rc" 0 "dry-run exit code"
    sum1=$(state_sum)
    expect_eq "$sum1" "$sum0" "files after a dry run"
    hx test ! -e /var/log/dockpoint || fail "a dry run created /var/log/dockpoint"
    hx test ! -e /var/lib/dockpoint || fail "a dry run created /var/lib/dockpoint"
    rc=$(dockpoint_json "$j" --criu-source debian-testing)
    expect_eq "$rc" 0 "exit code"
    expect_eq "$(step "$j" criu-install status)" changed
    expect_in "$(step "$j" criu-install version)" 4.2
    expect_in "$(step "$j" criu-install message)" /etc/apt/preferences.d/dockpoint-criu-testing
    expect_in "$(step "$j" criu-install message)" "Looks good."
    hx test -f /etc/apt/preferences.d/dockpoint-criu-testing
    # Only CRIU and its own libraries come from testing.
    after=$(hx dpkg-query -W -f '${Package}\n' | sort)
    local new; new=$(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')
    local from_testing
    from_testing=$(hx sh -c 'for p in $(dpkg-query -W -f "\${Package}\n"); do if apt-cache policy "$p" | grep -A1 "^ \*\*\*" | grep -q testing; then echo "$p"; fi; done' | sort | tr '\n' ' ')
    # Only CRIU's packages and the two libraries it needs newer: no rebuild of
    # a library trixie has (libprotobuf-c1) comes along.
    for p in $from_testing; do
        case " criu libcompel1 libnet9 libnl-3-200 " in *" $p "*) ;; *) fail "$p came from testing ($from_testing)";; esac
    done
    log "new packages: $new; from testing: $from_testing"
    expect_eq "$(api_experimental)" true
    # The doctor is all green on this host.
    local d=$E2E_WORK/$CASE-doctor.json
    rc=$(doctor_json "$d")
    expect_eq "$rc" 0 "doctor exit code"
    expect_eq "$(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["fail"], s["error"], s["warn"])' "$d")" "0 0 0" "doctor fail/error/warn"
    expect_eq "$(check "$d" criu.check "" status)" pass
    expect_eq "$(check "$d" runc-conf.syntax "" status)" pass
    # A container with an established TCP connection checkpoints for real.
    busybox_image
    tcp_container tcp1
    hx docker checkpoint create tcp1 cp1 >/dev/null
    expect_in "$(hx docker checkpoint ls tcp1)" cp1
    # As another user the dry run works: criu check is "not run (needs root)".
    local nr=$E2E_WORK/$CASE-nonroot.json
    rc=0; hx setpriv --reuid=65534 --regid=65534 --clear-groups dockpoint setup --dry-run --format json > "$nr" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    expect_eq "$rc" 0 "non-root dry-run exit code"
    expect_eq "$(step "$nr" criu-install status)" ok "non-root criu-install"
    expect_in "$(step "$nr" criu-install message)" "needs root"
    # A second setup: everything ok, nothing restarted.
    local pid1 pid2; pid1=$(dockerd_pid)
    rc=$(dockpoint_json "$E2E_WORK/$CASE-2.json" --criu-source debian-testing)
    expect_eq "$rc" 0 "second run exit code"
    for s in criu-install runc-conf daemon-json docker-restart; do
        expect_eq "$(step "$E2E_WORK/$CASE-2.json" $s status)" ok "second run $s"
    done
    pid2=$(dockerd_pid)
    expect_eq "$pid2" "$pid1" "dockerd pid (not restarted)"
    # A --rm and a -t container: flagged by the doctor, then their real texts.
    hx docker run -d --rm --name rm1 e2e/busybox sleep 1000 >/dev/null
    hx docker run -d -t --name tty1 e2e/busybox sleep 1000 >/dev/null
    rc=$(doctor_json "$d" --container rm1 --container tty1 --container tcp1)
    expect_eq "$rc" 1 "doctor --container exit code"
    expect_eq "$(check "$d" container.auto-remove rm1 status)" fail "rm1 auto-remove"
    expect_eq "$(check "$d" container.tty tty1 status)" warn "tty1 tty"
    # A warning alone exits 0; --strict makes it fail.
    rc=$(doctor_json "$d" --container tty1 --only container.tty)
    expect_eq "$rc" 0 "doctor exit code with a warning"
    rc=$(doctor_json "$d" --container tty1 --only container.tty --strict)
    expect_eq "$rc" 1 "doctor --strict exit code with a warning"
    expect_eq "$(check "$d" container.tty tty1 status)" fail "tty1 tty with --strict"
    rc=$(doctor_json "$d" --container rm1 --container tty1 --container tcp1)
    expect_eq "$(check "$d" container.auto-remove tty1 status)" pass "tty1 auto-remove"
    expect_eq "$(check "$d" container.checkpoints tcp1 status)" pass
    expect_in "$(check "$d" container.checkpoints tcp1 message)" "cp1"
    { hx docker checkpoint create rm1 cp1 2>&1 || true; sleep 1; hx docker start --checkpoint cp1 rm1 2>&1 || true; } \
        > "$CAPTURE/d13-rm-container.txt"
    hx docker checkpoint create tty1 cp1 > "$CAPTURE/d13-tty-container.txt" 2>&1 || true
    hx sh -c 'cat $(ls -t /run/containerd/io.containerd.runtime.v2.task/moby/*/criu-dump.log | head -n1)' \
        > "$CAPTURE/d13-tty-container-criu-dump.log" 2>/dev/null || true
    # Without tcp-established the seed's documented error comes back.
    hx sh -c 'printf "# no tcp-established\n" > /etc/criu/runc.conf'
    tcp_container tcp2
    local err
    err=$(hx docker checkpoint create tcp2 cp1 2>&1 || true)
    expect_in "$err" "criu failed: type"
    expect_in "$err" "errno 0"
    echo "$err" > "$CAPTURE/d13-criu421-no-tcp-established.txt"
    hx sh -c 'cat $(ls -t /run/containerd/io.containerd.runtime.v2.task/moby/*/criu-dump.log | head -n1)' \
        > "$CAPTURE/d13-criu421-no-tcp-established-criu-dump.log"
    expect_in "$(cat "$CAPTURE/d13-criu421-no-tcp-established-criu-dump.log")" "consider using --tcp-established"
}

# CRIU sources (issue 8) on Debian 13, against real signed repositories served
# on loopback inside the host (criu-repo.sh): the OBS layout (installed, used,
# re-run, undone), a repository signed by another key than the one given, and
# one that would upgrade libc (both refused, nothing changed).
case_d13_criu_sources() {
    boot trixie-systemd trixie systemd
    criu_repo_serve
    local t0=$SECONDS t rc sum0 sum1 base0 j=$E2E_WORK/$CASE.json
    local obs=(--criu-source obs --criu-base "$CRIU_REPO_URL")
    # trixie's libnl-3-200 (3.7) installed first: the source's CRIU needs a
    # newer one, so the install upgrades it and the undo must downgrade it.
    hx apt-get install -y -q --no-install-recommends libnl-3-200 >>"$E2E_LOG/$CASE.log" 2>&1 || fail "installing trixie's libnl-3-200"
    local libnl0; libnl0=$(hx dpkg-query -W -f '${Version}' libnl-3-200)
    base0=$(apt_and_packages)
    # The plan shows the fetched key's fingerprint; a dry run writes nothing.
    sum0=$(state_sum)
    local out; out=$(hx dockpoint setup --dry-run "${obs[@]}" 2>&1) || fail "dry run failed: ${out:0:2000}"
    echo "$out" > "$CAPTURE/d13-obs-dry-run.txt"
    expect_in "$(echo "$out" | tr -d ' ' | tr a-f A-F)" "$CRIU_KEY1_FPR" "the dry run's plan (key 1's fingerprint)"
    expect_eq "$(state_sum)" "$sum0" "files after the obs dry run"
    hx test ! -e /var/lib/dockpoint || fail "the obs dry run created /var/lib/dockpoint"
    no_criu_source_files
    log "obs dry run: $((SECONDS - t0)) s"; t=$SECONDS
    # Installed from the OBS layout: key, deb822 source, pin, undo record.
    rc=$(dockpoint_json "$j" "${obs[@]}")
    expect_eq "$rc" 0 "exit code of --criu-source obs"
    expect_eq "$(step "$j" criu-install status)" changed "criu-install"
    expect_eq "$(step "$j" criu-install method)" obs "criu-install method"
    expect_in "$(step "$j" criu-install version)" "$CRIU_REPO_CRIU_VERSION" "criu-install version"
    hx dpkg --compare-versions "$(step "$j" criu-install version)" ge 4.2 || fail "CRIU $(step "$j" criu-install version) < 4.2"
    local f
    for f in /etc/apt/keyrings/dockpoint-criu-obs.gpg /etc/apt/sources.list.d/dockpoint-criu-obs.sources \
             /etc/apt/preferences.d/dockpoint-criu-obs /var/lib/dockpoint/criu-obs.installed; do
        hx test -s "$f" || fail "$f was not written"
    done
    local src; src=$(hx cat /etc/apt/sources.list.d/dockpoint-criu-obs.sources)
    expect_in "$src" "$CRIU_REPO_URL/repositories/devel:/tools:/criu/Debian_13/" "the .sources file"
    expect_in "$src" "Signed-By: /etc/apt/keyrings/dockpoint-criu-obs.gpg" "the .sources file"
    expect_eq "$(hx dpkg-query -W -f '${Version}' criu)" "$(dpkg-deb -f "$CRIU_REPO"/debs/criu_*.deb Version)" "installed criu"
    # The pin admits only CRIU's own packages: what came from the repository is
    # among them, and its decoy (a dummy iproute2 99.0, which criu recommends)
    # is nobody's candidate.
    local came p; came=$(from_criu_repo)
    log "from the repository: $came"
    expect_in " $came" " criu " "packages from the repository"
    for p in $came; do
        case " $CRIU_REPO_PKGS " in *" $p "*) ;; *) fail "$p came from the CRIU repository ($came)";; esac
    done
    expect_not_in "$(hx apt-cache policy iproute2 | grep Candidate:)" "99.0" "iproute2's candidate (the decoy)"
    expect_not_in "$(hx dpkg-query -W -f '${Version}' iproute2 2>/dev/null || true)" "99.0" "installed iproute2"
    expect_eq "$(api_experimental)" true
    log "obs install: $((SECONDS - t)) s"; t=$SECONDS
    # A container with an established TCP connection checkpoints.
    busybox_image
    tcp_container tcp1
    hx docker checkpoint create tcp1 cp1 >/dev/null
    expect_in "$(hx docker checkpoint ls tcp1)" cp1 "checkpoint list"
    log "checkpoint: $((SECONDS - t)) s"; t=$SECONDS
    # The same command again: everything ok, nothing changed, no restart.
    local pid1; pid1=$(dockerd_pid)
    sum0=$(state_sum)
    rc=$(dockpoint_json "$E2E_WORK/$CASE-2.json" "${obs[@]}")
    expect_eq "$rc" 0 "second run exit code"
    for s in criu-install runc-conf daemon-json docker-restart; do
        expect_eq "$(step "$E2E_WORK/$CASE-2.json" $s status)" ok "second run $s"
    done
    expect_eq "$(state_sum)" "$sum0" "files after the second run"
    expect_eq "$(dockerd_pid)" "$pid1" "dockerd pid (not restarted)"
    log "second run: $((SECONDS - t)) s"; t=$SECONDS
    # The undo: dockpoint's files gone, what it installed purged, /etc/apt and
    # the package set as before.
    hx docker rm -f tcp1 >/dev/null
    rc=$(dockpoint_json "$E2E_WORK/$CASE-undo.json" --remove-criu-source)
    log "undo exit code $rc: $(step "$E2E_WORK/$CASE-undo.json" criu-install status): $(step "$E2E_WORK/$CASE-undo.json" criu-install message)"
    no_criu_source_files
    hx test ! -e /usr/sbin/criu || fail "criu is still installed after the undo"
    expect_in "$(step "$E2E_WORK/$CASE-undo.json" criu-install message)" "downgraded libnl-3-200=$libnl0"
    expect_eq "$(hx dpkg-query -W -f '${Version}' libnl-3-200)" "$libnl0" "libnl-3-200 after the undo"
    local base1; base1=$(apt_and_packages)
    [ "$base1" = "$base0" ] || fail "/etc/apt or the packages differ after the undo: $(diff <(echo "$base0") <(echo "$base1") | head -n 20 | tr '\n' ' ')"
    log "undo: $((SECONDS - t)) s"; t=$SECONDS
    # Signed by another key than the one given: refused, nothing changed.
    local jw=$E2E_WORK/$CASE-wrongkey.json
    sum0=$(state_sum)
    rc=$(dockpoint_json "$jw" --criu-source "$CRIU_REPO_URL/wrongkey/" / --criu-key /opt/e2e/key1.asc)
    expect_eq "$rc" 1 "exit code with the wrong key"
    expect_eq "$(step "$jw" criu-install status)" failed "criu-install with the wrong key"
    expect_match "$(step "$jw" criu-install message)" 'signature|signed|NO_PUBKEY|missing key' "criu-install message with the wrong key"
    expect_eq "$(state_sum)" "$sum0" "files after the wrong key"
    no_criu_source_files
    log "wrongkey: $((SECONDS - t)) s"; t=$SECONDS
    # A repository whose criu would upgrade libc: refused, libc6 named, nothing changed.
    local jl=$E2E_WORK/$CASE-libc.json
    sum0=$(state_sum)
    rc=$(dockpoint_json "$jl" --criu-source "$CRIU_REPO_URL/libc/" / --criu-key /opt/e2e/key1.asc)
    expect_eq "$rc" 1 "exit code with the libc repository"
    expect_eq "$(step "$jl" criu-install status)" failed "criu-install with the libc repository"
    expect_in "$(step "$jl" criu-install message)" libc6 "criu-install message with the libc repository"
    expect_eq "$(state_sum)" "$sum0" "files after the libc repository"
    no_criu_source_files
    hx test ! -e /usr/sbin/criu || fail "criu was installed from the libc repository"
    log "libc: $((SECONDS - t)) s"; t=$SECONDS
    # Interactively (on a pseudo-terminal): the plan first, then where CRIU
    # should come from; the choice (obs) is simulated and the new plan shown
    # before the confirmation, which is cancelled here: nothing changes.
    local tr=$E2E_WORK/$CASE-interactive.txt
    sum0=$(state_sum)
    rc=0
    /usr/bin/python3 "$E2E_HERE/answer.py" "$tr" \
        "CRIU options" "" "where should CRIU come from?" 1 "Apply these changes?" 3 -- \
        nsenter -t "$HOST_PID" -a -r -w env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb NO_COLOR=1 dockpoint setup --criu-base "$CRIU_REPO_URL" \
        >>"$E2E_LOG/$CASE.log" 2>&1 || rc=$?
    cp "$tr" "$CAPTURE/d13-interactive-source.txt"
    expect_eq "$rc" 1 "interactive exit code (cancelled)"
    local order
    order=$(/usr/bin/python3 - "$tr" <<'PY'
import sys
t = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
marks = ["Plan:", "criu-install: where should CRIU come from?", "(--criu-source obs; simulated first)",
         "install CRIU 4.", "Apply these changes?", "Cancelled: nothing was changed."]
at, pos = 0, []
for m in marks:
    i = t.find(m, at)
    pos.append(i)
    if i >= 0:
        at = i + len(m)
print("ok" if all(p >= 0 for p in pos) else "missing " + repr([m for m, p in zip(marks, pos) if p < 0]))
PY
)
    expect_eq "$order" ok "the interactive transcript (plan, question, new plan, confirmation, in that order)"
    expect_eq "$(state_sum)" "$sum0" "files after the cancelled interactive run"
    no_criu_source_files
    log "interactive: $((SECONDS - t)) s; case body $((SECONDS - t0)) s"
}

# Issue 9: dockpoint checkpoint and checkpoints on Debian 13 with CRIU 4.2.1
# (from the loopback OBS layout): refusals before docker is called, a TCP
# container checkpointed, a file held open read-write warned about, prune.
case_d13_checkpoint() {
    boot_criu_host
    local rc j=$E2E_WORK/$CASE
    # A --rm container: refused before docker is called, nothing done.
    hx docker run -d --rm --name rm1 e2e/busybox sleep 1000 >/dev/null
    rc=$(cp_json "$j-rm.json" checkpoint rm1 cp1)
    expect_eq "$rc" 1 "checkpoint of a --rm container"
    expect_eq "$(jget "$j-rm.json" status)" refused "--rm status"
    expect_in "$(jget "$j-rm.json" message)" "container.auto-remove"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' rm1)" true "rm1 still running"
    expect_not_in "$(hx docker checkpoint ls rm1)" cp1 "rm1's checkpoints"
    # An interactive shell on a terminal (-it): refused too.
    hx docker run -d -it --name sh1 e2e/busybox sh >/dev/null
    rc=$(cp_json "$j-it.json" checkpoint sh1 cp1)
    expect_eq "$rc" 1 "checkpoint of an -it shell"
    expect_in "$(jget "$j-it.json" message)" "container.tty"
    expect_not_in "$(hx docker checkpoint ls sh1)" cp1 "sh1's checkpoints"
    # A container holding an established TCP connection: created and stopped.
    tcp_container tcp1
    rc=$(cp_json "$j-tcp.json" checkpoint tcp1 cp1 --yes)
    expect_eq "$rc" 0 "checkpoint of the TCP container"
    expect_eq "$(jget "$j-tcp.json" status)" created "TCP checkpoint status"
    [ "$(jget "$j-tcp.json" size_bytes)" -gt 0 ] || fail "no size for the checkpoint"
    hx test -f "$(jget "$j-tcp.json" record)" || fail "no record beside the checkpoint"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' tcp1)" false "tcp1 after the checkpoint"
    expect_in "$(hx docker checkpoint ls tcp1)" cp1 "tcp1's checkpoints"
    hx dockpoint checkpoint tcp1 cpx > "$CAPTURE/d13-checkpoint-stopped.txt" 2>&1 || true
    # A file held open read-write: --leave-running warns, naming it.
    hx docker run -d --name jr1 e2e/busybox sh -c 'exec 3<>/journal; while :; do echo x >&3; sleep 1; done' >/dev/null
    sleep 1.5
    rc=$(cp_json "$j-jr-a.json" checkpoint jr1 j1 --leave-running --yes)
    expect_eq "$rc" 0 "checkpoint --leave-running"
    expect_in "$(jget "$j-jr-a.json" warnings)" "/journal" "the warnings"
    expect_in "$(jget "$j-jr-a.json" warnings)" "container.open-files" "the warnings"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' jr1)" true "jr1 left running"
    hx dockpoint checkpoint jr1 j1-human --leave-running --yes > "$CAPTURE/d13-checkpoint-leave-running.txt" 2>&1 || true
    rc=$(cp_json "$j-jr-b.json" checkpoint jr1 j2 --leave-running --yes)
    expect_eq "$rc" 0 "second checkpoint --leave-running"
    # The list, newest first; prune keeps one.
    rc=$(cp_json "$j-ls.json" checkpoints jr1)
    expect_eq "$rc" 0 "checkpoints exit code"
    local names; names=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(open(sys.argv[1]))["checkpoints"]))' "$j-ls.json")
    expect_eq "$names" "j2 j1-human j1" "the checkpoints, newest first"
    rc=$(cp_json "$j-prune.json" checkpoints jr1 --prune 1)
    expect_eq "$rc" 0 "prune exit code"
    expect_eq "$(jget "$j-prune.json" pruned)" "$(printf 'j1-human\nj1')" "pruned"
    expect_eq "$(hx docker checkpoint ls jr1 | tail -n +2 | tr -d ' ')" j2 "jr1's checkpoints after prune"
    hx dockpoint checkpoints jr1 > "$CAPTURE/d13-checkpoints.txt" 2>&1 || true
    # Without a terminal, a warning stops the checkpoint unless --yes.
    rc=$(cp_json "$j-jr-noyes.json" checkpoint jr1 jx --leave-running)
    expect_eq "$rc" 1 "checkpoint with warnings and no --yes"
    expect_in "$(jget "$j-jr-noyes.json" message)" "container.open-files" "the refusal"
    expect_not_in "$(hx docker checkpoint ls jr1)" jx "jr1's checkpoints"
    # jr1 kept appending to /journal since j2: the restore refuses before
    # docker is called (jr1 is not even stopped), naming the file.
    local started_at; started_at=$(hx docker inspect -f '{{.State.StartedAt}}' jr1)
    rc=$(cp_json "$j-jr-restore.json" restore jr1 j2 --yes)
    expect_eq "$rc" 1 "restore after --leave-running and a grown journal"
    expect_eq "$(jget "$j-jr-restore.json" status)" refused "its status"
    expect_in "$(jget "$j-jr-restore.json" message)" "/journal" "the refusal"
    expect_in "$(jget "$j-jr-restore.json" message)" "restore.open-files" "the refusal"
    expect_eq "$(hx docker inspect -f '{{.State.Running}} {{.State.StartedAt}}' jr1)" "true $started_at" "jr1 untouched"
    hx dockpoint restore jr1 j2 --yes > "$CAPTURE/d13-restore-refused.txt" 2>&1 || true
    restore_cycles
}

# The counter container: its count lives in memory (a fresh start resets it
# to 0; a restore continues), it writes it to a volume, records each SIGHUP
# with the count then, and holds a TCP listener with one established
# connection (busybox nc to itself; tcp-established is needed to dump it).
counter_container() {
    hx docker run -d --name "$1" -v "/srv/$1:/data" e2e/busybox sh -c \
        'while :; do sleep 1; done | nc -l -p 8081 > /data/recv & sleep 0.3; (while :; do echo tick; sleep 1; done | nc 127.0.0.1 8081) & trap "echo \$n >> /data/hups" HUP; n=0; while :; do n=$((n+1)); echo $n >> /data/seq; sleep 0.2; done' >/dev/null
    wait_for "the counter of $1 to reach 3" 10 sh -c "[ \"\$(tail -n 1 /srv/$1/seq 2>/dev/null || echo 0)\" -ge 3 ]"
    expect_match "$(hx docker exec "$1" cat /proc/net/tcp /proc/net/tcp6)" ' 01 ' "an established connection in $1"
}
# The counter container's count: the last line of its sequence (appended
# one whole line per write, so never a torn value, even when frozen).
count_of() { hx tail -n 1 "/srv/$1/seq"; }
# wait_for WHAT SECS CMD...: until CMD succeeds inside the host.
wait_for() {
    local what=$1 secs=$2 i; shift 2
    for i in $(seq 1 $((secs * 10))); do hx "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "timed out after ${secs}s waiting for $what"
}

# Checkpoint, restore, three times: the count continues, one SIGHUP per
# restore, running; then the newest is the default, a running container is
# stopped first (only with --yes), and an immediate restore beats the GC race.
restore_cycles() {
    local j=$E2E_WORK/$CASE-app rc k v hups paths=""
    counter_container app1
    for k in 1 2 3; do
        rc=$(cp_json "$j-cp$k.json" checkpoint app1 "c$k" --yes)
        expect_eq "$rc" 0 "checkpoint $k"
        v=$(count_of app1)
        # At once: containerd's GC race is likeliest now.
        rc=$(cp_json "$j-r$k.json" restore app1 "c$k")
        expect_eq "$rc" 0 "restore $k: $(jget "$j-r$k.json" message)"
        expect_eq "$(jget "$j-r$k.json" status)" restored "restore $k status"
        expect_eq "$(jget "$j-r$k.json" signal_sent)" SIGHUP "restore $k signal"
        expect_in "$(jget "$j-r$k.json" proof)" "Restore finished successfully" "restore $k proof"
        paths="$paths $(jget "$j-r$k.json" gc_race)"
        wait_for "restore $k's SIGHUP to be recorded" 10 sh -c "[ \$(wc -l < /srv/app1/hups) -ge $k ]"
        wait_for "the count to pass $v after restore $k" 10 sh -c "[ \$(tail -n 1 /srv/app1/seq) -gt $v ]"
        hups=$(hx cat /srv/app1/hups)
        expect_eq "$(echo "$hups" | wc -l)" "$k" "SIGHUPs after restore $k"
        # The count the handler saw continues from the checkpoint: no reset.
        [ "$(echo "$hups" | tail -n 1)" -ge "$v" ] || fail "restore $k: the count restarted ($(echo "$hups" | tail -n 1) < $v)"
        expect_eq "$(hx docker inspect -f '{{.State.Running}}' app1)" true "app1 after restore $k"
    done
    log "GC race path of the three immediate restores:$paths"
    # The purge path: no retry, so a race goes straight to ctr content rm
    # (the race itself comes or not: the path taken is logged).
    paths=""
    for k in 1 2 3; do
        rc=$(cp_json "$j-pcp$k.json" checkpoint app1 "p$k" --yes)
        expect_eq "$rc" 0 "checkpoint p$k"
        rc=$(cp_json "$j-pr$k.json" restore app1 "p$k" --gc-retries 0)
        expect_eq "$rc" 0 "restore p$k without retries: $(jget "$j-pr$k.json" message)"
        paths="$paths $(jget "$j-pr$k.json" gc_race)"
    done
    log "GC race path of three immediate restores without retries:$paths"
    # containerd's copy of each checkpoint in /tmp (containerd#10166) was removed.
    expect_eq "$(hx sh -c 'ls -d /tmp/ctrd-checkpoint* 2>/dev/null | wc -l')" 0 "ctrd-checkpoint copies left in /tmp"
    # The loopback connection came back established, and carries data.
    expect_match "$(hx docker exec app1 cat /proc/net/tcp /proc/net/tcp6)" ' 01 ' "an established connection in app1 after three restores"
    local recv; recv=$(hx sh -c 'wc -c < /srv/app1/recv')
    wait_for "data on the restored connection" 10 sh -c "[ \$(wc -c < /srv/app1/recv) -gt $recv ]"
    hx dockpoint checkpoints app1 > "$CAPTURE/d13-checkpoints-app.txt" 2>&1 || true
    # A checkpoint that does not exist: refused, naming the ones that do.
    rc=$(cp_json "$j-nosuch.json" restore app1 nosuch --yes)
    expect_eq "$rc" 1 "restore of a checkpoint that does not exist"
    expect_match "$(jget "$j-nosuch.json" message)" 'has no checkpoint nosuch \(it has: [^)]*c1' "the refusal"
    # The newest is the default.
    rc=$(cp_json "$j-old.json" checkpoint app1 old1 --leave-running --yes)
    expect_eq "$rc" 0 "checkpoint old1"
    rc=$(cp_json "$j-new.json" checkpoint app1 new1 --yes)
    expect_eq "$rc" 0 "checkpoint new1"
    rc=$(cp_json "$j-newest.json" restore app1 --no-signal)
    expect_eq "$rc" 0 "restore of the newest"
    expect_eq "$(jget "$j-newest.json" checkpoint)" new1 "the checkpoint restored by default"
    expect_eq "$(jget "$j-newest.json" signal_sent)" "" "--no-signal"
    expect_eq "$(hx cat /srv/app1/hups | wc -l)" 6 "no SIGHUP with --no-signal"
    # Running: refused without --yes (no terminal to ask), stopped first with
    # it. (A container holding no growing file: app1's connection keeps
    # writing /data/recv, so its left-running checkpoints are refused.)
    hx docker run -d --name rn1 -v /srv/rn1:/data e2e/busybox sh -c 'n=0; while :; do n=$((n+1)); echo $n >> /data/seq; sleep 0.2; done' >/dev/null
    rc=$(cp_json "$j-rn-cp.json" checkpoint rn1 k1 --leave-running --yes)
    expect_eq "$rc" 0 "checkpoint rn1 --leave-running"
    rc=$(cp_json "$j-running.json" restore rn1 k1)
    expect_eq "$rc" 1 "restore of a running container without --yes"
    expect_in "$(jget "$j-running.json" message)" "restore.running" "the refusal"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' rn1)" true "rn1 left running"
    rc=$(cp_json "$j-running2.json" restore rn1 k1 --yes)
    expect_eq "$rc" 0 "restore of a running container with --yes: $(jget "$j-running2.json" message)"
    expect_eq "$(jget "$j-running2.json" stopped_first)" True "stopped first"
    expect_eq "$(jget "$j-running2.json" status)" restored "status"
    # app1's left-running checkpoint: its connection wrote on, refused.
    rc=$(cp_json "$j-old-r.json" restore app1 old1 --yes)
    expect_eq "$rc" 1 "restore of app1's left-running checkpoint"
    expect_in "$(jget "$j-old-r.json" message)" "/data/recv" "the refusal"
    hx dockpoint checkpoint app1 h1 --yes >/dev/null 2>&1
    hx dockpoint restore app1 h1 > "$CAPTURE/d13-restore.txt" 2>&1 || true
    # --restart always: plain docker's checkpoint gets the container
    # restarted fresh at once; dockpoint's stops it as a manual stop.
    hx docker run -d --restart always --name rplain e2e/busybox sh -c 'while :; do sleep 0.2; done' >/dev/null
    hx docker run -d --restart always --name rdp e2e/busybox sh -c 'while :; do sleep 0.2; done' >/dev/null
    hx docker checkpoint create rplain x1 >/dev/null
    rc=$(cp_json "$j-always.json" checkpoint rdp x1 --yes)
    expect_eq "$rc" 0 "checkpoint of a --restart always container"
    expect_in "$(jget "$j-always.json" warnings)" "container.restart-policy" "its warnings"
    wait_for "docker to restart the plainly checkpointed container" 15 sh -c '[ "$(docker inspect -f "{{.RestartCount}}" rplain)" -ge 1 ]'
    expect_eq "$(hx docker inspect -f '{{.State.Running}} {{.RestartCount}}' rdp)" "false 0" "dockpoint's checkpointed --restart always container"
    rc=$(cp_json "$j-always-r.json" restore rdp x1 --yes)
    expect_eq "$rc" 0 "restore of the --restart always container: $(jget "$j-always-r.json" message)"
}

# Debian 12 on this kernel: CRIU 3.17.1 cannot run; testing is refused (new libc).
case_d12_sysv() {
    boot bookworm-sysv bookworm sysv
    local j=$E2E_WORK/$CASE.json rc
    rc=$(dockpoint_json "$j")
    expect_eq "$rc" 1 "exit code"
    expect_eq "$(step "$j" criu-install status)" failed
    expect_eq "$(step "$j" criu-install version)" 3.17.1
    expect_in "$(step "$j" criu-install message)" "vDSO"
    expect_in "$(step "$j" criu-install message)" "not installed"
    # Debian testing's CRIU needs libc6 >= 2.38; Debian 12 has 2.36: not offered.
    expect_not_in "$(step "$j" criu-install message)" "--criu-source debian-testing" "the ways offered on Debian 12"
    hx test ! -e /usr/sbin/criu || fail "CRIU 3.17.1 was installed though it cannot run here"
    expect_eq "$(step "$j" docker-restart status)" changed
    expect_in "$(step "$j" docker-restart message)" "service docker restart"
    expect_eq "$(api_experimental)" true
    # The CRIU team's OBS project has no Debian_12 repository (HTTP 404 from
    # the local copy of its layout): said so, nothing changed.
    local t0=$SECONDS
    criu_repo_serve
    local sum0; sum0=$(state_sum)
    rc=$(dockpoint_json "$E2E_WORK/$CASE-obs.json" --criu-source obs --criu-base "$CRIU_REPO_URL")
    expect_eq "$rc" 1 "exit code of --criu-source obs on Debian 12"
    expect_eq "$(step "$E2E_WORK/$CASE-obs.json" criu-install status)" failed "criu-install with obs on Debian 12"
    expect_in "$(step "$E2E_WORK/$CASE-obs.json" criu-install message)" "Debian_12"
    expect_in "$(step "$E2E_WORK/$CASE-obs.json" criu-install message)" "404"
    expect_not_in "$(step "$E2E_WORK/$CASE-obs.json" criu-install message)" "--criu-source debian-testing" "the ways offered on Debian 12 after obs"
    expect_eq "$(state_sum)" "$sum0" "files after the refused obs source"
    no_criu_source_files
    log "obs on Debian 12 took $((SECONDS - t0)) s"
    # Installed anyway, on request: the doctor and criu check say why it cannot run.
    rc=$(dockpoint_json "$E2E_WORK/$CASE-anyway.json" --criu-source distro)
    expect_eq "$rc" 1 "exit code with --criu-source distro"
    expect_eq "$(step "$E2E_WORK/$CASE-anyway.json" criu-install version)" 3.17.1
    hx criu check > "$CAPTURE/d12-criu3171-check.txt" 2>&1 || true
    expect_in "$(cat "$CAPTURE/d12-criu3171-check.txt")" "vDSO"
    local d=$E2E_WORK/$CASE-doctor.json
    rc=$(doctor_json "$d")
    expect_eq "$rc" 1 "doctor exit code"
    expect_eq "$(check "$d" criu.version "" status)" fail
    expect_in "$(check "$d" criu.version "" message)" "vDSO"
    expect_eq "$(check "$d" criu.check "" status)" fail
    expect_eq "$(check "$d" docker.init "" status)" pass
    expect_in "$(check "$d" docker.init "" message)" "SysV"
    # Debian testing's CRIU would need a new libc: refused, nothing changed.
    local before after
    before=$(hx sh -c 'find /etc/apt -type f | sort | xargs sha256sum; dpkg-query -W')
    rc=$(dockpoint_json "$E2E_WORK/$CASE-2.json" --criu-source debian-testing)
    after=$(hx sh -c 'find /etc/apt -type f | sort | xargs sha256sum; dpkg-query -W')
    expect_eq "$rc" 1 "testing exit code"
    expect_eq "$(step "$E2E_WORK/$CASE-2.json" criu-install status)" failed
    expect_in "$(step "$E2E_WORK/$CASE-2.json" criu-install message)" "libc6"
    expect_in "$(step "$E2E_WORK/$CASE-2.json" criu-install message)" "nothing was changed"
    [ "$before" = "$after" ] || fail "the refused testing install changed /etc/apt or the packages"
}

# Debian 13 without systemd: docker restarted by its SysV init script.
case_d13_sysv_restart() {
    boot trixie-sysv trixie sysv
    busybox_image
    hx docker run -d --name keep e2e/busybox sleep 1000 >/dev/null
    local j=$E2E_WORK/$CASE.json rc pid1
    pid1=$(dockerd_pid)
    # --no-restart: the file is written, the restart is left with the command.
    rc=$(dockpoint_json "$j" --no-install --no-restart)
    expect_eq "$rc" 0 "exit code with --no-restart"
    expect_eq "$(step "$j" daemon-json status)" changed
    expect_eq "$(step "$j" docker-restart status)" skipped
    expect_in "$(step "$j" docker-restart message)" "service docker restart"
    expect_eq "$(dockerd_pid)" "$pid1" "dockerd pid after --no-restart"
    expect_eq "$(api_experimental)" false
    # The next run restarts: daemon.json says on, the running docker has it off.
    # The plan names the running container the restart stops.
    rc=$(dockpoint_json "$j" --no-install)
    expect_eq "$rc" 0 "exit code"
    expect_eq "$(step "$j" daemon-json status)" ok
    expect_eq "$(step "$j" docker-restart status)" changed
    expect_in "$(step "$j" docker-restart message)" "service docker restart"
    # The plan names the running container the restart stops (this run's report).
    expect_in "$(step "$j" docker-restart message)" "keep"
    expect_eq "$(api_experimental)" true
    [ "$(dockerd_pid)" != "$pid1" ] || fail "dockerd was not restarted"
}

# With --experimental already a flag (from SOURCE): daemon.json left alone,
# docker not restarted.
expect_flag_respected() {
    local j=$E2E_WORK/$CASE.json rc pid1; pid1=$(dockerd_pid)
    rc=$(dockpoint_json "$j" --no-install)
    expect_eq "$rc" 0 "exit code"
    expect_eq "$(step "$j" daemon-json status)" ok
    expect_in "$(step "$j" daemon-json message)" "$1"
    hx test ! -e /etc/docker/daemon.json || fail "daemon.json was created"
    expect_eq "$(step "$j" docker-restart status)" ok
    expect_eq "$(dockerd_pid)" "$pid1" "dockerd pid"
}

# --experimental as a systemd drop-in flag: daemon.json left alone, docker keeps running.
case_flag_systemd() {
    boot trixie-systemd trixie systemd
    hx sh -c 'mkdir -p /etc/systemd/system/docker.service.d && printf "[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock --experimental\n" > /etc/systemd/system/docker.service.d/experimental.conf && systemctl daemon-reload && systemctl restart docker'
    docker_up
    expect_eq "$(api_experimental)" true
    expect_flag_respected "experimental.conf"
    expect_eq "$(hx systemctl is-active docker)" active
    # Experimental on, CRIU missing: what a checkpoint says (for the explain tests).
    busybox_image
    hx docker run -d --name nocriu e2e/busybox sleep 1000 >/dev/null
    hx docker checkpoint create nocriu cp1 > "$CAPTURE/d13-criu-missing.txt" 2>&1 || true
    expect_in "$(cat "$CAPTURE/d13-criu-missing.txt")" "executable file not found"
}

# --experimental in DOCKER_OPTS on the SysV host.
case_flag_sysv() {
    local src; src=$(build_root trixie-sysv trixie sysv)
    boot_host "$(fresh_root "$src" "$CASE")" sysv "$CASE"
    install_dockpoint
    hx sh -c 'echo "DOCKER_OPTS=\"--experimental\"" >> /etc/default/docker'
    start_sysv_docker
    expect_eq "$(api_experimental)" true
    expect_flag_respected "DOCKER_OPTS in /etc/default/docker"
}

# A daemon.json edit that makes dockerd fail to start (injected by a drop-in
# that refuses to start when daemon.json mentions experimental): rollback.
case_rollback_systemd() {
    boot trixie-systemd trixie systemd
    hx sh -c 'mkdir -p /etc/systemd/system/docker.service.d && printf "[Service]\nExecStartPre=/bin/sh -c \"! grep -q experimental /etc/docker/daemon.json\"\n" > /etc/systemd/system/docker.service.d/e2e-fault.conf && systemctl daemon-reload'
    hx sh -c 'printf "{\n  \"log-level\": \"info\"\n}\n" > /etc/docker/daemon.json && systemctl restart docker'
    docker_up
    local j=$E2E_WORK/$CASE.json rc
    rc=$(dockpoint_json "$j" --no-install)
    expect_eq "$rc" 1 "exit code"
    expect_eq "$(step "$j" docker-restart status)" failed
    expect_in "$(step "$j" docker-restart message)" "Rolled back"
    expect_in "$(step "$j" docker-restart message)" "docker is running again"
    expect_eq "$(hx cat /etc/docker/daemon.json)" "$(printf '{\n  "log-level": "info"\n}')" "daemon.json after rollback"
    expect_eq "$(hx systemctl is-active docker)" active
    docker_up
}

# Not a test: `dockpoint setup --yes` on a fresh Debian 13 host against the
# same steps done by hand in a shell script, alternating, in one run.
case_bench_setup_vs_script() {
    local src i t0 t1 dp=() sh=()
    src=$(build_root trixie-systemd trixie systemd)
    local script='set -e
apt-get install -y criu
mkdir -p /etc/criu && echo tcp-established >> /etc/criu/runc.conf
mkdir -p /etc/docker && printf "{\n  \"experimental\": true\n}\n" > /etc/docker/daemon.json
systemctl restart docker
until docker version --format "{{.Server.Experimental}}" | grep -q true; do sleep 0.1; done'
    for i in 1 2 3; do
        boot_host "$(fresh_root "$src" "$CASE")" systemd "$CASE"; install_dockpoint; docker_up
        t0=$(date +%s.%N); hx dockpoint setup --yes >/dev/null 2>&1 || true; t1=$(date +%s.%N)
        dp+=("$(echo "$t1 - $t0" | bc)"); stop_host
        boot_host "$(fresh_root "$src" "$CASE")" systemd "$CASE"; docker_up
        t0=$(date +%s.%N); hx env DEBIAN_FRONTEND=noninteractive sh -c "$script" >/dev/null 2>&1; t1=$(date +%s.%N)
        sh+=("$(echo "$t1 - $t0" | bc)"); stop_host
    done
    local med_dp med_sh
    med_dp=$(printf '%s\n' "${dp[@]}" | sort -n | sed -n 2p)
    med_sh=$(printf '%s\n' "${sh[@]}" | sort -n | sed -n 2p)
    echo "setup --yes on a fresh Debian 13 host: ${dp[*]} s (median $med_dp s); shell script: ${sh[*]} s (median $med_sh s)" | tee "$E2E_WORK/bench.txt" >&2
}

# Not a test: doctor against its slowest probes, on the CRIU 4.2.1 host.
case_bench_doctor() {
    boot trixie-systemd trixie systemd
    hx dockpoint setup --yes --criu-source debian-testing >/dev/null 2>&1
    install -m 755 "$(command -v hyperfine)" "$HOST_ROOT/usr/local/bin/hyperfine"
    hx hyperfine -N --warmup 5 --runs 40 --export-json /root/doctor.json \
        -n "criu check" "criu check" \
        -n "docker info" "docker info" \
        -n "dockpoint doctor" "dockpoint doctor" \
        -n "dockpoint doctor --skip criu.check" "dockpoint doctor --skip criu.check" >/dev/null
    /usr/bin/python3 -c 'import json,sys
r = {x["command"]: x["median"] * 1e3 for x in json.load(open(sys.argv[1]))["results"]}
print("; ".join(f"{k}: {v:.1f} ms" for k, v in r.items()))' "$HOST_ROOT/root/doctor.json" | tee "$E2E_WORK/bench-doctor.txt" >&2
}

# The same on the SysV host: /etc/default/docker (sourced by the init
# script) refuses to start docker when daemon.json mentions experimental.
case_rollback_sysv() {
    local src; src=$(build_root trixie-sysv trixie sysv)
    boot_host "$(fresh_root "$src" "$CASE")" sysv "$CASE"
    install_dockpoint
    hx sh -c 'echo "if grep -q experimental /etc/docker/daemon.json 2>/dev/null; then echo \"e2e fault: refusing to start\" >&2; exit 1; fi" >> /etc/default/docker'
    start_sysv_docker
    local j=$E2E_WORK/$CASE.json rc
    rc=$(dockpoint_json "$j" --no-install)
    expect_eq "$rc" 1 "exit code"
    expect_eq "$(step "$j" docker-restart status)" failed
    expect_in "$(step "$j" docker-restart message)" "service docker restart"
    expect_in "$(step "$j" docker-restart message)" "e2e fault: refusing to start"
    expect_in "$(step "$j" docker-restart message)" "removed /etc/docker/daemon.json (it did not exist before)"
    expect_in "$(step "$j" docker-restart message)" "docker is running again"
    hx test ! -e /etc/docker/daemon.json || fail "daemon.json is still there"
    docker_up
}

# An image build: setup --root on a Debian 13 root that is not booted,
# from the machine. CRIU goes in with apt through chroot; nothing stays mounted.
case_root_image_build() {
    local src R j rc
    src=$(build_root trixie-sysv trixie sysv)
    R=$(fresh_root "$src" "$CASE")
    # The root's apt reaches the mirror directly here (the machine's network).
    rm -f "$R/etc/apt/apt.conf.d/01dockpoint-e2e-proxy"
    local mounts_before; mounts_before=$(cat /proc/self/mountinfo | wc -l)
    j=$E2E_WORK/$CASE.json
    rc=0
    "$REPO/target/release/dockpoint" setup --root "$R" --yes --format json > "$j" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    expect_eq "$rc" 0 "exit code"
    expect_eq "$(step "$j" criu-install status)" changed
    expect_eq "$(step "$j" criu-install method)" apt
    expect_in "$(step "$j" criu-install message)" "chroot"
    expect_in "$(step "$j" criu-install version)" "4."
    [ -x "$R/usr/sbin/criu" ] || fail "criu is not in the image"
    expect_eq "$(cat "$R/etc/criu/runc.conf")" tcp-established
    expect_in "$(cat "$R/etc/docker/daemon.json")" '"experimental": true'
    expect_eq "$(step "$j" docker-restart status)" skipped
    expect_eq "$(cat /proc/self/mountinfo | wc -l)" "$mounts_before" "mounts on the machine after"
    if grep -q " $R/" /proc/self/mountinfo; then fail "something is still mounted under $R"; fi
    # A second run changes nothing.
    rc=0
    "$REPO/target/release/dockpoint" setup --root "$R" --yes --format json > "$j" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    expect_eq "$rc" 0 "second exit code"
    for s in criu-install runc-conf daemon-json; do expect_eq "$(step "$j" $s status)" ok "second run $s"; done
}

ALL_CASES=(d13_systemd_distro_criu d13_systemd_testing_criu d13_criu_sources d13_checkpoint d12_sysv d13_sysv_restart flag_systemd flag_sysv rollback_systemd rollback_sysv root_image_build)
# More cases, one file per subject: each defines case_NAME functions and adds
# the ones CI runs to ALL_CASES (benchmarks are run by name only).
for f in "$E2E_HERE"/cases/*.sh; do [ -e "$f" ] && source "$f"; done

main() {
    local cases=("$@")
    [ ${#cases[@]} -gt 0 ] || cases=("${ALL_CASES[@]}")
    log "building dockpoint (release) and its Debian package (make deb)"
    make -C "$REPO" deb > "$E2E_LOG/make-deb.log" 2>&1 || { tail -n 20 "$E2E_LOG/make-deb.log" >&2; die "make deb failed"; }
    DEB=$(ls -t "$REPO"/target/debian/dockpoint_*.deb | head -n 1)
    log "installing $DEB ($(stat -c %s "$DEB") bytes) on every host"
    # The library's test binary, for the Engine API client against real dockerd.
    API_TESTS=$(cd "$REPO" && cargo test --locked --lib --no-run --message-format=json 2>/dev/null \
        | /usr/bin/python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("profile",{}).get("test") and m["target"]["kind"]==["lib"]: print(m["executable"])')
    # Prepare every root first (cached across runs).
    build_root trixie-systemd trixie systemd >/dev/null
    build_root trixie-sysv trixie sysv >/dev/null
    build_root bookworm-sysv bookworm sysv >/dev/null
    build_root sid-systemd sid systemd >/dev/null
    criu_repo_build
    local sysctl_before; sysctl_before=$(sysctl_snapshot)
    local passed=0 failed=0 names=()
    RUN_CASES="${cases[*]}"
    for CASE in "${cases[@]}"; do
        export CASE
        : > "$E2E_LOG/$CASE.log"
        rm -f "$E2E_WORK/failures-$CASE"
        local t0=$SECONDS rc=0
        # Not in an `if`: bash ignores set -e inside a condition's subshell.
        set +e
        ( set -e; trap stop_host EXIT; "case_$CASE" ) >>"$E2E_LOG/$CASE.log" 2>&1
        rc=$?
        set -e
        if [ "$rc" -eq 0 ] && [ ! -s "$E2E_WORK/failures-$CASE" ]; then
            passed=$((passed + 1)); log "ok   $CASE ($((SECONDS - t0))s)"
        else
            failed=$((failed + 1)); names+=("$CASE"); log "FAIL $CASE ($((SECONDS - t0))s): $(tail -n 5 "$E2E_LOG/$CASE.log" | tr '\n' ' ')"
        fi
        # Safety net: whatever is left in this case's own cgroup is ours.
        kill_cgroup "$(host_cg "$CASE")"
        rm -rf "$E2E_WORK/hosts/$CASE"
    done
    # The harness leaves the machine as it found it.
    CASE=machine_unchanged
    local sysctl_after; sysctl_after=$(sysctl_snapshot)
    local leftover; leftover=$(run_cgs | tr '\n' ' ')
    if [ "$sysctl_before" = "$sysctl_after" ] && [ -z "$leftover" ]; then
        passed=$((passed + 1)); log "ok   machine_unchanged"
    else
        failed=$((failed + 1)); names+=(machine_unchanged)
        log "FAIL machine_unchanged: $(diff <(echo "$sysctl_before") <(echo "$sysctl_after") | head -n 10 | tr '\n' ' ')"
    fi
    log "captured outputs in $CAPTURE; logs in $E2E_LOG"
    [ ${#names[@]} -eq 0 ] || log "failed: ${names[*]}"
    echo "e2e: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# sysctl -a without the counters that move by themselves.
sysctl_snapshot() {
    sysctl -a 2>/dev/null | grep -vE '^(fs\.(dentry-state|inode-nr|inode-state|file-nr|aio-nr)|kernel\.(random\.|ns_last_pid|pty\.nr|sched_)|net\.netfilter\.nf_conntrack_count|fs\.quota\.|kernel\.perf_event|vm\.stat|net\.ipv4\.neigh\..*\.base_reachable_time|net\.ipv6\.neigh\..*\.base_reachable_time)' || true
}

main "$@"
