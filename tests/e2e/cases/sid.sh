# Debian unstable (sid) under systemd: Docker 28 (docker.io 28.5.2, containerd
# 2.1, runc 1.3) and the distro's CRIU 4.2.1. Sourced by run.sh.
#
# Docker >= 28 cannot restore a container with a network namespace of its own
# (moby#50750): dockpoint checkpoints a bridge container with a warning and
# refuses its restore before docker is called; a --network host container
# checkpoints and restores, its in-memory state continuing.

# A counter container NAME [docker run flags...]: its count lives only in
# memory, starting from 0 (a fresh start resets it; a restore continues). Each
# step appends the count to /srv/NAME/seq and rewrites /srv/NAME/n, both
# opened afresh each time; every start of the shell appends to starts.
sid_counter() {
    local name=$1; shift
    hx docker run -d --name "$name" "$@" -v "/srv/$name:/data" e2e/busybox sh -c \
        'echo start >> /data/starts; n=0; while :; do n=$((n+1)); echo $n >> /data/seq; echo $n > /data/n; sleep 0.2; done' >/dev/null
    wait_for "the counter of $name to reach 5" 10 sh -c "[ \$(wc -l < /srv/$name/seq) -ge 5 ]"
}
# The count so far (the last line of seq) and how many lines seq has.
sid_last() { hx sh -c "tail -n 1 /srv/$1/seq"; }
sid_lines() { hx sh -c "wc -l < /srv/$1/seq"; }
# What docker says about a container's life: running, started, finished, error.
sid_state() { hx docker inspect -f '{{.State.Running}} {{.State.StartedAt}} {{.State.FinishedAt}} [{{.State.Error}}]' "$1"; }
# containerd's copies of checkpoints in /tmp (made when docker restores).
sid_tmp_copies() { hx sh -c 'ls -d /tmp/ctrd-checkpoint* 2>/dev/null | wc -l'; }

case_sid_docker28() {
    local t0=$SECONDS t j=$E2E_WORK/$CASE rc
    boot sid-systemd sid systemd
    local dv; dv=$(hx docker version --format '{{.Server.Version}}')
    log "sid host: docker $dv, containerd $(hx docker version --format '{{range .Server.Components}}{{if eq .Name "containerd"}}{{.Version}}{{end}}{{end}}'), systemd $(hx systemctl --version | awk 'NR==1 {print $2}'); root and boot $((SECONDS - t0)) s"
    expect_match "$dv" '^28\.' "docker's version on sid"
    hx test ! -e /usr/sbin/criu || fail "CRIU is in the root before setup"
    expect_eq "$(api_experimental)" false "experimental before setup"

    # 1. setup --yes: the distro's CRIU (4.2.1 is new enough for this kernel)
    # through apt, experimental on, docker restarted by systemd.
    t=$SECONDS
    rc=$(dockpoint_json "$j-setup.json")
    expect_eq "$rc" 0 "setup exit code"
    expect_eq "$(step "$j-setup.json" criu-install status)" changed "criu-install"
    expect_eq "$(step "$j-setup.json" criu-install method)" apt "criu-install method"
    expect_eq "$(step "$j-setup.json" criu-install version)" 4.2.1 "the distro's CRIU"
    expect_in "$(step "$j-setup.json" criu-install message)" "Looks good."
    expect_eq "$(step "$j-setup.json" runc-conf status)" changed "runc-conf"
    expect_eq "$(step "$j-setup.json" daemon-json status)" changed "daemon-json"
    expect_eq "$(step "$j-setup.json" docker-restart status)" changed "docker-restart"
    expect_in "$(step "$j-setup.json" docker-restart message)" "systemctl restart docker"
    hx test ! -e /etc/apt/preferences.d/dockpoint-criu-testing || fail "setup pinned testing on sid"
    expect_eq "$(hx criu --version | awk '/^Version:/ {print $2}')" 4.2.1 "criu --version"
    expect_eq "$(api_experimental)" true "experimental after setup"
    expect_eq "$(hx systemctl is-active docker)" active "docker under systemd"
    log "setup: $((SECONDS - t)) s"
    # The doctor warns about Docker 28's network restore.
    local d=$j-doctor.json
    rc=$(doctor_json "$d")
    expect_eq "$rc" 0 "doctor exit code (warnings only)"
    expect_eq "$(check "$d" docker.version "" status)" warn "doctor docker.version"
    expect_in "$(check "$d" docker.version "" message)" "/proc/0/ns/net" "doctor docker.version"
    expect_eq "$(check "$d" criu.check "" status)" pass "doctor criu.check"

    busybox_image
    sid_counter br
    sid_counter hn --network host

    # 2. A bridge container: checkpointed with the container.network warning;
    # its restore refused before docker is called.
    t=$SECONDS
    rc=$(cp_json "$j-br-cp.json" checkpoint br cp1 --yes)
    expect_eq "$rc" 0 "checkpoint of the bridge container: $(jget "$j-br-cp.json" message)"
    expect_eq "$(jget "$j-br-cp.json" status)" created "bridge checkpoint status"
    expect_in "$(jget "$j-br-cp.json" warnings)" "container.network" "the bridge checkpoint's warnings"
    expect_in "$(hx docker checkpoint ls br)" cp1 "br's checkpoints"
    local before after lines
    before=$(sid_state br)
    expect_eq "${before%% *}" false "br after its checkpoint"
    lines=$(sid_lines br)
    rc=$(cp_json "$j-br-r.json" restore br)
    expect_eq "$rc" 1 "restore of the bridge container"
    expect_eq "$(jget "$j-br-r.json" status)" refused "bridge restore status"
    expect_eq "$(jget "$j-br-r.json" checkpoint)" cp1 "the checkpoint it judged"
    expect_in "$(jget "$j-br-r.json" message)" "container.network" "the refusal"
    expect_in "$(jget "$j-br-r.json" message)" "before docker was called" "the refusal"
    # Docker was not called: same start time, still stopped, no start error,
    # no copy of the checkpoint made by containerd, the counter not moving.
    after=$(sid_state br)
    expect_eq "$after" "$before" "br's state after the refused restore"
    expect_eq "$(sid_tmp_copies)" 0 "containerd checkpoint copies in /tmp after the refusal"
    expect_eq "$(sid_lines br)" "$lines" "br's counter after the refusal"
    hx dockpoint restore br > "$CAPTURE/sid-docker28-restore-refused.txt" 2>&1 || true
    log "bridge checkpoint and refusal: $((SECONDS - t)) s"

    # 3. A --network host container: checkpoint, then restore --no-signal; the
    # count continues from the checkpointed value, the shell not started again.
    t=$SECONDS
    rc=$(cp_json "$j-hn-cp.json" checkpoint hn cp1 --yes)
    expect_eq "$rc" 0 "checkpoint of the host-network container: $(jget "$j-hn-cp.json" message)"
    expect_eq "$(jget "$j-hn-cp.json" status)" created "host-network checkpoint status"
    expect_not_in "$(jget "$j-hn-cp.json" warnings)" "container.network" "the host-network checkpoint's warnings"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' hn)" false "hn after its checkpoint"
    local v; v=$(sid_last hn)
    expect_eq "$(sid_lines hn)" "$v" "hn's count at the checkpoint (one line per step)"
    rc=$(cp_json "$j-hn-r.json" restore hn --no-signal)
    expect_eq "$rc" 0 "restore of the host-network container: $(jget "$j-hn-r.json" message)"
    expect_eq "$(jget "$j-hn-r.json" status)" restored "host-network restore status"
    expect_eq "$(jget "$j-hn-r.json" checkpoint)" cp1 "the checkpoint restored"
    expect_eq "$(jget "$j-hn-r.json" signal_sent)" "" "--no-signal"
    expect_in "$(jget "$j-hn-r.json" proof)" "Restore finished successfully" "the restore's proof"
    log "host-network restore: gc_race $(jget "$j-hn-r.json" gc_race), $(jget "$j-hn-r.json" duration_ms) ms"
    wait_for "hn's count to pass $v after the restore" 10 sh -c "[ \$(wc -l < /srv/hn/seq) -ge $((v + 3)) ]"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' hn)" true "hn after its restore"
    # seq is 1, 2, ..., N with no reset: the line after the checkpoint's v is
    # v+1 (a fresh start would have written 1 there).
    local gaps
    gaps=$(hx awk '$1 != NR { print NR": "$1; exit }' /srv/hn/seq)
    expect_eq "$gaps" "" "hn's count (first line that breaks 1..N)"
    expect_eq "$(hx sed -n "$((v + 1))p" /srv/hn/seq)" "$((v + 1))" "hn's first count after the restore"
    expect_eq "$(hx sh -c 'wc -l < /srv/hn/starts')" 1 "starts of hn's shell"
    # The counter file (read while the shell may be rewriting it: polled).
    wait_for "hn's counter file to be above $v" 5 sh -c "[ \"\$(cat /srv/hn/n)\" -gt $v ]"
    local n; n=$(hx cat /srv/hn/n)
    expect_eq "$(sid_tmp_copies)" 0 "containerd checkpoint copies in /tmp after dockpoint's restore"
    log "host network: checkpointed at $v, counter file $n after the restore; $((SECONDS - t)) s"

    # 4. For the record: plain docker on the bridge container (it fails, and
    # explain recognises its text).
    local plain=$CAPTURE/sid-docker28-bridge-restore.txt
    rc=0; hx docker start --checkpoint cp1 br > "$plain" 2>&1 || rc=$?
    log "docker start --checkpoint cp1 br (exit $rc): $(cat "$plain")"
    expect_eq "$rc" 1 "plain docker start --checkpoint of the bridge container"
    expect_in "$(cat "$plain")" "bind-mount /proc/0/ns/net" "plain docker's error"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' br)" false "br after plain docker's failure"
    log "after plain docker's failure: State.Error [$(hx docker inspect -f '{{.State.Error}}' br)], $(sid_tmp_copies) containerd checkpoint copies in /tmp"
    local e=$j-explain.json
    rc=0; hx dockpoint explain --format json -- "$(cat "$plain")" > "$e" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    expect_eq "$rc" 0 "explain of plain docker's error"
    expect_eq "$(/usr/bin/python3 -c 'import json,sys; print(" ".join(x["id"] for x in json.load(open(sys.argv[1]))["diagnoses"]))' "$e")" restore-netns "explain's diagnosis"
    log "case body $((SECONDS - t0)) s"
}
ALL_CASES+=(sid_docker28)
