# Benchmark (not in ALL_CASES; run by name: make bench-e2e): boot to
# serving of the 1 GiB container of bench_checkpoint, restored at boot by
# `dockpoint enable --on-shutdown` against a cold start on the same kind of
# boot (issue 10's note), on the Debian 13 systemd host with CRIU 4.2.1.
# Figures in $E2E_WORK/bench-boot.txt.
#
# The container: bench_checkpoint's application (1 GiB of random text in
# RAM, 32 MiB at a time, no faster than 32 MiB/s: a cold start takes more
# than 30 s) behind a wrapper that starts busybox httpd on port 8081 only
# once the state is built. Serving = an HTTP request to the published port
# (127.0.0.1:8081 in the host, through docker's proxy) gets the body
# "ready". After a restore the restored listener answers.
#
# Each round reboots the host with reboot_host (systemd's poweroff: the
# shutdown unit checkpoints the 1 GiB container; then a new boot from the
# same root). While the host is off, the checkpoint's files are dropped from
# the page cache (those files only, as bench_checkpoint does), so the boot
# reads them from the disk as after a real reboot. A restore round boots
# with the checkpoints as they are: the boot unit restores. A cold round
# first edits every record to another kernel release (as d13_reboot does):
# the boot unit cold-starts. Rounds alternate, BB_ROUNDS of each (default 2).
#
# Measured on the host's own clock (CLOCK_MONOTONIC, as systemd's
# *TimestampMonotonic properties; microseconds since the machine booted,
# the host's boot starting when its systemd starts): systemd's start
# (UserspaceTimestampMonotonic), docker.service active, the boot unit's
# start and end, multi-user.target active (it waits for the oneshot boot
# unit), and the first answer on the port, seen by a probe that systemd
# starts before the boot unit and that polls every 10 ms. The boot unit's own
# duration comes from its outcome (`dockpoint status --format json`), CRIU's
# share from its journal, the shutdown checkpoint's from its output (a
# drop-in of this case appends it to /var/log/e2e-bb-shutdown.log, since
# the host's journal is volatile).
#
# Checked on the way: the shutdown checkpoint ran to its end (not cut by a
# stop timeout), each restore round restored the checkpoint made
# at that shutdown and the 32 chunks' checksums match the build's, each cold
# round cold-started for the edited kernel and rebuilt the state.

BB_ROUNDS=${BB_ROUNDS:-2}
BB_C=big
BB_PORT=8081
BB_PROBE_OUT=/run/e2e-bb-probe
BB_SHUTDOWN_LOG=/var/log/e2e-bb-shutdown.log

# The wrapper, the probe and its unit (after bcp_scripts).
bb_scripts() {
    local big=$HOST_ROOT/opt/e2e/big
    mkdir -p "$big/www"
    cat > "$big/serve" <<'EOF'
#!/bin/sh
# The 1 GiB application (/app, bench_checkpoint's) behind port 8081: httpd
# starts once /app says the state is built. SIGHUP goes on to /app (its
# checksums). Every cold start is counted in /srv/starts.
rm -f /srv/ready /www/index.html
echo start >> /srv/starts
/app &
app=$!
trap 'kill -HUP $app' HUP
until [ -f /srv/ready ]; do sleep 0.05; done
echo ready > /www/index.html
httpd -f -p 8081 -h /www &
while :; do sleep 3600 & wait $!; done
EOF
    chmod 755 "$big/serve"
    cat > "$HOST_ROOT/opt/e2e/bench/probe" <<'EOF'
#!/usr/bin/perl
# When does ADDR:PORT first answer an HTTP request with a body holding WANT?
# Polls every 10 ms; writes "ANSWER_US START_US ATTEMPTS" (CLOCK_MONOTONIC in
# microseconds, the clock of systemd's *TimestampMonotonic) to OUT, then
# exits 0; exits 1 after 600 s without an answer.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use POSIX ();
$SIG{PIPE} = 'IGNORE';
my ($addr, $port, $want, $out) = @ARGV;
# clock_gettime(CLOCK_MONOTONIC) by its system call: perl-base has no Time::HiRes.
my %nr = (x86_64 => 228, aarch64 => 113);
my $nr = $nr{(POSIX::uname())[4]} // die "no clock_gettime system call number for this machine\n";
sub mono {
    my $ts = "\0" x 16;
    syscall($nr, 1, $ts) == 0 or die "clock_gettime: $!\n";
    my ($s, $ns) = unpack("q q", $ts);
    return $s * 1_000_000 + int($ns / 1000);
}
my $start = mono();
my $n = 0;
while (mono() - $start < 600_000_000) {
    $n++;
    my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port, Proto => 'tcp', Timeout => 0.25);
    if ($s) {
        my $resp = '';
        if (syswrite($s, "GET / HTTP/1.0\r\n\r\n")) {
            my $sel = IO::Select->new($s);
            while ($sel->can_read(0.25)) {
                my $r = sysread($s, my $buf, 4096);
                last unless $r;
                $resp .= $buf;
            }
        }
        close $s;
        if (index($resp, $want) >= 0) {
            my $t = mono();
            open my $f, '>', "$out.tmp" or die "$out.tmp: $!\n";
            print $f "$t $start $n\n";
            close $f or die "$out.tmp: $!\n";
            rename "$out.tmp", $out or die "$out: $!\n";
            exit 0;
        }
    }
    select(undef, undef, undef, 0.01);
}
exit 1;
EOF
    chmod 755 "$HOST_ROOT/opt/e2e/bench/probe"
    # Started at every boot before the boot unit (so before the container can
    # answer); a simple service: nothing waits for it.
    cat > "$HOST_ROOT/etc/systemd/system/e2e-bb-probe.service" <<EOF
[Unit]
Description=e2e: when the container first answers on 127.0.0.1:$BB_PORT
Before=dockpoint-restore@$BB_C.service

[Service]
Type=exec
ExecStart=/usr/bin/perl /opt/e2e/bench/probe 127.0.0.1 $BB_PORT ready $BB_PROBE_OUT

[Install]
WantedBy=multi-user.target
EOF
}

# A systemd property of UNIT (none: the manager's), in microseconds.
bb_prop() { hx systemctl show -p "$2" --value ${1:+"$1"}; }
# The container's checkpoints (names), one a line.
bb_checkpoints() { ls "$HOST_ROOT/var/lib/docker/containers/$BB_ID/checkpoints" 2>/dev/null || true; }
# The resident MiB of the application (/app, under the wrapper).
bb_rss() {
    local pid; pid=$(hx pgrep -f '^/bin/sh /app$' | head -n 1 || true)
    if [ -n "$pid" ]; then hx awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status"; else echo 0; fi
}
bb_starts() { wc -l < "$HOST_ROOT/srv/big/starts"; }
# Wait for a file of the application's volume (its checksums): the state was
# built, or checked after a SIGHUP, and the application is idle again.
bb_wait_file() { # FILE WHAT SECS
    local n=0
    until [ -f "$HOST_ROOT/srv/big/$1" ]; do
        n=$((n + 1)); [ "$n" -le $(($3 * 10)) ] || { fail "no /srv/big/$1 after $3 s ($2)"; return 1; }
        sleep 0.1
    done
}
# Where the boot unit's restore went: before CRIU (docker and containerd
# moving the checkpoint), CRIU (its restore log, from its creation to its
# last write), after CRIU (docker's start returning, the SIGHUP, the removal
# of containerd's copy in /tmp, the outcome). The log's times are the
# machine's realtime, the host shares the machine's clocks (no time
# namespace): converted to CLOCK_MONOTONIC by the offset between the two.
bb_restore_phases() { # KIND ROUND UNIT-JOURNAL UNIT-START-US UNIT-END-US
    local rlog times ph
    rlog=$(grep -oE '/var/lib/containerd/[^ )]*/restore\.log' "$3" | head -n 1 || true)
    [ -n "$rlog" ] || { fail "round $1 $2: no CRIU restore log named in the boot unit's journal"; return 1; }
    times=$(hx stat -c '%.6W %.6Y' "$rlog")
    ph=$(/usr/bin/python3 -c 'import sys, time
off = time.clock_gettime(time.CLOCK_REALTIME) - time.clock_gettime(time.CLOCK_MONOTONIC)
born, last = (int((float(x) - off) * 1e6) for x in sys.argv[1].split())
u0, u1 = int(sys.argv[2]), int(sys.argv[3])
print(u0 <= born <= last <= u1, (born - u0) // 1000, (last - born) // 1000, (u1 - last) // 1000)' "$times" "$4" "$5")
    set -- "$1" "$2" $ph
    [ "$3" = True ] || fail "round $1 $2: CRIU's restore log ($times) is not within the boot unit's run"
    bb_fig "$1" "$2" before_criu "$4"
    bb_fig "$1" "$2" criu_log "$5"
    bb_fig "$1" "$2" after_criu "$6"
}
# One figure: KIND ROUND METRIC MILLISECONDS.
bb_fig() { echo "$1 $2 $3 $4" >> "$E2E_WORK/bench-boot.data"; }

# While the host is off (REBOOT_BETWEEN): a cold round's records say another
# kernel; the checkpoints' files leave the page cache; the shutdown
# checkpoint's output is kept.
bb_between() {
    local f
    if [ "$BB_KIND" = cold ]; then
        for f in "$HOST_ROOT"/var/lib/dockpoint/checkpoints/*/*.json; do
            sed -i 's/"kernel": "[^"]*"/"kernel": "5.10.0-99-amd64"/' "$f"
        done
    fi
    mv "$HOST_ROOT$BB_SHUTDOWN_LOG" "$E2E_WORK/$CASE-shutdown-$BB_KIND-$BB_K.log" 2>/dev/null || true
    local files=()
    for f in "$HOST_ROOT/var/lib/docker/containers/$BB_ID/checkpoints"/*/*; do [ -f "$f" ] && files+=("$f"); done
    BB_LEFT=0
    [ ${#files[@]} -eq 0 ] || BB_LEFT=$(bcp_drop_cache "${files[@]}")
}

# One round: reboot, then the boot's figures and checks.
bb_boot() { # KIND(restore|cold) K
    BB_KIND=$1 BB_K=$2
    local kind=$1 k=$2 j=$E2E_WORK/$CASE-$1-$2
    local before starts0
    before=$(bb_checkpoints)
    starts0=$(bb_starts)
    rm -f "$HOST_ROOT/srv/big/sums.check"
    REBOOT_BETWEEN=bb_between reboot_host
    REBOOT_BETWEEN=
    [ "$BB_LEFT" -lt $((16 << 20)) ] || log "warning: $BB_LEFT bytes of the checkpoints stayed in the page cache"
    # The shutdown checkpoint ran to its end: systemd's stop timeout (which
    # would have killed it) was not hit. (The host's console, where systemd
    # would say so, is not kept; its journal is volatile.)
    local sd=$E2E_WORK/$CASE-shutdown-$kind-$k.log cp_ms frozen_ms
    [ -s "$sd" ] || fail "round $kind $k: the shutdown unit wrote nothing (no checkpoint at the poweroff?)"
    expect_match "$(cat "$sd")" '^✓ created checkpoint ' "round $kind $k: the shutdown checkpoint"
    cp_ms=$(grep -oE '^ +\([0-9]+ ms\)' "$sd" | tail -n 1 | tr -dc 0-9 || true)
    [ -n "$cp_ms" ] || fail "round $kind $k: the shutdown checkpoint did not finish (no duration): $(tail -n 3 "$sd" | tr '\n' ' ')"
    frozen_ms=$(grep -oE 'CRIU: frozen [0-9]+ ms' "$sd" | tail -n 1 | tr -dc 0-9 || true)
    local new; new=$(comm -13 <(echo "$before" | sort) <(bb_checkpoints | sort) | tr '\n' ' ')
    new=${new% }
    [ -n "$new" ] || fail "round $kind $k: no new checkpoint after the shutdown (before: $(echo "$before" | tr '\n' ' '))"
    # The boot: the container answers (the probe wrote its time), the boot unit is done.
    wait_for "$BB_C to answer on $BB_PORT (round $kind $k)" 240 test -s "$BB_PROBE_OUT"
    wait_for "the boot unit (round $kind $k)" 60 sh -c "[ \"\$(systemctl is-active dockpoint-restore@$BB_C.service)\" = active ]"
    local t0 t_docker t_unit0 t_unit1 t_target t_answer p_start p_self p_exit attempts
    t0=$(bb_prop "" UserspaceTimestampMonotonic)
    t_docker=$(bb_prop docker.service ActiveEnterTimestampMonotonic)
    t_unit0=$(bb_prop "dockpoint-restore@$BB_C.service" ExecMainStartTimestampMonotonic)
    t_unit1=$(bb_prop "dockpoint-restore@$BB_C.service" ActiveEnterTimestampMonotonic)
    t_target=$(bb_prop multi-user.target ActiveEnterTimestampMonotonic)
    p_start=$(bb_prop e2e-bb-probe.service ExecMainStartTimestampMonotonic)
    wait_for "the probe to exit" 10 sh -c '[ "$(systemctl show -p ExecMainExitTimestampMonotonic --value e2e-bb-probe.service)" != 0 ]'
    p_exit=$(bb_prop e2e-bb-probe.service ExecMainExitTimestampMonotonic)
    read -r t_answer p_self attempts <<< "$(hx cat "$BB_PROBE_OUT")"
    local pid1; pid1=$(hx awk '{print $22 * 10000}' /proc/1/stat)
    log "round $kind $k (us): pid 1 started $pid1, systemd $t0, probe $p_start (its own clock: $p_self), docker $t_docker, boot unit $t_unit0..$t_unit1, multi-user $t_target, answer $t_answer ($attempts attempts), probe exited $p_exit"
    # The probe's clock is systemd's: its own start and its answer lie
    # between systemd's records of its start and its exit.
    [ "$t0" -gt 0 ] || fail "systemd's UserspaceTimestampMonotonic is 0"
    [ "$p_start" -le "$p_self" ] && [ "$p_self" -le "$t_answer" ] && [ "$t_answer" -le "$p_exit" ] \
        || fail "round $kind $k: the probe's clock is not systemd's (start $p_start <= $p_self <= answer $t_answer <= exit $p_exit)"
    # It was polling before the container could answer (before the boot unit ran).
    [ "$p_self" -le "$t_unit0" ] || fail "round $kind $k: the probe started after the boot unit ($p_self > $t_unit0)"
    # What the boot unit did.
    hx dockpoint status "$BB_C" --format json > "$j-status.json"
    local last
    last=$(/usr/bin/python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["containers"][0]["last_boot"]; print(o["status"], o["checkpoint"], o["duration_ms"], o["message"])' "$j-status.json") || true
    hx journalctl -u "dockpoint-restore@$BB_C.service" -o cat > "$j-boot-unit.log" 2>&1 || true
    local unit_ms; unit_ms=$(echo "$last" | awk '{print $3}')
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' "$BB_C")" true "$BB_C after round $kind $k"
    if [ "$kind" = restore ]; then
        expect_match "$last" "^restored $new " "round $kind $k: the last boot (restored from this shutdown's checkpoint $new)"
        expect_eq "$(bb_starts)" "$starts0" "round $kind $k: cold starts of the application"
        local criu_ms; criu_ms=$(grep -oE 'CRIU: restore [0-9]+ ms' "$j-boot-unit.log" | tr -dc 0-9 || true)
        [ -n "$criu_ms" ] || fail "round $kind $k: no CRIU restore time in the boot unit's journal"
        bb_fig "$kind" "$k" criu "${criu_ms:-0}"
        bb_restore_phases "$kind" "$k" "$j-boot-unit.log" "$t_unit0" "$t_unit1"
        # The state came back intact: the checksums after the boot's SIGHUP.
        bb_wait_file sums.check "the SIGHUP of the boot restore" 120
        expect_eq "$(cat "$HOST_ROOT/srv/big/sums.check" 2>/dev/null)" "$(cat "$HOST_ROOT/srv/big/sums.build")" "round $kind $k: the 32 chunks' checksums after the boot restore"
    else
        expect_match "$last" '^cold-started ' "round $kind $k: the last boot"
        expect_in "$last" "5.10.0-99-amd64" "round $kind $k: the reason of the cold start"
        expect_eq "$(bb_starts)" "$((starts0 + 1))" "round $kind $k: cold starts of the application"
        # Built anew; the checksums also say it is idle (for the next shutdown).
        bb_wait_file sums.build "the state built anew" 180
    fi
    local rss; rss=$(bb_rss)
    [ "$rss" -ge 1024 ] || fail "round $kind $k: $BB_C's application holds $rss MiB, not 1 GiB"
    log "round $kind $k: $BB_C's application holds $rss MiB; last boot: $last"
    bb_fig "$kind" "$k" boot_docker $(((t_docker - t0) / 1000))
    bb_fig "$kind" "$k" boot_target $(((t_target - t0) / 1000))
    bb_fig "$kind" "$k" boot_serving $(((t_answer - t0) / 1000))
    bb_fig "$kind" "$k" docker_serving $(((t_answer - t_docker) / 1000))
    bb_fig "$kind" "$k" target_serving $(((t_answer - t_target) / 1000))
    bb_fig "$kind" "$k" docker_unit $(((t_unit0 - t_docker) / 1000))
    bb_fig "$kind" "$k" unit_systemd $(((t_unit1 - t_unit0) / 1000))
    bb_fig "$kind" "$k" unit "$unit_ms"
    bb_fig "$kind" "$k" shutdown_checkpoint "${cp_ms:-0}"
    [ -z "$frozen_ms" ] || bb_fig "$kind" "$k" shutdown_frozen "$frozen_ms"
    bb_fig "$kind" "$k" poweroff "$(echo "$REBOOT_POWEROFF_S * 1000 / 1" | bc)"
    bb_fig "$kind" "$k" probe_attempts "$attempts"
}

# The table: medians and every value, restore against cold start.
bb_table() {
    /usr/bin/python3 - "$E2E_WORK/bench-boot.data" <<'EOF'
import statistics, sys
d = {}
for l in open(sys.argv[1]):
    kind, k, m, v = l.split()
    d.setdefault(m, {}).setdefault(kind, []).append(float(v))
rows = [
    ("boot_serving", "boot start (systemd) -> serving"),
    ("docker_serving", "docker.service active -> serving"),
    ("target_serving", "multi-user.target active -> serving"),
    ("boot_docker", "boot start -> docker.service active"),
    ("boot_target", "boot start -> multi-user.target active"),
    ("docker_unit", "docker active -> boot unit starts"),
    ("unit", "boot unit's run (outcome duration_ms)"),
    ("unit_systemd", "boot unit start -> active (systemd)"),
    ("before_criu", "  docker+containerd before CRIU starts"),
    ("criu_log", "  CRIU (its restore log's life)"),
    ("criu", "    CRIU's restore (its stats)"),
    ("after_criu", "  after CRIU (start returns, SIGHUP, /tmp)"),
    ("shutdown_checkpoint", "shutdown checkpoint (dockpoint, at poweroff)"),
    ("shutdown_frozen", "  of which CRIU froze the container"),
    ("poweroff", "poweroff (harness: signal -> PID 1 gone)"),
    ("probe_attempts", "probe attempts until the answer (count)"),
]
def fmt(v):
    if not v:
        return "-"
    med = statistics.median(v)
    return "%.2f s (%s)" % (med / 1000, " ".join("%.2f" % (x / 1000) for x in v))
def fmtn(v):
    return "-" if not v else "%d (%s)" % (statistics.median(v), " ".join("%d" % x for x in v))
print("%-46s %-34s %s" % ("", "restore at boot", "cold start at boot"))
for m, label in rows:
    r = d.get(m, {})
    f = fmtn if m == "probe_attempts" else fmt
    print("%-46s %-34s %s" % (label, f(r.get("restore")), f(r.get("cold"))))
EOF
}

case_bench_boot() {
    boot_criu_host
    local out=$E2E_WORK/bench-boot.txt rc k
    expect_eq "$(hx criu --version | awk '/^Version:/ {print $2}')" 4.2.1 "CRIU"
    bcp_scripts
    bb_scripts
    bcp_big_image httpd
    mkdir -p "$HOST_ROOT/srv/big"
    : > "$HOST_ROOT/srv/big/starts"
    hx docker create --name "$BB_C" -p "$BB_PORT:$BB_PORT" -v /srv/big:/srv e2e/big /serve >/dev/null
    BB_ID=$(hx docker inspect -f '{{.Id}}' "$BB_C")
    # Nothing answers before the state is built; then the port serves it.
    hx docker start "$BB_C" >/dev/null
    expect_eq "$(hx_rc busybox wget -q -T 2 -O - "http://127.0.0.1:$BB_PORT/")" 1 "a request before the state is built"
    bb_wait_file sums.build "the first cold start" 180
    expect_eq "$(hx busybox wget -q -T 5 -O - "http://127.0.0.1:$BB_PORT/")" ready "the answer once built"
    local rss; rss=$(bb_rss)
    [ "$rss" -ge 1024 ] || fail "$BB_C's application holds $rss MiB, not 1 GiB"
    rc=$(hx_rc dockpoint enable "$BB_C" --on-shutdown --yes)
    expect_eq "$rc" 0 "enable --on-shutdown"
    expect_eq "$(hx systemctl is-active "dockpoint-shutdown@$BB_C.service")" active "the shutdown unit"
    # The shutdown checkpoint's output, kept past the poweroff (the host's
    # journal is volatile); the probe, at every boot.
    mkdir -p "$HOST_ROOT/etc/systemd/system/dockpoint-shutdown@$BB_C.service.d"
    printf '[Service]\nStandardOutput=append:%s\nStandardError=inherit\n' "$BB_SHUTDOWN_LOG" \
        > "$HOST_ROOT/etc/systemd/system/dockpoint-shutdown@$BB_C.service.d/e2e-log.conf"
    hx systemctl daemon-reload
    hx systemctl enable e2e-bb-probe.service >/dev/null 2>&1
    expect_eq "$(hx systemctl show -p TimeoutStopUSec --value "dockpoint-shutdown@$BB_C.service")" 30min "the shutdown unit's stop timeout"
    : > "$E2E_WORK/bench-boot.data"
    for k in $(seq 1 "$BB_ROUNDS"); do
        bb_boot restore "$k"
        bb_boot cold "$k"
    done
    {
        echo "boot to serving, the 1 GiB container (bench_checkpoint's application behind httpd on a published port), restored at boot by dockpoint enable --on-shutdown against a cold start; $BB_ROUNDS rounds each, alternating; CLOCK_MONOTONIC of the host; checkpoints read from disk; median (every value):"
        bb_table
    } > "$out"
    cat "$out" >&2
}
