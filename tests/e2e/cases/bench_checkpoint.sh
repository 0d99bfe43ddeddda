# Benchmark (not in ALL_CASES; run by name: make bench-e2e): what dockpoint's
# checkpoint and restore add to docker's, and what a restore buys against a
# cold start, on the Debian 13 systemd host with CRIU 4.2.1 (the OBS-style
# source, as in d13_checkpoint). Figures in $E2E_WORK/bench-checkpoint.txt.
#
# 1. Overhead, hyperfine inside the host, a busybox container:
#    `dockpoint checkpoint C NAME --yes` against `docker checkpoint create C NAME`,
#    `dockpoint restore C NAME --no-signal --yes` against `docker start --checkpoint NAME C`,
#    and both checkpoints with --leave-running (dockpoint stops a container by
#    pausing it, dumping it with --leave-running and killing it: that line
#    separates its own work from the cost of that way of stopping).
#    Each run's --prepare puts the container in the state the command needs
#    (running without the checkpoint, or stopped with it) and then waits until
#    containerd's content store is empty again: the blobs of the previous
#    checkpoint or restore are only garbage-collected a moment later, and a
#    create or restore before that fails with "content sha256:...: already
#    exists" (plain docker) or is retried (dockpoint). Waiting in the prepare
#    measures both without the race. containerd's leftover copies of
#    checkpoints in /tmp (containerd#10166) are removed there too.
# 2. A container holding 1 GiB of state in RAM, built 32 MiB at a time (random
#    text) and no faster than 32 MiB/s, so a cold start takes more than 30 s,
#    as a real index does (BELA reads and indexes about a minute per GB):
#    (a) `docker start` until it says it is ready, (b) `dockpoint restore` of
#    a checkpoint taken once it was ready, until it runs again, with plain
#    `docker start --checkpoint` alternating with it, (c) the floor: reading
#    the checkpoint's files once. Before (b) and (c) the checkpoint's files
#    are dropped from the page cache, those files only (fsync, then
#    POSIX_FADV_DONTNEED; never the machine-wide drop_caches, which would
#    disturb other work on the machine), so both read from the disk as after
#    a reboot. dockpoint's restore removes containerd's 1 GiB copy in /tmp
#    within its time; docker's is removed by the next prepare. The checksums
#    of every chunk, before the checkpoint and after the last restore, prove
#    the state came back intact.
#
# The machine is shared (2 CPUs): medians move by tens of ms from one run to
# the next; the fastest runs are printed too.

BCP_SMALL=small
BCP_BIG=big
BCP_ROUNDS=${BCP_ROUNDS:-3}
BCP_RUNS=${BCP_RUNS:-5}
BCP_COLD_RUNS=${BCP_COLD_RUNS:-3}

# The scripts the host runs: the prepares and the 1 GiB application.
bcp_scripts() {
    local d=$HOST_ROOT/opt/e2e/bench
    mkdir -p "$d"
    # containerd's content store (docker's checkpoints pass through it) empty:
    # the previous checkpoint's or restore's blobs are collected.
    cat > "$d/gc-settled" <<'EOF'
#!/bin/sh
n=0
while [ -n "$(ctr -n moby content ls -q)" ]; do
    n=$((n + 1))
    [ "$n" -le 600 ] || { echo "containerd's content store still holds: $(ctr -n moby content ls -q | tr '\n' ' ')" >&2; exit 1; }
    sleep 0.05
done
EOF
    # Before a checkpoint: C running, no checkpoint NAME.
    cat > "$d/prep-checkpoint" <<'EOF'
#!/bin/sh
set -e
c=$1 name=$2
docker checkpoint rm "$c" "$name" 2>/dev/null || true
[ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || docker start "$c" >/dev/null
rm -rf /tmp/ctrd-checkpoint*
exec /opt/e2e/bench/gc-settled
EOF
    # Before a restore: C stopped (its checkpoint stays).
    cat > "$d/prep-restore" <<'EOF'
#!/bin/sh
set -e
c=$1
[ "$(docker inspect -f '{{.State.Running}}' "$c")" = false ] || docker kill "$c" >/dev/null
n=0
until [ "$(docker inspect -f '{{.State.Running}}' "$c")" = false ]; do
    n=$((n + 1)); [ "$n" -le 100 ] || exit 1; sleep 0.05
done
rm -rf /tmp/ctrd-checkpoint*
exec /opt/e2e/bench/gc-settled
EOF
    chmod 755 "$d/gc-settled" "$d/prep-checkpoint" "$d/prep-restore"
    # The 1 GiB application (busybox sh: its variables hold the state).
    mkdir -p "$HOST_ROOT/opt/e2e/big/bin" "$HOST_ROOT/opt/e2e/big/srv"
    cat > "$HOST_ROOT/opt/e2e/big/app" <<'EOF'
#!/bin/sh
# Builds 1 GiB of state in RAM: 32 chunks of 32 MiB of random text, at most
# one chunk a second, then writes /srv/ready and holds the state. After that
# (not part of the cold start: the test's own instrument) it writes every
# chunk's checksum to /srv/sums.build, and again to /srv/sums.check on each
# SIGHUP: the state came back intact from a restore.
rm -f /srv/ready /srv/sums.build /srv/sums.check /srv/sums.tmp
t0=$(date +%s)
i=0
while [ $i -lt 32 ]; do
    i=$((i + 1))
    eval "d$i=\$(head -c 25165824 /dev/urandom | base64 -w0)"
    while [ $(($(date +%s) - t0)) -lt $i ]; do sleep 0.2; done
done
echo ready > /srv/ready
sums() {
    rm -f /srv/sums.tmp
    i=0
    while [ $i -lt 32 ]; do
        i=$((i + 1))
        eval "echo \"\$d$i\"" | md5sum >> /srv/sums.tmp
    done
    mv /srv/sums.tmp "$1"
}
trap 'sums /srv/sums.check' HUP
sums /srv/sums.build
while :; do sleep 3600 & wait $!; done
EOF
    chmod 755 "$HOST_ROOT/opt/e2e/big/app"
}

# e2e/big: the root's busybox with the applets the application uses, and
# the further APPLETs named (bench_boot's listener).
bcp_big_image() { # [APPLET...]
    hx sh -c 'set -e
        d=/opt/e2e/big
        cp /bin/busybox $d/bin/busybox
        for l in sh sleep cat echo head base64 md5sum rm mv date "$@"; do ln -sf busybox $d/bin/$l; done
        tar -C $d -cf /opt/e2e/big.tar .
        docker import /opt/e2e/big.tar e2e/big >/dev/null' sh "$@"
}

# hyperfine, inside the host, of docker's command A against dockpoint's B,
# in alternating rounds (a drift of the machine's load, shared with other
# work, then falls on both): BCP_ROUNDS rounds of one warm-up and BCP_RUNS
# timed runs of each, PREPARE before every run. Prints the pooled medians and
# minimums in ms: "MEDIAN-A MEDIAN-B MIN-A MIN-B". TAG names the JSON files (kept in $E2E_WORK/bench-checkpoint/).
bcp_pair() { # TAG PREPARE NAME-A CMD-A NAME-B CMD-B
    local tag=$1 prep=$2 r side name cmd jsons=()
    mkdir -p "$HOST_ROOT/root/bench" "$E2E_WORK/bench-checkpoint"
    for r in $(seq 1 "$BCP_ROUNDS"); do
        for side in a b; do
            if [ "$side" = a ]; then name=$3 cmd=$4; else name=$5 cmd=$6; fi
            hx hyperfine -N --warmup 1 --runs "$BCP_RUNS" --export-json "/root/bench/$tag-$side-$r.json" \
                --prepare "$prep" -n "$name" "$cmd" >>"$E2E_LOG/$CASE.log" 2>&1 \
                || { fail "hyperfine $name (round $r) failed: see $E2E_LOG/$CASE.log"; return 1; }
            jsons+=("$HOST_ROOT/root/bench/$tag-$side-$r.json")
        done
    done
    cp "${jsons[@]}" "$E2E_WORK/bench-checkpoint/"
    /usr/bin/python3 -c 'import json, statistics, sys
t = {"a": [], "b": []}
for f in sys.argv[1:]:
    side = f.rsplit("-", 2)[1]
    for x in json.load(open(f))["results"]:
        t[side] += x["times"]
m = [statistics.median(t["a"]), statistics.median(t["b"]), min(t["a"]), min(t["b"])]
print(" ".join("%.1f" % (x * 1e3) for x in m))' "${jsons[@]}"
}
# Seconds since T0 (date +%s.%N).
bcp_since() { echo "$(date +%s.%N) - $1" | bc; }
bcp_med3() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
bcp_row() { local l=$1; shift; printf '  %-51s %s s (median of %s)\n' "$l" "$(bcp_med3 "$@")" "$(bcp_list "$@")"; }
bcp_list() { local x out=; for x in "$@"; do out="$out$(printf '%.2f' "$x") "; done; echo "${out% }"; }

# Drop the page cache of FILES (these only): dirty pages are written first,
# then the kernel is told they are not needed. Prints how much stayed cached.
bcp_drop_cache() {
    /usr/bin/python3 - "$@" <<'EOF'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
EOF
    fincore -b -n -o RES "$@" | awk '{s += $1} END {print s + 0}'
}

# Part 1: dockpoint's overhead on a small container.
bcp_overhead() {
    local out=$1 c=$BCP_SMALL cpm lrm rsm
    hx docker run -d --name "$c" e2e/busybox sh -c 'i=0; while :; do i=$((i + 1)); sleep 1; done' >/dev/null
    sleep 1
    cpm=$(bcp_pair checkpoint "/opt/e2e/bench/prep-checkpoint $c cpb" \
        "docker checkpoint create" "docker checkpoint create $c cpb" \
        "dockpoint checkpoint" "dockpoint checkpoint $c cpb --yes")
    # Both leaving the container running: dockpoint's own work (preflight,
    # record) apart from how it stops the container (paused, dumped with
    # --leave-running, then killed, so that docker's restart policy does not
    # start it again).
    lrm=$(bcp_pair checkpoint-lr "/opt/e2e/bench/prep-checkpoint $c cpb" \
        "docker checkpoint create --leave-running" "docker checkpoint create --leave-running $c cpb" \
        "dockpoint checkpoint --leave-running" "dockpoint checkpoint $c cpb --leave-running --yes")
    # The checkpoint both restores start from, made by dockpoint (with its record).
    hx /opt/e2e/bench/prep-checkpoint "$c" cpr
    expect_eq "$(hx_rc dockpoint checkpoint "$c" cpr --yes)" 0 "dockpoint checkpoint $c cpr"
    rsm=$(bcp_pair restore "/opt/e2e/bench/prep-restore $c" \
        "docker start --checkpoint" "docker start --checkpoint cpr $c" \
        "dockpoint restore" "dockpoint restore $c cpr --no-signal --yes")
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' "$c")" true "$c after the restores"
    {
        echo "overhead on a busybox container (hyperfine -N inside the host, $BCP_ROUNDS alternating rounds of 1 warm-up + $BCP_RUNS runs each; pooled medians, then the fastest runs):"
        set -- $cpm
        printf '  checkpoint: docker checkpoint create %s ms; dockpoint checkpoint --yes %s ms; added %+.1f ms (fastest: %s vs %s ms, %+.1f)\n' \
            "$1" "$2" "$(echo "$2 - $1" | bc)" "$3" "$4" "$(echo "$4 - $3" | bc)"
        set -- $lrm
        printf '  checkpoint --leave-running: docker %s ms; dockpoint %s ms; added %+.1f ms (fastest: %s vs %s ms, %+.1f)\n' \
            "$1" "$2" "$(echo "$2 - $1" | bc)" "$3" "$4" "$(echo "$4 - $3" | bc)"
        set -- $rsm
        printf '  restore:    docker start --checkpoint %s ms; dockpoint restore --no-signal --yes %s ms; added %+.1f ms (fastest: %s vs %s ms, %+.1f)\n' \
            "$1" "$2" "$(echo "$2 - $1" | bc)" "$3" "$4" "$(echo "$4 - $3" | bc)"
    } >> "$out"
}

# Part 2: 1 GiB of state, cold start against restore.
bcp_big() {
    local out=$1 c=$BCP_BIG k t0 cold=() rest=() plain=() floor=() warm left
    local ready=$HOST_ROOT/srv/big/ready
    mkdir -p "$HOST_ROOT/srv/big"
    bcp_big_image
    hx docker create --name "$c" -v /srv/big:/srv e2e/big /app >/dev/null
    # (a) cold starts, the last one left running.
    for k in $(seq 1 "$BCP_COLD_RUNS"); do
        if [ "$k" -gt 1 ]; then hx docker kill "$c" >/dev/null; hx docker wait "$c" >/dev/null; fi
        rm -f "$ready"
        t0=$(date +%s.%N)
        hx docker start "$c" >/dev/null
        local n=0
        until [ -f "$ready" ]; do
            n=$((n + 1)); [ "$n" -le 12000 ] || { fail "$c not ready after 120 s: $(hx docker logs "$c" 2>&1 | tail -n 3)"; return 1; }
            sleep 0.01
        done
        cold+=("$(bcp_since "$t0")")
        log "cold start $k: ${cold[-1]} s"
    done
    # The checksums of what was built (the app's last step before idling).
    local n=0
    until [ -f "$HOST_ROOT/srv/big/sums.build" ]; do
        n=$((n + 1)); [ "$n" -le 1200 ] || { fail "no checksums after the build"; return 1; }
        sleep 0.1
    done
    local pid rss
    pid=$(hx docker inspect -f '{{.State.Pid}}' "$c")
    rss=$(hx awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
    [ "$rss" -ge 1024 ] || fail "$c holds $rss MiB, not 1 GiB"
    # The checkpoint, once it was ready.
    local cj=$E2E_WORK/$CASE-big-checkpoint.json rc=0
    t0=$(date +%s.%N)
    hx dockpoint checkpoint "$c" cpbig --yes --format json > "$cj" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    local cp_s; cp_s=$(bcp_since "$t0")
    expect_eq "$rc" 0 "dockpoint checkpoint of the 1 GiB container: $(jget "$cj" message)"
    local id dir files size
    id=$(hx docker inspect -f '{{.Id}}' "$c")
    dir=$HOST_ROOT/var/lib/docker/containers/$id/checkpoints/cpbig
    files=("$dir"/*)
    size=$(du -sb "$dir" | awk '{print $1}')
    # (b) restores and (c) the floor, each from the disk.
    for k in $(seq 1 "$BCP_COLD_RUNS"); do
        hx /opt/e2e/bench/prep-restore "$c"
        left=$(bcp_drop_cache "${files[@]}")
        [ "$left" -lt $((16 << 20)) ] || log "warning: $left bytes of the checkpoint stayed in the page cache"
        local rj=$E2E_WORK/$CASE-big-restore-$k.json
        rc=0
        t0=$(date +%s.%N)
        hx dockpoint restore "$c" cpbig --no-signal --yes --format json > "$rj" 2>>"$E2E_LOG/$CASE.log" || rc=$?
        rest+=("$(bcp_since "$t0")")
        expect_eq "$rc" 0 "dockpoint restore $k of the 1 GiB container: $(jget "$rj" message)"
        expect_eq "$(hx docker inspect -f '{{.State.Running}}' "$c")" true "$c after restore $k"
        [ -f "$ready" ] || fail "restore $k: /srv/ready is gone (a cold start, not a restore?)"
        log "dockpoint restore $k: ${rest[-1]} s (page cache before: $left bytes; GC race: $(jget "$rj" gc_race); CRIU: $(jget "$rj" criu_stats))"
        # docker alone, the same way.
        hx /opt/e2e/bench/prep-restore "$c"
        left=$(bcp_drop_cache "${files[@]}")
        t0=$(date +%s.%N)
        hx docker start --checkpoint cpbig "$c" >>"$E2E_LOG/$CASE.log" 2>&1 || fail "docker start --checkpoint cpbig $c ($k) failed"
        plain+=("$(bcp_since "$t0")")
        expect_eq "$(hx docker inspect -f '{{.State.Running}}' "$c")" true "$c after docker's restore $k"
        [ -f "$ready" ] || fail "docker's restore $k: /srv/ready is gone"
        log "docker start --checkpoint $k: ${plain[-1]} s (page cache before: $left bytes)"
        left=$(bcp_drop_cache "${files[@]}")
        t0=$(date +%s.%N)
        hx sh -c "cat /var/lib/docker/containers/$id/checkpoints/cpbig/* > /dev/null"
        floor+=("$(bcp_since "$t0")")
    done
    t0=$(date +%s.%N)
    hx sh -c "cat /var/lib/docker/containers/$id/checkpoints/cpbig/* > /dev/null"
    warm=$(bcp_since "$t0")
    # The state came back intact: every chunk's checksum as it was built.
    pid=$(hx docker inspect -f '{{.State.Pid}}' "$c")
    rss=$(hx awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
    [ "$rss" -ge 1024 ] || fail "$c holds $rss MiB after the restores"
    hx docker kill -s HUP "$c" >/dev/null
    n=0
    until [ -f "$HOST_ROOT/srv/big/sums.check" ]; do
        n=$((n + 1)); [ "$n" -le 1200 ] || { fail "no checksums after SIGHUP"; break; }
        sleep 0.1
    done
    expect_eq "$(cat "$HOST_ROOT/srv/big/sums.check" 2>/dev/null)" "$(cat "$HOST_ROOT/srv/big/sums.build")" "the 32 chunks' checksums after the restores"
    expect_eq "$(wc -l < "$HOST_ROOT/srv/big/sums.build")" 32 "chunks built"
    {
        printf '1 GiB of state in RAM (%s MiB resident; checkpoint %s MiB, taken in %.1f s):\n' "$rss" "$((size >> 20))" "$cp_s"
        bcp_row "(a) cold start, docker start until ready:" "${cold[@]}"
        bcp_row "(b) dockpoint restore until running, from disk:" "${rest[@]}"
        bcp_row "    docker start --checkpoint alone, from disk:" "${plain[@]}"
        bcp_row "(c) floor, cat of the checkpoint files, from disk:" "${floor[@]}"
        printf '  %-51s %.2f s\n' "    the same from the page cache:" "$warm"
    } >> "$out"
}

case_bench_checkpoint() {
    boot_criu_host
    local out=$E2E_WORK/bench-checkpoint.txt
    expect_eq "$(hx criu --version | awk '/^Version:/ {print $2}')" 4.2.1 "CRIU"
    install -m 755 "$(command -v hyperfine)" "$HOST_ROOT/usr/local/bin/hyperfine"
    bcp_scripts
    : > "$out.tmp"
    bcp_overhead "$out.tmp"
    bcp_big "$out.tmp"
    mv "$out.tmp" "$out"
    cat "$out" >&2
}
