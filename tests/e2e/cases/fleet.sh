# Fleet use, for real: Ansible (from PyPI, in a venv cached with the roots)
# runs examples/ansible/site.yml against three of the harness's Debian hosts
# at once (two Debian 13 with systemd, one Debian 13 with SysV init),
# entering each host's namespaces through community.docker's nsenter
# connection (ansible_nsenter_pid: the host's PID 1). The playbook copies
# the .deb, installs it and runs `dockpoint setup --yes --format json`
# (CRIU from the loopback test repository of each host). Sourced by run.sh.
#
# First pass: changed on every host. Second pass: ok everywhere, no change.
# Third pass, one host's daemon.json broken: that host fails with
# dockpoint's own reason, the others pass unchanged. Wall times in
# $E2E_WORK/fleet.txt.

FLEET_ANSIBLE=${FLEET_ANSIBLE:-ansible==12.3.0}
FLEET_VENV=${FLEET_VENV:-$E2E_CACHE/ansible-venv}
FLEET_HOSTS=()
declare -A FLEET_STATE

# The venv with Ansible (its `ansible` package carries community.docker).
fleet_venv() {
    if ! "$FLEET_VENV/bin/ansible-playbook" --version >/dev/null 2>&1; then
        log "creating $FLEET_VENV: $FLEET_ANSIBLE from PyPI (about a minute)"
        rm -rf "$FLEET_VENV"
        /usr/bin/python3 -m venv "$FLEET_VENV"
        "$FLEET_VENV/bin/pip" install -q "$FLEET_ANSIBLE" >>"$E2E_LOG/$CASE.log" 2>&1 \
            || die "pip install $FLEET_ANSIBLE failed (see $E2E_LOG/$CASE.log)"
    fi
}

# The globals of the booted host, kept per host name, and put back.
fleet_save() {
    FLEET_STATE[$HOST_NAME]="$HOST_PID|$HOST_ROOT|$HOST_INIT|$HOST_CG|${BRIDGE_PIDS:-}|${HOST_EXTRA_PIDS:-}"
}
fleet_use() {
    IFS='|' read -r HOST_PID HOST_ROOT HOST_INIT HOST_CG BRIDGE_PIDS HOST_EXTRA_PIDS <<< "${FLEET_STATE[$1]}"
    HOST_NAME=$1
}
fleet_stop_all() {
    local n
    for n in "${FLEET_HOSTS[@]}"; do fleet_use "$n"; stop_host || true; done
}

# fleet_boot NAME ROOTNAME SUITE INIT: a fresh host with docker up and the
# CRIU test repository served on its loopback; no dockpoint (the playbook
# installs it).
fleet_boot() {
    local src; src=$(build_root "$2" "$3" "$4")
    boot_host "$(fresh_root "$src" "$1")" "$4" "$1"
    FLEET_HOSTS+=("$1")
    fleet_save
    [ "$4" = sysv ] && start_sysv_docker
    docker_up
    criu_repo_serve
    fleet_save
}

# fleet_play OUT: the playbook on every host; Ansible's JSON report to OUT,
# the wall time (s) to OUT.time; the exit code echoed.
fleet_play() {
    local out=$1 rc=0 t0 t1
    t0=$(date +%s.%N)
    ANSIBLE_HOME="$E2E_WORK/ansible-home" ANSIBLE_STDOUT_CALLBACK=json ANSIBLE_NOCOLOR=1 \
        ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_RETRY_FILES_ENABLED=False \
        "$FLEET_VENV/bin/ansible-playbook" -i "$E2E_WORK/fleet-inventory.ini" \
        "$REPO/examples/ansible/site.yml" -e "dockpoint_deb=$DEB" \
        -e "{\"dockpoint_setup_args\": [\"--criu-source\", \"obs\", \"--criu-base\", \"$CRIU_REPO_URL\"]}" \
        > "$out" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    t1=$(date +%s.%N)
    printf '%.1f\n' "$(echo "$t1 - $t0" | bc)" > "$out.time"
    echo "$rc"
}

# fleet_stats OUT: "host changed failures unreachable" a line, from the report.
fleet_stats() {
    /usr/bin/python3 -c '
import json, sys
stats = json.load(open(sys.argv[1]))["stats"]
for h in sorted(stats):
    s = stats[h]
    print(h, s["changed"], s["failures"], s["unreachable"])' "$1"
}

# fleet_task OUT HOST TASK FIELD: one field of one task's result on a host.
fleet_task() {
    /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for play in d["plays"]:
    for t in play["tasks"]:
        if t["task"]["name"] == sys.argv[3]:
            r = t["hosts"].get(sys.argv[2], {})
            v = r.get(sys.argv[4])
            print("" if v is None else (json.dumps(v) if not isinstance(v, str) else v))' "$@"
}

case_fleet() {
    trap fleet_stop_all EXIT
    fleet_venv
    fleet_boot "$CASE" trixie-systemd trixie systemd
    fleet_boot "$CASE-b" trixie-systemd trixie systemd
    fleet_boot "$CASE-c" trixie-sysv trixie sysv
    local n j=$E2E_WORK/$CASE rc
    {
        echo "[docker_hosts]"
        for n in "${FLEET_HOSTS[@]}"; do
            fleet_use "$n"
            echo "$n ansible_nsenter_pid=$HOST_PID"
        done
        echo "[docker_hosts:vars]"
        echo "ansible_connection=community.docker.nsenter"
        echo "ansible_python_interpreter=/usr/bin/python3"
    } > "$E2E_WORK/fleet-inventory.ini"
    # First pass: every host changed (package, CRIU, both files, docker).
    rc=$(fleet_play "$j-1.json")
    local first; first=$(cat "$j-1.json.time")
    expect_eq "$rc" 0 "first pass exit code"
    expect_eq "$(fleet_stats "$j-1.json" | awk '$2 > 0 && $3 == 0 && $4 == 0' | wc -l)" 3 "hosts changed without failure on the first pass: $(fleet_stats "$j-1.json" | tr '\n' ';')"
    for n in "${FLEET_HOSTS[@]}"; do
        expect_eq "$(fleet_task "$j-1.json" "$n" "dockpoint setup" changed)" true "setup changed $n on the first pass"
        fleet_use "$n"
        expect_eq "$(hx cat /etc/criu/runc.conf)" tcp-established "runc.conf of $n"
        expect_in "$(hx criu --version)" "$CRIU_REPO_CRIU_VERSION" "CRIU of $n"
        expect_eq "$(hx docker version --format '{{.Server.Experimental}}')" true "experimental on $n"
    done
    # Second pass: nothing to do anywhere.
    rc=$(fleet_play "$j-2.json")
    local second; second=$(cat "$j-2.json.time")
    expect_eq "$rc" 0 "second pass exit code"
    expect_eq "$(fleet_stats "$j-2.json" | awk '{print $2, $3, $4}' | sort -u)" "0 0 0" "changed/failures/unreachable on the second pass: $(fleet_stats "$j-2.json" | tr '\n' ';')"
    # One host's daemon.json broken: that host fails with dockpoint's reason.
    fleet_use "$CASE-c"
    printf '{\n  "experimental": tru\n}\n' > "$HOST_ROOT/etc/docker/daemon.json"
    rc=$(fleet_play "$j-3.json")
    expect_eq "$rc" 2 "third pass exit code (a host failed)"
    local st; st=$(fleet_stats "$j-3.json")
    expect_eq "$(echo "$st" | awk -v h="$CASE-c" '$1 == h {print $3}')" 1 "failures of the broken host: $st"
    expect_eq "$(echo "$st" | awk -v h="$CASE-c" '$1 != h {print $2, $3, $4}' | sort -u)" "0 0 0" "the other hosts on the third pass: $st"
    local msg; msg=$(fleet_task "$j-3.json" "$CASE-c" "What dockpoint says failed" msg)
    expect_in "$msg" "setup step daemon-json: " "the broken host's failure"
    expect_in "$msg" "/etc/docker/daemon.json" "the broken host's failure"
    log "fleet: first pass ${first} s, second ${second} s; the broken host: $msg"
    printf 'three hosts: first pass %s s, second pass %s s\n' "$first" "$second" > "$E2E_WORK/fleet.txt"
    cp "$E2E_WORK/fleet-inventory.ini" "$CAPTURE/fleet-inventory.ini"
    echo "$msg" > "$CAPTURE/fleet-broken-host.txt"
}
ALL_CASES+=(fleet)
