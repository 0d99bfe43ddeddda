# Restore at boot (dockpoint enable/disable/status) on the systemd-booted
# Debian 13 host with CRIU 4.2.1. Sourced by run.sh.

# The checkpoint timer: never more than --keep checkpoints, never zero, each
# restorable here; disable removes every unit file and leaves the policy.
case_d13_enable() {
    boot_criu_host
    local rc j=$E2E_WORK/$CASE
    hx docker run -d --restart always --name app1 -v /srv/app1:/data e2e/busybox sh -c \
        'trap "echo \$n >> /data/hups" HUP; n=0; while :; do n=$((n+1)); echo $n > /data/n; sleep 0.2; done' >/dev/null
    local units_before; units_before=$(hx sh -c 'find /etc/systemd/system | sort | md5sum')
    # No terminal, no --yes: the restart policy refuses, nothing written.
    rc=$(hx_rc dockpoint enable app1 --every 1min --keep 2)
    expect_eq "$rc" 1 "enable without consent to the restart policy"
    expect_eq "$(hx sh -c 'find /etc/systemd/system | sort | md5sum')" "$units_before" "units after the refusal"
    expect_eq "$(hx docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' app1)" always "policy after the refusal"
    rc=$(hx_rc dockpoint enable app1 --every 1min --keep 2 --on-shutdown --yes)
    expect_eq "$rc" 0 "enable"
    expect_eq "$(hx docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' app1)" no "policy after enable --yes"
    expect_eq "$(hx systemctl is-enabled dockpoint-restore@app1.service)" enabled "the boot unit"
    expect_eq "$(hx systemctl is-active dockpoint-checkpoint@app1.timer)" active "the timer"
    expect_eq "$(hx systemctl is-active dockpoint-shutdown@app1.service)" active "the shutdown unit"
    # A second enable writes nothing.
    local units_once; units_once=$(hx sh -c 'find /etc/systemd/system -type f | sort | xargs md5sum | md5sum')
    hx dockpoint enable app1 --every 1min --keep 2 --on-shutdown --yes >/dev/null 2>&1
    expect_eq "$(hx sh -c 'find /etc/systemd/system -type f | sort | xargs md5sum | md5sum')" "$units_once" "units after a second enable"
    # Three runs of the timer (a few minutes): after each, 1..2 checkpoints, all
    # restorable.
    local k n s
    for k in 1 2 3; do
        wait_for "checkpoint timer run $k" 180 sh -c "[ \$(journalctl -u dockpoint-checkpoint@app1.service -o cat | grep -c 'Deactivated successfully') -ge $k ]"
        hx dockpoint status app1 --format json > "$j-status$k.json"
        n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["containers"][0]["checkpoints"]))' "$j-status$k.json")
        [ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "after timer run $k: $n checkpoints (want 1..2)"
        s=$(/usr/bin/python3 -c 'import json,sys; print(" ".join(str(c["restorable"]) for c in json.load(open(sys.argv[1]))["containers"][0]["checkpoints"]))' "$j-status$k.json")
        expect_not_in "$s" False "restorable after timer run $k"
    done
    hx dockpoint status app1 > "$CAPTURE/d13-status.txt" 2>&1 || true
    # disable: every unit file dockpoint wrote is gone, the policy stays.
    rc=$(hx_rc dockpoint disable app1)
    expect_eq "$rc" 0 "disable"
    expect_eq "$(hx sh -c 'find /etc/systemd/system | grep -c dockpoint' || true)" 0 "dockpoint files in /etc/systemd/system"
    expect_eq "$(hx docker inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.State.Running}}' app1)" "no true" "the container after disable"
}
ALL_CASES+=(d13_enable)

# A reboot, unattended: checkpointed at shutdown, restored at boot (the count
# continues, one SIGHUP, status says so); then a record from another kernel:
# a cold start, and status says why.
case_d13_reboot() {
    boot_criu_host
    local rc j=$E2E_WORK/$CASE
    counter_container app1
    rc=$(hx_rc dockpoint enable app1 --on-shutdown --yes)
    expect_eq "$rc" 0 "enable --on-shutdown"
    # The count as the shutdown checkpoint left it, read while the host is off.
    REBOOT_BETWEEN='V_OFF=$(tail -n 1 "$HOST_ROOT/srv/app1/seq")' reboot_host
    # At boot: restored from the shutdown checkpoint, the count continuing.
    wait_for "the boot restore" 60 sh -c '[ "$(systemctl is-active dockpoint-restore@app1.service)" = active ]'
    hx dockpoint status app1 --format json > "$j-status1.json"
    local last; last=$(/usr/bin/python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["containers"][0]["last_boot"]; print(o["status"], o["checkpoint"])' "$j-status1.json")
    expect_match "$last" '^restored cp-' "the last boot"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' app1)" true "app1 after the boot"
    local v; v=$(count_of app1)
    wait_for "the SIGHUP of the boot restore" 10 sh -c '[ -s /srv/app1/hups ]'
    expect_eq "$(hx sh -c 'wc -l < /srv/app1/hups')" 1 "SIGHUPs after the boot"
    [ "$(hx cat /srv/app1/hups)" -ge "$V_OFF" ] || fail "the count restarted at boot ($(hx cat /srv/app1/hups) after $V_OFF at shutdown)"
    log "count at shutdown $V_OFF, at the boot's SIGHUP $(hx cat /srv/app1/hups), now $v"
    hx dockpoint status app1 > "$CAPTURE/d13-status-after-boot.txt" 2>&1 || true
    # Boot to restored: systemd's own timestamps (monotonic, microseconds).
    local t_docker t_restore t_target
    t_docker=$(hx systemctl show -p ActiveEnterTimestampMonotonic --value docker.service)
    t_restore=$(hx systemctl show -p ActiveEnterTimestampMonotonic --value dockpoint-restore@app1.service)
    t_target=$(hx systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)
    log "boot: docker up at $((t_docker / 1000)) ms, app1 restored at $((t_restore / 1000)) ms, multi-user.target at $((t_target / 1000)) ms (restore took $(((t_restore - t_docker) / 1000)) ms after docker)"
    echo "boot restore: docker up $((t_docker / 1000)) ms, restored $((t_restore / 1000)) ms, multi-user $((t_target / 1000)) ms" > "$E2E_WORK/boot-restore.txt"
    # Every record now says another kernel: the boot cold-starts, saying why.
    REBOOT_BETWEEN='for f in "$HOST_ROOT"/var/lib/dockpoint/checkpoints/*/*.json; do sed -i "s/\"kernel\": \"[^\"]*\"/\"kernel\": \"5.10.0-99-amd64\"/" "$f"; done'
    reboot_host
    REBOOT_BETWEEN=
    wait_for "the boot's cold start" 60 sh -c '[ "$(systemctl is-active dockpoint-restore@app1.service)" = active ]'
    hx dockpoint status app1 --format json > "$j-status2.json"
    last=$(/usr/bin/python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["containers"][0]["last_boot"]; print(o["status"], o["message"])' "$j-status2.json")
    expect_match "$last" '^cold-started ' "the last boot"
    expect_in "$last" "5.10.0-99-amd64" "the reason"
    expect_eq "$(hx docker inspect -f '{{.State.Running}}' app1)" true "app1 after the cold start"
    hx dockpoint status app1 > "$CAPTURE/d13-status-cold.txt" 2>&1 || true
}
ALL_CASES+=(d13_reboot)

# TCP across a reboot, the way the boot unit meets it. On docker's default
# bridge a container gets the lowest free address at each start, so a
# `--restart always` container started by docker at boot takes the address
# of app2, which held an established connection to a peer at the shutdown
# checkpoint. With runc.conf [tcp-established] CRIU cannot bind that socket
# back and the boot cold-starts (status says why); with `enable --tcp-close`
# the same reboot restores app2, the count continues and the connection
# comes back closed. A checkpoint made with tcp-close is then refused, before
# docker is called, once runc.conf has no tcp-close.
#
# tcp_app NAME: a counter (n, hups in /srv/NAME) holding one connection to
# port 9000 of the address written to /srv/NAME/peer.
tcp_app() {
    hx docker run -d --name "$1" -v "/srv/$1:/data" e2e/busybox sh -c \
        'while [ ! -s /data/peer ]; do sleep 0.2; done; (while :; do echo out; sleep 1; done | nc $(cat /data/peer) 9000 > /data/recv 2>>/data/err; echo "client ended" >> /data/log) & '"$RB_COUNTER" >/dev/null
}
# tcp_pair: app2 first (the bottom address), then its peer, connected.
tcp_pair() {
    hx rm -rf /srv/app2
    tcp_app app2
    hx docker run -d --name peer e2e/busybox sh -c 'trap "exit 0" TERM; while :; do while :; do echo back; sleep 1; done | nc -l -p 9000 > /dev/null; done' >/dev/null
    rb_ip peer | hx sh -c 'cat > /srv/app2/peer'
    wait_for "app2 to receive from its peer" 10 sh -c '[ -s /srv/app2/recv ]'
    expect_match "$(rb_established app2)" ":9000 ESTABLISHED" "app2's connection to its peer"
}
# The last boot's outcome of app2 in dockpoint status: "STATUS MESSAGE".
tcp_last_boot() {
    hx dockpoint status app2 --format json > "$1"
    /usr/bin/python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["containers"][0]["last_boot"]; print(o["status"], o["message"])' "$1"
}
case_d13_reboot_tcp() {
    boot_criu_host
    local rc j=$E2E_WORK/$CASE ip0 last
    tcp_pair
    hx docker run -d --name sq --restart always e2e/busybox sh -c 'trap "exit 0" TERM; while :; do sleep 0.5; done' >/dev/null
    ip0=$(rb_ip app2)
    # Without --tcp-close: runc.conf untouched, the advice names the connection.
    rc=$(cp_json "$j-enable1.json" enable app2 --on-shutdown --yes)
    expect_eq "$rc" 0 "enable without --tcp-close"
    expect_in "$(jget "$j-enable1.json" advice)" "has no tcp-close (app2 holds $ip0:" "enable's advice"
    expect_eq "$(hx cat /etc/criu/runc.conf)" tcp-established "runc.conf after enable without --tcp-close"
    REBOOT_BETWEEN='V_OFF=$(cat "$HOST_ROOT/srv/app2/n")' reboot_host
    wait_for "the boot's restore unit" 60 sh -c '[ "$(systemctl is-active dockpoint-restore@app2.service)" = active ]'
    expect_eq "$(rb_ip sq)" "$ip0" "the address the squatter took at boot (app2's before the reboot)"
    last=$(tcp_last_boot "$j-status1.json")
    expect_match "$last" '^cold-started ' "the last boot without tcp-close"
    expect_match "$last" "the restore from cp-[0-9TZ]+ failed" "the reason"
    # CRIU's own line when its log could be read (docker reports this failure
    # as `type NOTIFY` or `type RESTORE`; in one CI run of five the log was
    # not found and only docker's generic message was left).
    case $last in *"Can't bind inet socket"*) expect_in "$last" "address changed" "the reason" ;; *) log "the reason has no CRIU line: $last" ;; esac
    log "without tcp-close: $last"
    hx journalctl -u dockpoint-restore@app2.service -o cat --no-pager >>"$E2E_LOG/$CASE.log" 2>&1 || true
    hx dockpoint status app2 > "$CAPTURE/d13-status-tcp-cold.txt" 2>&1 || true
    # With --tcp-close: the same reboot restores. app2 again on the bottom
    # address (the squatter stopped: `always` starts it again at boot).
    hx docker stop -t 1 sq >/dev/null
    hx docker rm -f app2 peer >/dev/null
    tcp_pair
    ip0=$(rb_ip app2)
    rc=$(cp_json "$j-enable2.json" enable app2 --on-shutdown --yes --tcp-close)
    expect_eq "$rc" 0 "enable --tcp-close: $(jget "$j-enable2.json" message)"
    expect_eq "$(hx cat /etc/criu/runc.conf)" "$(printf 'tcp-established\ntcp-close')" "runc.conf after enable --tcp-close"
    expect_eq "$(jget "$j-enable2.json" advice)" "" "enable's advice with --tcp-close"
    rc=$(cp_json "$j-enable3.json" enable app2 --on-shutdown --yes --tcp-close)
    expect_not_in "$(cat "$j-enable3.json")" '"criu-options"' "a second enable --tcp-close"
    REBOOT_BETWEEN='V_OFF=$(cat "$HOST_ROOT/srv/app2/n")' reboot_host
    REBOOT_BETWEEN=
    wait_for "the boot's restore unit" 60 sh -c '[ "$(systemctl is-active dockpoint-restore@app2.service)" = active ]'
    expect_eq "$(rb_ip sq)" "$ip0" "the address the squatter took at boot (app2's before the reboot)"
    last=$(tcp_last_boot "$j-status2.json")
    expect_match "$last" '^restored ' "the last boot with tcp-close"
    [ "$(rb_ip app2)" != "$ip0" ] || fail "app2 kept its address $ip0"
    wait_for "the SIGHUP of the boot restore" 10 sh -c '[ -s /srv/app2/hups ]'
    expect_eq "$(hx sh -c 'wc -l < /srv/app2/hups')" 1 "SIGHUPs after the boot"
    [ "$(hx cat /srv/app2/hups)" -ge "$V_OFF" ] || fail "the count restarted at boot ($(hx cat /srv/app2/hups) after $V_OFF at shutdown)"
    wait_for "app2's connection to end" 10 sh -c 'grep -q "client ended" /srv/app2/log'
    expect_eq "$(rb_established app2)" "" "app2's established sockets after the restore"
    hx dockpoint status app2 > "$CAPTURE/d13-status-tcp-restored.txt" 2>&1 || true
    log "with tcp-close: $last; address $ip0 -> $(rb_ip app2); count $V_OFF at shutdown, $(hx cat /srv/app2/hups) at the SIGHUP"
    expect_in "$(hx sh -c 'cat /var/lib/dockpoint/checkpoints/*/*.json')" '"tcp_close": true' "the shutdown checkpoint's record"
    # That checkpoint needs tcp-close: refused once runc.conf has none.
    local name; name=$(hx dockpoint checkpoints app2 --format json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["checkpoints"][0]["name"])')
    rb_conf tcp-established
    local lines0; lines0=$(hx sh -c 'wc -l < /var/log/dockpoint/dockpoint.log')
    rc=$(cp_json "$j-refused.json" restore app2 "$name" --yes)
    expect_eq "$rc" 1 "a restore of a tcp-close checkpoint without tcp-close"
    expect_eq "$(jget "$j-refused.json" status)" refused "its status"
    expect_in "$(jget "$j-refused.json" message)" "made with tcp-close" "the refusal"
    expect_eq "$(rb_state app2)" "running 0" "app2 after the refusal"
    # The change log: every run that changed the host, a line per step; the
    # refusal and a setup with nothing to do add none; -v shows commands.
    expect_eq "$(hx sh -c 'wc -l < /var/log/dockpoint/dockpoint.log')" "$lines0" "change log lines after the refusal"
    local verbose; verbose=$(hx dockpoint setup --yes -v 2>&1 >/dev/null)
    expect_match "$verbose" '^\+ [^ ]*criu check' "setup -v's commands"
    expect_eq "$(hx sh -c 'wc -l < /var/log/dockpoint/dockpoint.log')" "$lines0" "change log lines after a setup with nothing to do"
    cp "$HOST_ROOT/var/log/dockpoint/dockpoint.log" "$CAPTURE/d13-change-log.jsonl"
    /usr/bin/python3 - "$HOST_ROOT/var/log/dockpoint/dockpoint.log" >>"$E2E_LOG/$CASE.log" 2>&1 <<'PY' || fail "the change log lacks a step (see the case log)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
def has(**kw):
    ok = any(all(str(l.get(k, "")).startswith(v) for k, v in kw.items()) for l in lines)
    print(("ok   " if ok else "MISSING ") + repr(kw))
    return ok
need = [
    has(command="setup", event="restarted", step="docker-restart"),
    has(command="setup", event="end", exit="0"),
    has(command="enable", event="changed", change="add tcp-close to /etc/criu/runc.conf", backup="/etc/criu/runc.conf."),
    has(command="checkpoint", event="changed", what="checkpoint made, the container stopped", container="app2"),
    has(command="restore", event="changed", what="cold start", container="app2"),
    has(command="restore", event="changed", what="restored", container="app2"),
    has(command="restore", event="changed", what="signal sent", signal="SIGHUP"),
]
runs = {}
for l in lines:
    runs.setdefault(l["run"], []).append(l["event"])
print(len(runs), "runs")
need.append(all(ev[-1] == "end" and ev.count("end") == 1 for ev in runs.values()))
sys.exit(0 if all(need) else 1)
PY
}
ALL_CASES+=(d13_reboot_tcp)
