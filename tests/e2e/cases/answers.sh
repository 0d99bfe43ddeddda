# The answers file (issue 11): dockpoint setup --config on the systemd-booted
# Debian 13 host (no CRIU needed: the file says no-install). Sourced by run.sh.

# The run matches the file: its runc.conf options, no docker restart, the
# doctor's skip, enable for its container; saving the same answers changes
# no byte; a bad file exits 2 naming the file, the line and the key, and
# leaves the host's files byte-identical.
case_answers() {
    boot trixie-systemd trixie systemd
    busybox_image
    hx docker run -d --name app1 e2e/busybox sh -c 'while :; do sleep 1; done' >/dev/null
    hx sh -c 'cat > /root/answers.toml' <<'TOML'
# The fleet's answers (comments stay).
yes = true
format = "json"
no-install = true
restart = "never"   # docker is restarted in the maintenance window
criu-options = ["skip-in-flight", "ghost-limit 100M"]
repair = false
skip = ["criu"]

[enable]
containers = ["app1"]
keep = 3
on-shutdown = true
TOML
    local j=$E2E_WORK/$CASE.json rc pid1 exp1 answers0
    pid1=$(dockerd_pid)
    exp1=$(api_experimental)
    answers0=$(hx md5sum /root/answers.toml)
    rc=0
    hx dockpoint setup --config /root/answers.toml > "$j" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    expect_eq "$rc" 0 "setup --config exit code"
    # criu-options landed in runc.conf.
    expect_eq "$(hx cat /etc/criu/runc.conf)" "$(printf 'tcp-established\nskip-in-flight\nghost-limit 100M')" "runc.conf"
    # restart = "never": daemon.json written, docker not restarted.
    expect_eq "$(step "$j" daemon-json status)" changed
    expect_eq "$(step "$j" docker-restart status)" skipped
    expect_in "$(step "$j" docker-restart message)" "--no-restart"
    expect_eq "$(dockerd_pid)" "$pid1" "dockerd pid"
    expect_eq "$(api_experimental)" "$exp1" "Docker-Experimental (no restart)"
    # no-install: CRIU left alone.
    expect_eq "$(step "$j" criu-install status)" skipped
    hx test ! -e /usr/sbin/criu || fail "criu was installed"
    # skip = ["criu"]: the doctor run skipped the CRIU checks.
    local skipped
    skipped=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["doctor"]["checks"]; print(" ".join(sorted(c["id"] for c in d if c["id"].startswith("criu.") and c["status"]=="skipped" and "--skip" in c["message"])))' "$j")
    expect_eq "$skipped" "criu.check criu.installed criu.version" "the doctor's skipped checks"
    # [enable]: enable ran for app1 with the file's keep and on-shutdown.
    local en
    en=$(/usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["enable"][0]; print(e["container"], e["status"], e["report"]["status"])' "$j")
    expect_eq "$en" "app1 enabled enabled" "the enable report"
    expect_eq "$(hx systemctl is-enabled dockpoint-restore@app1.service)" enabled "the boot unit"
    expect_eq "$(hx systemctl is-active dockpoint-shutdown@app1.service)" active "the shutdown unit"
    expect_in "$(hx cat /etc/systemd/system/dockpoint-shutdown@app1.service.d/dockpoint.conf)" "DOCKPOINT_KEEP=3" "the shutdown drop-in"
    hx test ! -e /etc/systemd/system/dockpoint-checkpoint@.timer || fail "a timer was written without every"

    # Again, human output (--format overrides the file), saving the same
    # answers into the same file: no byte changes; enable's output comes
    # between setup's result and the doctor's.
    rc=0
    hx dockpoint setup --config /root/answers.toml --save-config /root/answers.toml --format human > "$j-2.txt" 2>>"$E2E_LOG/$CASE.log" || rc=$?
    cat "$j-2.txt" >> "$E2E_LOG/$CASE.log"
    expect_eq "$rc" 0 "second setup exit code"
    expect_eq "$(hx md5sum /root/answers.toml)" "$answers0" "the answers file after --save-config of the same choices"
    local human; human=$(cat "$j-2.txt")
    expect_in "$human" "Changed: 0, " "the second run's result"
    expect_in "$human" "Result:" "human output"
    expect_in "$human" "$ dockpoint enable --keep 3 --on-shutdown --yes app1" "the enable command"
    expect_in "$human" "✓ enabled: app1" "enable's result"
    /usr/bin/python3 -c 'import sys; t=open(sys.argv[1]).read(); sys.exit(0 if t.index("Result:") < t.index("$ dockpoint enable") < t.index("dockpoint doctor:") else 1)' "$j-2.txt" \
        || fail "the order of setup's result, enable's and the doctor's"

    # A bad file: exit 2, naming the file, line 3 and the key; nothing changed.
    hx sh -c 'printf "yes = true\nno-install = true\nrestart = \"sometimes\"\ncriu-options = [\"tcp-close\"]\n" > /root/bad.toml'
    local sum0 units0 out
    sum0=$(state_sum)
    units0=$(hx sh -c 'find /etc/systemd/system /root -type f | sort | xargs md5sum | md5sum')
    rc=0
    out=$(hx dockpoint setup --config /root/bad.toml --save-config /root/answers.toml 2>&1) || rc=$?
    echo "$out" >> "$E2E_LOG/$CASE.log"
    expect_eq "$rc" 2 "exit code with a bad answers file"
    expect_in "$out" 'answers file /root/bad.toml, line 3, key `restart`' "the error"
    expect_eq "$(state_sum)" "$sum0" "/etc/apt, /etc/criu, /etc/docker, apt and dpkg after the bad file"
    expect_eq "$(hx sh -c 'find /etc/systemd/system /root -type f | sort | xargs md5sum | md5sum')" "$units0" "units and /root after the bad file"
    expect_eq "$(dockerd_pid)" "$pid1" "dockerd pid after the bad file"
}
ALL_CASES+=(answers)
