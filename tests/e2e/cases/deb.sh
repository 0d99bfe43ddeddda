# The Debian package (make deb) on the systemd-booted Debian 13 host: what
# dpkg -i installs, man and bash completion as an operator uses them, no
# unit enabled or started, and dpkg -r / --purge leave no file behind.
# Sourced by run.sh.

# Every path on the host with its type and mode, and the contents of /etc
# and /usr/lib/systemd, without what is not a file of any package: the
# kernel's and the run's file systems, logs, and apt's and dpkg's own state.
deb_fs_state() {
    hx sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
            -o -path /var/log -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache/apt \) -prune \
            -o -printf "%y %m %p\n" | sort
        find /etc /usr/lib/systemd -xdev -type f | sort | xargs md5sum'
}

# The files of the package, from the .deb itself (dpkg-deb -c on this machine).
deb_files() {
    dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print p }' | sort
}

case_d13_deb() {
    local src; src=$(build_root trixie-systemd trixie systemd)
    boot_host "$(fresh_root "$src" "$CASE")" systemd "$CASE"
    # What an operator's host has: man and bash's completion.
    local rc; rc=$(hx_rc env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends man-db bash-completion)
    expect_eq "$rc" 0 "apt-get install man-db bash-completion"
    # Settle first: man-db's caches are built now (mandb), not by the
    # trigger the package's pages set off.
    rc=$(hx_rc mandb -q)
    expect_eq "$rc" 0 "mandb"
    local before; before=$(deb_fs_state)
    local want; want=$(deb_files)
    install_dockpoint
    # Every file of the package is where it belongs.
    expect_eq "$(hx dpkg-query -L dockpoint | sort | while read -r p; do [ -d "$HOST_ROOT$p" ] || echo "$p"; done)" "$want" "the package's files (dpkg -L)"
    local f
    for f in /usr/bin/dockpoint /usr/share/man/man1/dockpoint.1.gz /usr/share/man/man1/dockpoint-setup.1.gz \
             /usr/share/man/man1/dockpoint-doctor.1.gz /usr/share/bash-completion/completions/dockpoint \
             /usr/share/zsh/vendor-completions/_dockpoint /usr/share/fish/vendor_completions.d/dockpoint.fish \
             /usr/share/dockpoint/templates/criu/debian.txt /usr/lib/systemd/system/dockpoint-restore@.service \
             /usr/lib/systemd/system/dockpoint-checkpoint@.service /usr/lib/systemd/system/dockpoint-checkpoint@.timer \
             /usr/lib/systemd/system/dockpoint-shutdown@.service; do
        hx test -f "$f" || fail "$f is not installed"
    done
    # One man page per command --help lists.
    local cmd
    for cmd in $(hx dockpoint --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ && $1 != "help" { print $1 }'); do
        hx test -f "/usr/share/man/man1/dockpoint-$cmd.1.gz" || fail "no man page for dockpoint $cmd"
    done
    expect_eq "$(hx dockpoint --version)" "dockpoint $(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)" "the installed binary"
    # man finds and renders the page.
    expect_eq "$(hx man -w dockpoint-setup)" /usr/share/man/man1/dockpoint-setup.1.gz "man -w dockpoint-setup"
    local page; page=$(hx env MANPAGER=cat MANWIDTH=100 man dockpoint-setup 2>&1)
    echo "$page" > "$CAPTURE/d13-man-dockpoint-setup.txt"
    expect_in "$page" "dockpoint-setup - Configure this host" "man dockpoint-setup"
    expect_in "$page" "--criu-source" "man dockpoint-setup"
    expect_in "$page" "Exit codes" "man dockpoint-setup"
    # bash completion as a login shell loads it: `dockpoint se<TAB>`, and a
    # subcommand's flags.
    local comp
    comp=$(hx bash -lic 'unset HISTFILE
        _completion_loader dockpoint >/dev/null 2>&1 || __load_completion dockpoint
        spec=$(complete -p dockpoint) || exit 1; echo "spec: $spec"
        fn=$(echo "$spec" | sed -E "s/.*-F ([^ ]+).*/\1/")
        COMP_WORDS=(dockpoint se); COMP_CWORD=1; COMP_LINE="dockpoint se"; COMP_POINT=${#COMP_LINE}
        "$fn" dockpoint se dockpoint; echo "se: ${COMPREPLY[*]}"
        COMP_WORDS=(dockpoint setup --criu-s); COMP_CWORD=2; COMP_LINE="dockpoint setup --criu-s"; COMP_POINT=${#COMP_LINE}
        "$fn" dockpoint --criu-s setup; echo "flag: ${COMPREPLY[*]}"' 2>&1)
    echo "$comp" >> "$E2E_LOG/$CASE.log"
    expect_match "$comp" "spec: complete .*-F _dockpoint dockpoint" "bash's completion spec for dockpoint"
    expect_match "$comp" '^se: setup$' "bash completion of dockpoint se<TAB>"
    expect_match "$comp" '^flag: --criu-source$' "bash completion of dockpoint setup --criu-s<TAB>"
    # Shipped, not enabled, not started: systemd knows the four templates,
    # none is enabled, no dockpoint unit is loaded, nothing in /etc.
    local files; files=$(hx systemctl list-unit-files --no-legend 'dockpoint*')
    echo "$files" >> "$E2E_LOG/$CASE.log"
    expect_eq "$(echo "$files" | grep -c dockpoint)" 4 "dockpoint unit files systemd knows"
    # (The second column is the vendor preset, not the state.)
    expect_eq "$(echo "$files" | awk '{ print $2 }' | sort -u | tr '\n' ' ')" "disabled static " "the unit files' states"
    expect_eq "$(hx systemctl list-units --all --no-legend 'dockpoint*')" "" "dockpoint units loaded or active"
    expect_eq "$(hx systemctl is-enabled dockpoint-restore@app1.service 2>&1 || true)" disabled "an instance of the boot unit"
    expect_eq "$(hx find /etc -name 'dockpoint*' ! -name '*-e2e-*')" "" "dockpoint files in /etc"
    # dpkg -r: every file of the package gone, nothing else changed.
    rc=$(hx_rc dpkg -r dockpoint)
    expect_eq "$rc" 0 "dpkg -r dockpoint"
    local after; after=$(deb_fs_state)
    if [ "$after" != "$before" ]; then
        diff <(echo "$before") <(echo "$after") >> "$E2E_LOG/$CASE.log" || true
        fail "files after dpkg -r differ from before dpkg -i: $(diff <(echo "$before") <(echo "$after") | head -n 20 | tr '\n' ' ')"
    fi
    expect_eq "$(hx systemctl list-unit-files --no-legend 'dockpoint*')" "" "dockpoint unit files after dpkg -r"
    # Again, and --purge: the same, and dpkg forgets the package.
    install_dockpoint
    rc=$(hx_rc dpkg --purge dockpoint)
    expect_eq "$rc" 0 "dpkg --purge dockpoint"
    after=$(deb_fs_state)
    if [ "$after" != "$before" ]; then
        diff <(echo "$before") <(echo "$after") >> "$E2E_LOG/$CASE.log" || true
        fail "files after dpkg --purge differ from before dpkg -i: $(diff <(echo "$before") <(echo "$after") | head -n 20 | tr '\n' ' ')"
    fi
    expect_eq "$(hx sh -c 'ls /var/lib/dpkg/info/ | grep -c "^dockpoint\."' || true)" 0 "dpkg's files of dockpoint after --purge"
    local st; st=$(hx dpkg-query -W -f '${db:Status-Abbrev}' dockpoint 2>/dev/null || true)
    log "dpkg's status of dockpoint after --purge: [$st]"
    case "$st" in ""|un*|pn*) ;; *) fail "dpkg's status of dockpoint after --purge: [$st]" ;; esac
}
ALL_CASES+=(d13_deb)
