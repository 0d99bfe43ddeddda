# Signed apt repositories of CRIU for the "CRIU sources" e2e (issue 8), built
# with standard tools (apt-get download, dpkg-deb, apt-ftparchive, gpg with
# throwaway keys), cached in $E2E_CACHE/criu-repo and served over HTTP on
# 127.0.0.1 inside a booted test host's network namespace. Sourced by run.sh
# after lib.sh.
#
# The document root ($CRIU_REPO/docroot) holds:
#   repositories/devel:/tools:/criu/Debian_13/  "good": a flat repository laid
#       out like the openSUSE Build Service's (amd64/*.deb, Packages(.gz),
#       Release, InRelease, Release.gpg, Release.key), signed by key 1, with
#       Debian testing's CRIU 4.2.x and the libraries it needs that trixie
#       lacks, plus a decoy (a dummy iproute2 99.0, which CRIU recommends):
#       the source's pin must not admit it. There is no Debian_12 directory:
#       a request for it gets HTTP 404 (no OBS repository for that release).
#   wrongkey/  the same packages, flat, signed by key 2.
#   libc/      a flat repository signed by key 1 with a dummy criu 9.9.9 that
#       depends on libc6 (>= 99), and a dummy libc6 99.0 and libc-bin 99.0
#       (trixie's libc-bin pins libc6 below 2.42): installing that criu means
#       upgrading libc. Only ever simulated, never installed.
# Beside it: key1.asc (key 1's public key, armored), key2.asc, key1.fpr.

CRIU_REPO=$E2E_CACHE/criu-repo
# Bump when the way the repositories are built changes.
CRIU_REPO_VERSION=2
# The port the repository is served on, inside the test host's own network
# namespace (nothing else listens there).
CRIU_REPO_PORT=8765
CRIU_REPO_URL=http://127.0.0.1:$CRIU_REPO_PORT
CRIU_OBS_PATH=repositories/devel:/tools:/criu/Debian_13
# What the good repository brings: Debian testing's CRIU, its own library,
# and the libraries it needs that trixie has not (libnet9) or has too old
# (libnl-3-200 3.7 in trixie; testing's criu declares >= 3.11.0).
CRIU_REPO_PKGS="criu libcompel1 libnet9 libnl-3-200"

# gpg with the repository's private GNUPGHOME.
_crepo_gpg() { gpg --homedir "$CRIU_GNUPG" --batch --quiet --no-tty --pinentry-mode loopback --passphrase '' "$@"; }

# A minimal binary package from a control text (dummies; never installed).
_crepo_dummy_deb() { # OUTDIR NAME VERSION [DEPENDS]
    local out=$1 name=$2 ver=$3 dep=${4:-} d
    d=$(mktemp -d)
    mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$name"
    {
        echo "Package: $name"
        echo "Version: $ver"
        echo "Architecture: amd64"
        echo "Maintainer: dockpoint e2e <e2e@dockpoint.invalid>"
        [ -z "$dep" ] || echo "Depends: $dep"
        echo "Section: misc"
        echo "Priority: optional"
        echo "Description: dockpoint e2e dummy $name (never installed)"
        echo " A test package of dockpoint's end-to-end tests: apt only simulates it."
    } > "$d/DEBIAN/control"
    echo "dockpoint e2e dummy" > "$d/usr/share/doc/$name/README"
    dpkg-deb --root-owner-group -Zgzip --build "$d" "$out/${name}_${ver#*:}_amd64.deb" >/dev/null
    rm -rf "$d"
}

# Index and sign the flat repository DIR with key FPR; LABEL/SUITE for Release.
_crepo_flat() { # DIR FPR LABEL SUITE
    local dir=$1 fpr=$2 label=$3 suite=$4
    (
        cd "$dir"
        apt-ftparchive packages . > Packages 2>/dev/null
        gzip -9n < Packages > Packages.gz
        apt-ftparchive \
            -o APT::FTPArchive::Release::Origin=dockpoint-e2e \
            -o "APT::FTPArchive::Release::Label=$label" \
            -o "APT::FTPArchive::Release::Suite=$suite" \
            -o "APT::FTPArchive::Release::Codename=$suite" \
            -o APT::FTPArchive::Release::Architectures=amd64 \
            -o "APT::FTPArchive::Release::Description=dockpoint e2e test repository ($label)" \
            release . > Release.tmp
        mv Release.tmp Release
    )
    _crepo_gpg --digest-algo SHA512 --local-user "$fpr" --clearsign -o "$dir/InRelease" "$dir/Release"
    _crepo_gpg --digest-algo SHA512 --local-user "$fpr" --armor --detach-sign -o "$dir/Release.gpg" "$dir/Release"
}

# Debian testing's CRIU packages, downloaded with a private apt state that
# points at testing on this machine's own mirror. Into DIR.
_crepo_download() {
    local out=$1 st
    st=$(mktemp -d)
    mkdir -p "$st/lists/partial" "$st/cache/archives/partial" "$st/prefs.d"
    : > "$st/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror_uri) testing main" > "$st/sources.list"
    local o=(-o "Dir::Etc::SourceList=$st/sources.list" -o Dir::Etc::SourceParts=/nonexistent
             -o "Dir::State::Lists=$st/lists" -o "Dir::Cache=$st/cache" -o "Dir::State::status=$st/status"
             -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$st/prefs.d"
             -o APT::Architecture=amd64 -o APT::Architectures::=amd64
             -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
             -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
             -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
             -o Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false
             -o Acquire::Languages=none)
    apt-get "${o[@]}" -qq update >"$E2E_LOG/criu-repo-testing.log" 2>&1 \
        || { tail -n 20 "$E2E_LOG/criu-repo-testing.log" >&2; rm -rf "$st"; die "apt-get update of Debian testing failed"; }
    apt-cache "${o[@]}" show criu >> "$E2E_LOG/criu-repo-testing.log" 2>&1 || true
    # shellcheck disable=SC2086
    (cd "$out" && apt-get "${o[@]}" -qq download $CRIU_REPO_PKGS) >>"$E2E_LOG/criu-repo-testing.log" 2>&1 \
        || { tail -n 20 "$E2E_LOG/criu-repo-testing.log" >&2; rm -rf "$st"; die "apt-get download from Debian testing failed"; }
    rm -rf "$st"
}

# Trixie must satisfy everything else these packages need, without upgrading
# anything (libc6 above all): simulate installing the .debs on the pristine
# trixie root's own package state and lists (no network).
_crepo_check_trixie() {
    local debs=$1 root sim tmp bad
    root=$(build_root trixie-systemd trixie systemd)
    tmp=$(mktemp -d); mkdir -p "$tmp/cache/archives/partial"
    sim=$(apt-get -s --no-install-recommends \
        -o "Dir::State::status=$root/var/lib/dpkg/status" -o "Dir::State::Lists=$root/var/lib/apt/lists" \
        -o "Dir::Etc::SourceList=$root/etc/apt/sources.list" -o "Dir::Etc::SourceParts=$root/etc/apt/sources.list.d" \
        -o "Dir::State::extended_states=$tmp/extended_states" -o "Dir::Cache=$tmp/cache" \
        -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$tmp" \
        -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
        install "$debs"/*.deb 2>&1) || { rm -rf "$tmp"; echo "$sim" >&2; die "trixie cannot install Debian testing's CRIU (see above)"; }
    rm -rf "$tmp"
    echo "$sim" > "$E2E_LOG/criu-repo-trixie-check.log"
    # Upgrades show the installed version in brackets: none may happen.
    bad=$(echo "$sim" | grep -E '^Inst \S+ \[' || true)
    [ -z "$bad" ] || die "Debian testing's CRIU would upgrade trixie packages: $bad"
    echo "$sim" | grep -q '^Inst criu ' || die "the trixie check did not install criu: $sim"
}

# Build (once, cached) the document root and keys. Sets CRIU_REPO_DOCROOT,
# CRIU_KEY1_FPR, CRIU_REPO_CRIU_VERSION.
criu_repo_build() {
    local stamp="v$CRIU_REPO_VERSION $CRIU_REPO_PKGS"
    CRIU_REPO_DOCROOT=$CRIU_REPO/docroot
    CRIU_GNUPG=$CRIU_REPO/gnupg
    if [ ! -f "$CRIU_REPO/.e2e-ready" ] || [ "$(cat "$CRIU_REPO/.e2e-ready")" != "$stamp" ]; then
        log "building the CRIU test repositories (Debian testing's CRIU, throwaway keys)"
        mkdir -p "$E2E_LOG"
        local T=$CRIU_REPO.tmp
        rm -rf "$CRIU_REPO" "$T"
        mkdir -p "$T/debs" "$T/dummy-libc" "$T/dummy-decoy"
        _crepo_download "$T/debs"
        _crepo_check_trixie "$T/debs"
        CRIU_GNUPG=$T/gnupg
        mkdir -m 700 "$CRIU_GNUPG"
        # Two throwaway signing keys (RSA, sign only, like OBS project keys).
        _crepo_gpg --quick-gen-key "dockpoint e2e repository key 1 <e2e-key1@dockpoint.invalid>" rsa3072 sign never
        _crepo_gpg --quick-gen-key "dockpoint e2e repository key 2 <e2e-key2@dockpoint.invalid>" rsa3072 sign never
        local fpr1 fpr2
        fpr1=$(_crepo_gpg --with-colons --list-keys e2e-key1@dockpoint.invalid | awk -F: '/^fpr/{print $10; exit}')
        fpr2=$(_crepo_gpg --with-colons --list-keys e2e-key2@dockpoint.invalid | awk -F: '/^fpr/{print $10; exit}')
        [ -n "$fpr1" ] && [ -n "$fpr2" ] && [ "$fpr1" != "$fpr2" ] || die "generating the test keys failed"
        echo "$fpr1" > "$T/key1.fpr"
        _crepo_gpg --armor --export "$fpr1" > "$T/key1.asc"
        _crepo_gpg --armor --export "$fpr2" > "$T/key2.asc"
        # Dummies: the decoy the pin must keep out, and the libc repository.
        _crepo_dummy_deb "$T/dummy-decoy" iproute2 99.0
        _crepo_dummy_deb "$T/dummy-libc" criu 9.9.9 "libc6 (>= 99)"
        _crepo_dummy_deb "$T/dummy-libc" libc6 99.0
        _crepo_dummy_deb "$T/dummy-libc" libc-bin 99.0 "libc6 (>= 99)"
        local D=$T/docroot good=$T/docroot/$CRIU_OBS_PATH
        # good: OBS's layout, key 1, its public key as Release.key.
        mkdir -p "$good/amd64" "$D/wrongkey/amd64" "$D/libc/amd64"
        cp "$T"/debs/*.deb "$T"/dummy-decoy/*.deb "$good/amd64/"
        _crepo_flat "$good" "$fpr1" devel:tools:criu Debian_13
        cp "$T/key1.asc" "$good/Release.key"
        # wrongkey: the same packages, key 2.
        cp "$T"/debs/*.deb "$T"/dummy-decoy/*.deb "$D/wrongkey/amd64/"
        _crepo_flat "$D/wrongkey" "$fpr2" dockpoint-e2e-wrongkey wrongkey
        # libc: criu 9.9.9 wanting libc6 (>= 99), key 1.
        cp "$T"/dummy-libc/*.deb "$D/libc/amd64/"
        _crepo_flat "$D/libc" "$fpr1" dockpoint-e2e-libc libc
        # The gpg-agent this home started, stopped through its own socket.
        gpgconf --homedir "$CRIU_GNUPG" --kill gpg-agent 2>/dev/null || true
        rm -rf "$T/dummy-libc" "$T/dummy-decoy"
        echo "$stamp" > "$T/.e2e-ready"
        mv "$T" "$CRIU_REPO"
        CRIU_GNUPG=$CRIU_REPO/gnupg
    fi
    CRIU_KEY1_FPR=$(cat "$CRIU_REPO/key1.fpr")
    CRIU_REPO_CRIU_VERSION=$(dpkg-deb -f "$CRIU_REPO"/debs/criu_*.deb Version)
    CRIU_REPO_CRIU_VERSION=${CRIU_REPO_CRIU_VERSION%%-*}   # upstream part: 4.2.1
}

# Serve the document root over HTTP on 127.0.0.1:$CRIU_REPO_PORT inside the
# booted host's network namespace (this machine's python3, its files), and
# let the host's apt reach it directly (not through the mirror bridge). The
# server's pid is recorded and stopped by stop_host. Waits until it answers.
criu_repo_serve() {
    criu_repo_build
    nsenter --net="/proc/$HOST_PID/ns/net" /usr/bin/python3 -m http.server \
        --bind 127.0.0.1 --directory "$CRIU_REPO_DOCROOT" "$CRIU_REPO_PORT" \
        >"$E2E_LOG/criu-repo-http-$HOST_NAME.log" 2>&1 </dev/null &
    CRIU_REPO_SERVER_PID=$!
    echo "$CRIU_REPO_SERVER_PID" >> "$E2E_WORK/pids"
    HOST_EXTRA_PIDS="${HOST_EXTRA_PIDS:-} $CRIU_REPO_SERVER_PID"
    local i ok=
    for i in $(seq 1 200); do
        if nsenter --net="/proc/$HOST_PID/ns/net" /usr/bin/python3 -c \
            'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' \
            "$CRIU_REPO_URL/$CRIU_OBS_PATH/Release" 2>/dev/null; then ok=1; break; fi
        [ -d "/proc/$CRIU_REPO_SERVER_PID" ] || break
        sleep 0.05
    done
    [ -n "$ok" ] || die "the CRIU test repository does not answer on $CRIU_REPO_URL: $(cat "$E2E_LOG/criu-repo-http-$HOST_NAME.log")"
    # The host's apt goes through the mirror bridge (a proxy): not for loopback.
    echo 'Acquire::http::Proxy::127.0.0.1 "DIRECT";' >> "$HOST_ROOT/etc/apt/apt.conf.d/01dockpoint-e2e-proxy"
    # Key 1's public key, for --criu-key.
    mkdir -p "$HOST_ROOT/opt/e2e"
    cp "$CRIU_REPO/key1.asc" "$HOST_ROOT/opt/e2e/key1.asc"
    log "CRIU test repository on $CRIU_REPO_URL in $HOST_NAME (key 1 $CRIU_KEY1_FPR, CRIU $CRIU_REPO_CRIU_VERSION)"
}
