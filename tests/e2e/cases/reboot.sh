# Reboots of a test host (for restore at boot), sourced by run.sh.
#
# reboot_host powers the booted host off the way a machine's shutdown does
# (systemd's poweroff: docker stops its containers, nothing is removed) and
# boots it again from the SAME root directory: a new boot with a fresh /run
# and /tmp (tmpfs) and a new network namespace, but the same /etc,
# /var/lib/docker and /var/lib/containerd.

# reboot_host: poweroff, then boot_host on HOST_ROOT again. Sets
# REBOOT_POWEROFF_S and REBOOT_BOOT_S (seconds, to the millisecond).
reboot_host() {
    [ -n "${HOST_PID:-}" ] && [ -d "/proc/$HOST_PID" ] || die "reboot_host: no booted host"
    local t0 t1 t2 i n
    t0=$(date +%s.%N)
    if [ "$HOST_INIT" = systemd ]; then
        kill -s SIGRTMIN+4 "$HOST_PID"
    else
        hx service docker stop >/dev/null 2>&1 || true
        kill -s TERM "$HOST_PID"
    fi
    # A container that ignores SIGTERM costs docker's stop timeout (10 s):
    # wait well past it, as a machine's shutdown does.
    for i in $(seq 1 600); do [ -d "/proc/$HOST_PID" ] || break; sleep 0.1; done
    [ ! -d "/proc/$HOST_PID" ] || die "reboot_host: $HOST_NAME did not power off within 60 s"
    t1=$(date +%s.%N)
    # The PID namespace died with its PID 1: nothing of the old boot runs.
    local left; left=$(find "$HOST_CG" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
    [ -z "${left// /}" ] || die "reboot_host: processes left in $HOST_CG after the poweroff: $left"
    # While the machine is off: a case may change its disk (REBOOT_BETWEEN).
    if [ -n "${REBOOT_BETWEEN:-}" ]; then eval "$REBOOT_BETWEEN"; fi
    # The apt bridge and the case's servers lived in the old network namespace.
    local p; for p in ${BRIDGE_PIDS:-} ${HOST_EXTRA_PIDS:-}; do kill "$p" 2>/dev/null || true; done
    BRIDGE_PIDS= HOST_EXTRA_PIDS=
    rm -f "$E2E_WORK/apt-$HOST_NAME.sock"
    n=1; while [ -e "$E2E_LOG/boot-$HOST_NAME-$n.log" ]; do n=$((n + 1)); done
    cp "$E2E_LOG/boot-$HOST_NAME.log" "$E2E_LOG/boot-$HOST_NAME-$n.log" 2>/dev/null || true
    boot_host "$HOST_ROOT" "$HOST_INIT" "$HOST_NAME"
    [ "$HOST_INIT" = sysv ] && start_sysv_docker
    docker_up
    t2=$(date +%s.%N)
    REBOOT_POWEROFF_S=$(printf '%.3f' "$(echo "$t1 - $t0" | bc)")
    REBOOT_BOOT_S=$(printf '%.3f' "$(echo "$t2 - $t1" | bc)")
    log "rebooted $HOST_NAME: poweroff ${REBOOT_POWEROFF_S} s, boot to docker up ${REBOOT_BOOT_S} s"
}

# dockpoint checkpoint (JSON to $1).
rb_checkpoint() { local out=$1; shift; cp_json "$out" checkpoint "$@"; }
# A container's address (on whichever single network it is on).
rb_ip() { hx docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
rb_state() { hx docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"; }
# The TCP sockets of a running container: "local remote state" a line,
# IPv4 (and v4-mapped IPv6) addresses decoded, states by name.
rb_tcp() {
    hx docker exec "$1" cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | /usr/bin/python3 -c '
import sys
st = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
      "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}
def a(x):
    h, p = x.split(":")
    b = bytes.fromhex(h)
    if len(b) == 16:  # IPv6, as four host-order 32-bit words
        b = b"".join(b[i:i + 4][::-1] for i in range(0, 16, 4))
        if b[:12] != b"\0" * 10 + b"\xff\xff":
            return "[" + ":".join(b[i:i + 2].hex() for i in range(0, 16, 2)) + "]:" + str(int(p, 16))
        b = b[12:]
    else:
        b = b[::-1]
    return ".".join(str(x) for x in b) + ":" + str(int(p, 16))
for l in sys.stdin:
    f = l.split()
    if f and f[0] != "sl":
        print(a(f[1]), a(f[2]), st.get(f[3], f[3]))'
}
rb_established() { rb_tcp "$1" | grep ' ESTABLISHED$' || true; }
# TCP resets sent so far by the peer of bc-* (peer2) or hp-* (the host itself).
rb_out_rsts() {
    local snmp
    case $1 in
        bc-*) snmp=$(hx docker exec peer2 cat /proc/net/snmp) ;;
        *) snmp=$(hx cat /proc/net/snmp) ;;
    esac
    echo "$snmp" | awk '$1 == "Tcp:" { if (!h) { for (i = 1; i <= NF; i++) if ($i == "OutRsts") c = i; h = 1 } else print $c }'
}

# A checkpoint made before a poweroff restores after the boot: docker comes
# back with the containers defined (exited), the counter continues, and the
# loopback connection inside comes back ESTABLISHED (tcp-established).
case_reboot_restore() {
    boot_criu_host
    local j=$E2E_WORK/$CASE rc v ip0 ip1 inv0 inv1
    rb_app app1
    # A bystander still running at the poweroff: docker stops it (it ends on
    # SIGTERM); it stays defined.
    hx docker run -d --name by1 e2e/busybox sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done' >/dev/null
    ip0=$(rb_ip app1)
    rc=$(rb_checkpoint "$j-cp.json" app1 c1)
    expect_eq "$rc" 0 "checkpoint before the poweroff: $(jget "$j-cp.json" message)"
    v=$(hx cat /srv/app1/n)
    inv0=$(hx systemctl show -p InvocationID --value docker.service)
    hx touch /run/dockpoint-e2e-marker /tmp/dockpoint-e2e-marker
    reboot_host
    echo "reboot_host: poweroff $REBOOT_POWEROFF_S s, boot to docker up $REBOOT_BOOT_S s" > "$CAPTURE/reboot-time.txt"
    # A new boot: docker started anew, fresh /run and /tmp.
    inv1=$(hx systemctl show -p InvocationID --value docker.service)
    [ "$inv1" != "$inv0" ] || fail "docker.service was not started anew"
    expect_eq "$(hx findmnt -n -o FSTYPE /run)" tmpfs "/run after the boot"
    expect_eq "$(hx findmnt -n -o FSTYPE /tmp)" tmpfs "/tmp after the boot"
    hx test ! -e /run/dockpoint-e2e-marker || fail "/run kept a file across the boot"
    hx test ! -e /tmp/dockpoint-e2e-marker || fail "/tmp kept a file across the boot"
    # Docker is back with both containers defined, not running.
    expect_eq "$(rb_state app1)" "exited 137" "app1 after the boot"
    expect_eq "$(rb_state by1)" "exited 0" "by1 after the boot"
    expect_in "$(hx docker checkpoint ls app1)" c1 "app1's checkpoints after the boot"
    expect_eq "$(hx cat /srv/app1/n)" "$v" "the count while app1 was down"
    # No task of the old boot is left to containerd (its /run is new); its
    # work directories under /var/lib/containerd stay (logged, not judged).
    expect_eq "$(hx sh -c 'ls /run/containerd/io.containerd.runtime.v2.task/moby 2>/dev/null | wc -l')" 0 "containerd tasks after the boot"
    log "left under /var/lib/containerd from the old boot: $(hx sh -c 'ls /var/lib/containerd/io.containerd.runtime.v2.task/moby 2>/dev/null | wc -l') task work dir(s)"
    rc=$(cp_json "$j-restore.json" restore app1 c1 --yes)
    expect_eq "$rc" 0 "restore after the reboot: $(jget "$j-restore.json" message)"
    expect_eq "$(jget "$j-restore.json" status)" restored "restore status"
    expect_in "$(jget "$j-restore.json" proof)" "Restore finished successfully" "restore proof"
    expect_eq "$(jget "$j-restore.json" signal_sent)" SIGHUP "restore signal"
    wait_for "the SIGHUP to be recorded" 10 sh -c '[ -s /srv/app1/hups ]'
    wait_for "the count to pass $v" 10 sh -c "[ \$(cat /srv/app1/n) -gt $v ]"
    # The count the handler saw continues from the checkpoint: no reset.
    [ "$(hx cat /srv/app1/hups | tail -n 1)" -ge "$v" ] || fail "the count restarted after the reboot ($(hx cat /srv/app1/hups) < $v)"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' app1)" true "app1 after the restore"
    ip1=$(rb_ip app1)
    # The first container started after the boot takes the bottom address again.
    expect_eq "$ip1" "$ip0" "app1's address (the first started, before and after)"
    # The loopback connection: back, and carrying data.
    local r0; r0=$(hx cat /srv/app1/recv)
    expect_match "$(rb_established app1)" '127\.0\.0\.1:8081 127\.0\.0\.1:[0-9]+ ESTABLISHED' "app1's loopback connection after the restore"
    wait_for "app1's loopback connection to carry data" 10 sh -c "[ \$(cat /srv/app1/recv) -gt $r0 ]"
    log "app1: count $v at the checkpoint, $(hx cat /srv/app1/n) now; IP $ip0 before, $ip1 after; gc_race $(jget "$j-restore.json" gc_race); TCP: $(rb_tcp app1 | tr '\n' ';')"
}

# --- TCP across a reboot ---------------------------------------------------------
# The fixtures keep every nc's stdin open with a LOOP of short sleeps: a
# process blocked in nanosleep wakes up at a restore (busybox `sleep 100000`
# exits 0 at once), so `sleep 100000 | nc` ends the connection with EOF right
# after any restore, whatever CRIU did with the socket. And no file is held
# open for writing with data from a socket: a line that arrived after the
# dump was seen written to such a file (restore.open-files then refuses).

# /etc/criu/runc.conf with exactly these options, one a line.
rb_conf() { printf '%s\n' "$@" | hx sh -c 'cat > /etc/criu/runc.conf'; }
# Received lines counted into /data/$1 (opened for each line, never held).
RB_COUNT='while read l; do r=$((r+1)); echo $r > /data/'
# A counter (n, hups) that a restore continues and a cold start resets.
RB_COUNTER='trap "echo \$n >> /data/hups" HUP; n=0; while :; do n=$((n+1)); echo $n > /data/n; sleep 0.5; done'
# A peer: one listener per port, each sending "back" every second.
# rb_peer NAME [docker run options] -- PORT...
rb_peer() {
    local name=$1; shift
    local opts=(); while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
    hx docker run -d --name "$name" "${opts[@]}" -v "/srv/$name:/data" e2e/busybox sh -c \
        'trap "exit 0" TERM; for p in "$@"; do (while :; do echo back; sleep 1; done | nc -l -p $p 2>>/data/err | '"$RB_COUNT"'recv-$p; done; echo "listener $p ended" >> /data/log) & done; while :; do sleep 0.5; done' \
        sh "$@" >/dev/null
}
# The same on the host's own network (outside docker), as systemd units.
rb_host_peer() {
    local p
    for p in "$@"; do
        hx systemd-run --unit="e2e-hostpeer-$p" --collect sh -c \
            "while :; do echo back; sleep 1; done | busybox nc -l -p $p > /dev/null" >/dev/null 2>&1
    done
}
# A counter holding one established connection: to itself over loopback
# (rb_app NAME [docker run options]), or to ADDR:PORT (rb_app NAME
# [options] -- ADDR PORT). Its volume /srv/NAME: n, hups, recv (lines
# received so far), log (which end ended), err (nc's messages).
rb_app() {
    local name=$1; shift
    local opts=(); while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    local conn
    if [ $# -eq 0 ]; then
        conn='(while :; do sleep 1; done | nc -l -p 8081 2>>/data/err | '"$RB_COUNT"'recv; done; echo "listener ended" >> /data/log) & sleep 0.3; (while :; do echo tick; sleep 1; done | nc 127.0.0.1 8081 2>>/data/err; echo "client ended $?" >> /data/log) &'
    else
        conn="(while :; do echo out; sleep 1; done | nc $1 $2 2>>/data/err | $RB_COUNT""recv; done; echo \"client ended\" >> /data/log) &"
    fi
    hx docker run -d --name "$name" "${opts[@]}" -v "/srv/$name:/data" e2e/busybox sh -c "$conn $RB_COUNTER" >/dev/null
    wait_for "the counter of $name to reach 3" 10 sh -c "[ \"\$(cat /srv/$name/n 2>/dev/null || echo 0)\" -ge 3 ]"
    wait_for "$name to receive" 10 sh -c "[ -s /srv/$name/recv ]"
}
# A counter with a listener bound to the container's own address (busybox
# httpd -p IP:8083), no connection.
rb_bound() {
    local name=$1; shift
    hx docker run -d --name "$name" "$@" -v "/srv/$name:/data" e2e/busybox sh -c \
        'busybox httpd -f -p $(busybox hostname -i):8083 -h /data 2>>/data/err & '"$RB_COUNTER" >/dev/null
    wait_for "the counter of $name to reach 3" 10 sh -c "[ \"\$(cat /srv/$name/n 2>/dev/null || echo 0)\" -ge 3 ]"
}

# TCP across a reboot: which runc.conf options let a boot-time restore of a
# container holding established connections work, and in which state the
# connections are afterwards. Checkpoints are made with tcp-established
# (dockpoint's setup) unless named; the restore runs after the reboot with
#   E: tcp-established;
#   B: tcp-established and tcp-close (restores like tcp-close alone, which
#      dockpoint's preflight refuses: runc-conf.tcp-established).
# Containers on the default bridge get their address when they start, from
# the bottom up: a squatter started first makes it change. A user-defined
# network with --ip keeps it. Outcomes in $CAPTURE/reboot-tcp.txt.
case_reboot_tcp() {
    boot trixie-systemd trixie systemd
    criu_repo_serve
    local j=$E2E_WORK/$CASE rc c out=$CAPTURE/reboot-tcp.txt
    rc=$(dockpoint_json "$j-setup.json" --criu-source obs --criu-base "$CRIU_REPO_URL")
    expect_eq "$rc" 0 "setup exit code"
    expect_eq "$(hx cat /etc/criu/runc.conf)" tcp-established "runc.conf after setup"
    busybox_image
    : > "$out"
    note() { echo "$*" | tee -a "$out" >&2; }
    hx docker network create --subnet 10.99.0.0/24 rbnet >/dev/null
    # Peers: peer2 comes back after the boot (fresh listeners, same
    # address), peer3 does not (its address stays empty); the host's own
    # listeners come back.
    rb_peer peer2 --network rbnet --ip 10.99.0.50 -- 9201 9202
    rb_peer peer3 --network rbnet --ip 10.99.0.51 -- 9301
    rb_host_peer 9101 9102 9103 9104
    # Default bridge, addresses by start order (lo-E first: the bottom one).
    rb_app lo-E
    rb_app lo-B
    rb_app bip-E -- 172.17.0.1 9103
    rb_app bip-B -- 172.17.0.1 9104
    rb_app lo-C
    rb_bound bound-B
    # User-defined network, fixed addresses.
    rb_app bc-E --network rbnet --ip 10.99.0.11 -- 10.99.0.50 9201
    rb_app bc-B --network rbnet --ip 10.99.0.12 -- 10.99.0.50 9202
    rb_app hp-E --network rbnet --ip 10.99.0.13 -- 10.99.0.1 9101
    rb_app hp-B --network rbnet --ip 10.99.0.14 -- 10.99.0.1 9102
    rb_app abs-E --network rbnet --ip 10.99.0.15 -- 10.99.0.51 9301
    local all="lo-E lo-B bip-E bip-B lo-C bound-B bc-E bc-B hp-E hp-B abs-E"
    declare -A ip0 n0
    for c in $all; do
        ip0[$c]=$(rb_ip "$c")
        note "before: $c ${ip0[$c]}: $(rb_tcp "$c" | tr '\n' ';')"
    done
    for c in $all; do
        [ "$c" = lo-C ] && continue
        rc=$(rb_checkpoint "$j-cp-$c.json" "$c" r1)
        expect_eq "$rc" 0 "checkpoint of $c: $(jget "$j-cp-$c.json" message)"
        n0[$c]=$(hx cat "/srv/$c/n")
    done
    # With tcp-close alone: dockpoint refuses (recorded, not judged), docker dumps.
    rb_conf tcp-close
    rc=$(cp_json "$j-cp-lo-C.json" checkpoint lo-C r1)
    note "dockpoint checkpoint lo-C with runc.conf [tcp-close]: exit $rc: $(jget "$j-cp-lo-C.json" message | tr '\n' ' ')"
    [ "$rc" = 0 ] || hx docker checkpoint create lo-C r1 >/dev/null
    expect_eq "$(rb_state lo-C)" "exited 137" "lo-C after its checkpoint with tcp-close"
    n0[lo-C]=$(hx cat /srv/lo-C/n)
    rb_conf tcp-established
    reboot_host
    note "reboot: poweroff $REBOOT_POWEROFF_S s, boot to docker up $REBOOT_BOOT_S s"
    for c in $all; do expect_eq "$(rb_state "$c")" "exited 137" "$c after the boot"; done
    hx docker start peer2 >/dev/null
    rb_host_peer 9101 9102 9103 9104
    # rb_restore NAME OPTION(E|B) [squat]: restore after making sure, with
    # squatters, that the old bridge address is taken. Sets RB_RC, RB_LOG.
    rb_restore() {
        local c=$1 opt=$2 k=0 taken
        if [ "${3:-}" = squat ]; then
            while :; do
                taken=$(hx sh -c 'docker inspect -f "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}" $(docker ps -q)' | grep -Fx "${ip0[$c]}" || true)
                [ -z "$taken" ] && [ $k -lt 8 ] || break
                k=$((k + 1))
                hx docker run -d --name "sq-$c-$k" e2e/busybox sh -c 'trap "exit 0" TERM; while :; do sleep 0.5; done' >/dev/null
            done
            [ -n "$taken" ] || fail "no container took ${ip0[$c]} (the old address of $c)"
        fi
        case $opt in E) rb_conf tcp-established ;; B) rb_conf tcp-established tcp-close ;; esac
        RB_RC=$(cp_json "$j-r-$c.json" restore "$c" r1 --yes --no-signal)
        RB_LOG=$(jget "$j-r-$c.json" criu_log)
        note "restore $c with [$(hx cat /etc/criu/runc.conf | tr '\n' ' ')]: exit $RB_RC, $(jget "$j-r-$c.json" status); address ${ip0[$c]} -> $(rb_ip "$c"); $(jget "$j-r-$c.json" message | head -n 1)"
        [ -z "$RB_LOG" ] || note "  CRIU: $(hx grep -E 'Error|Restore finished' "$RB_LOG" | grep -v RLIMIT_NOFILE | head -n 2 | tr '\n' ' ')"
    }
    restored() { # NAME: running, the count continued from the checkpoint
        expect_eq "$RB_RC" 0 "restore of $1: $(jget "$j-r-$1.json" message)"
        expect_eq "$(rb_state "$1")" "running 0" "$1 after its restore"
        wait_for "the count of $1 to pass ${n0[$1]}" 10 sh -c "[ \$(cat /srv/$1/n) -gt ${n0[$1]} ]"
    }
    failed_with() { # NAME TEXT: the restore failed, CRIU's kept log says TEXT
        expect_eq "$RB_RC" 1 "restore of $1"
        expect_eq "$(jget "$j-r-$1.json" status)" failed "restore status of $1"
        if [ -n "$RB_LOG" ]; then expect_in "$(hx cat "$RB_LOG")" "$2" "CRIU's restore log of $1"; else fail "no CRIU restore log kept for $1"; fi
        expect_match "$(rb_state "$1")" '^exited' "$1 after its failed restore"
    }
    ended() { # NAME: its connection ended (no established socket left)
        wait_for "$1's connection to end" 10 sh -c "grep -q ended /srv/$1/log"
        expect_eq "$(rb_established "$1")" "" "$1's established sockets"
    }
    # tcp-established: the loopback pair comes back (even on a new address).
    rb_restore lo-E E squat
    restored lo-E
    [ "$(rb_ip lo-E)" != "${ip0[lo-E]}" ] || fail "lo-E kept its address despite the squatter"
    expect_match "$(rb_established lo-E)" '127\.0\.0\.1:8081 127\.0\.0\.1:[0-9]+ ESTABLISHED' "lo-E's loopback connection"
    local r0; r0=$(hx cat /srv/lo-E/recv)
    wait_for "lo-E's connection to carry data" 10 sh -c "[ \$(cat /srv/lo-E/recv) -gt $r0 ]"
    # tcp-established, same address, peer back (a container, the host): the
    # restore works, the peer has no such connection: it ends at once.
    # The peer's kernel answers with a reset (its TCP OutRsts grows).
    local rst0 rst1
    for c in bc-E hp-E; do
        rst0=$(rb_out_rsts $c)
        rb_restore $c E; restored $c; ended $c
        rst1=$(rb_out_rsts $c)
        note "  the peer of $c sent $((rst1 - rst0)) reset(s) meanwhile"
        [ "$rst1" -gt "$rst0" ] || fail "the peer of $c sent no reset ($rst0 -> $rst1)"
    done
    # tcp-established, same address, peer gone: ESTABLISHED, nothing flows.
    rb_restore abs-E E
    restored abs-E
    r0=$(hx cat /srv/abs-E/recv)
    sleep 5
    expect_match "$(rb_established abs-E)" '10\.99\.0\.15:[0-9]+ 10\.99\.0\.51:9301 ESTABLISHED' "abs-E's connection to the absent peer"
    expect_eq "$(hx cat /srv/abs-E/recv)" "$r0" "lines abs-E received from the absent peer"
    # tcp-established, the bridge address taken: the whole restore fails.
    rb_restore bip-E E squat
    failed_with bip-E "Can't bind inet socket back: Cannot assign requested address"
    # tcp-close (B): every connection is restored closed, loopback too, on
    # the old address or a new one; the count continues.
    for c in lo-B bc-B hp-B; do rb_restore $c B; restored $c; ended $c; done
    rb_restore bip-B B squat
    restored bip-B
    [ "$(rb_ip bip-B)" != "${ip0[bip-B]}" ] || fail "bip-B kept its address despite the squatter"
    ended bip-B
    # ... but a listener bound to the container's own address cannot come
    # back on a new one, tcp-close or not.
    rb_restore bound-B B squat
    failed_with bound-B "Can't bind inet socket (id"
    # Dumped with tcp-close: CRIU insists on tcp-close at the restore.
    rb_restore lo-C E
    failed_with lo-C "Need to set the --tcp-close options"
    rb_restore lo-C B
    restored lo-C
    ended lo-C
    for c in $all; do
        note "after: $c $(rb_state "$c"), address ${ip0[$c]} -> $(rb_ip "$c"), count ${n0[$c]} -> $(hx cat "/srv/$c/n"), TCP: $(rb_tcp "$c" 2>/dev/null | tr '\n' ';') log: $(hx cat "/srv/$c/log" 2>/dev/null | tr '\n' ';')"
    done
    rb_conf tcp-established
}
