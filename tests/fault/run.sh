#!/usr/bin/env bash
# Fault injection over `dockpoint setup --root R --yes --no-install
# --no-restart --format json` on a root whose daemon.json and runc.conf both
# need an edit.
#
# One clean run under `strace -f` counts the calls; then, on a fresh root
# each time, every occurrence of write/writev/pwrite* (EIO and ENOSPC),
# fsync/fdatasync, rename/renameat/renameat2, open/openat/openat2 and
# copy_file_range fails with EIO (`strace -e inject=SYSCALL:error=E:when=N`),
# and kill -9 lands at each syscall of the main thread (at most
# FAULT_MAX_KILL of them, sampled evenly). After each case:
#   - exit 0 or 1 (a kill case may also end by SIGKILL); never 101, never
#     another signal, never a hang; no "panicked" on stderr;
#   - each config file holds exactly its old or its new bytes;
#   - every NAME.dockpoint-*.bak beside a file holds exactly the file's old
#     bytes, and exists only when the file holds the new bytes;
#   - exit 0 means both files hold the new bytes and stdout is one JSON
#     object;
# then a clean re-run exits 0, leaves no .dockpoint-tmp- file anywhere under
# the root, and both files hold the new bytes (any backup still the old).
#
# usage: tests/fault/run.sh            (builds the debug binary)
#        DOCKPOINT=path/to/dockpoint tests/fault/run.sh
# needs: root (the setup lock lives in /run/dockpoint), strace, python3,
#        timeout (coreutils).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${DOCKPOINT:-}
if [ -z "$BIN" ]; then
    (cd "$here/../.." && cargo build --quiet) || exit 2
    BIN=$here/../../target/debug/dockpoint
fi
# The binary links only system libraries; cargo's LD_LIBRARY_PATH (when run
# from `cargo test`) would only add the loader's probes to the cases.
unset LD_LIBRARY_PATH
MAX_KILL=${FAULT_MAX_KILL:-300}
CASE_TIMEOUT=${FAULT_CASE_TIMEOUT:-60}

for tool in strace python3 timeout; do
    command -v "$tool" >/dev/null || { echo "fault suite: needs $tool" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "fault suite: needs root" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockpoint-fault.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
TPL=$WORK/template
mkdir -p "$R" "$TPL/etc/docker" "$TPL/etc/criu"
printf 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n' \
    >"$TPL/etc/os-release"
printf '{\n  "log-driver": "journald",\n  "log-opts": {"max-size": "10m"}\n}\n' \
    >"$TPL/etc/docker/daemon.json"
printf '# site options\nskip-in-flight\n' >"$TPL/etc/criu/runc.conf"

FILES=(etc/docker/daemon.json etc/criu/runc.conf)
ARGS=(setup --root "$R" --yes --no-install --no-restart --format json)

# The same directory (and so the same setup lock file) for every case.
reset_root() {
    find "$R" -mindepth 1 -delete
    cp -a "$TPL/." "$R/"
}

# --- the clean run: new bytes and the calls to fault
reset_root
if ! strace -f -o "$WORK/count.trace" "$BIN" "${ARGS[@]}" >"$WORK/clean.out" 2>"$WORK/clean.err"; then
    echo "fault suite: the clean run failed:" >&2
    cat "$WORK/clean.err" >&2
    exit 1
fi
for f in "${FILES[@]}"; do
    key=${f//\//_}
    cp "$TPL/$f" "$WORK/old.$key"
    cp "$R/$f" "$WORK/new.$key"
    if cmp -s "$WORK/old.$key" "$WORK/new.$key"; then
        echo "fault suite: the clean run did not change $f" >&2
        exit 1
    fi
done
python3 "$here/cases.py" "$WORK/count.trace" "$MAX_KILL" >"$WORK/cases" || exit 1
read -r _ kill_run kill_total <"$WORK/cases"

declare -A RUN PASS SKIP NOTHIT
FAILS=()
CLASSES=()

# Check one finished case; prints nothing when it holds, else the reasons.
check_case() {
    local action=$1 rc=$2 why=()
    if [ "$rc" = 124 ]; then
        why+=("hung: killed after ${CASE_TIMEOUT}s")
    elif [ "$action" = signal=SIGKILL ] && grep -q '+++ killed by SIGKILL' "$WORK/case.trace"; then
        :
    elif [ "$rc" = 101 ]; then
        why+=("exit 101 (a panic)")
    elif [ "$rc" -gt 128 ]; then
        why+=("died by signal $((rc - 128))")
    elif [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
        why+=("exit $rc (documented: 0 or 1)")
    fi
    if grep -q panicked "$WORK/case.err"; then
        why+=("stderr: $(grep -m1 panicked "$WORK/case.err")")
    fi
    local f key state dir name b all_new=1
    for f in "${FILES[@]}"; do
        key=${f//\//_}
        if [ ! -e "$R/$f" ]; then
            state=missing
            why+=("$f is gone")
        elif cmp -s "$R/$f" "$WORK/old.$key"; then
            state=old
        elif cmp -s "$R/$f" "$WORK/new.$key"; then
            state=new
        else
            state=other
            why+=("$f holds neither its old nor its new bytes ($(stat -c %s "$R/$f") bytes)")
        fi
        [ "$state" = new ] || all_new=0
        dir=$(dirname "$R/$f")
        name=$(basename "$f")
        for b in "$dir/$name".dockpoint-*.bak; do
            [ -e "$b" ] || [ -L "$b" ] || continue
            if ! cmp -s "$b" "$WORK/old.$key"; then
                why+=("backup $(basename "$b") is not the old bytes ($(stat -c %s "$b") bytes)")
            elif [ "$state" != new ]; then
                why+=("stray backup $(basename "$b") while $f is $state")
            fi
        done
    done
    if [ "$rc" = 0 ]; then
        [ "$all_new" = 1 ] || why+=("exit 0 but not both files hold the new bytes")
        python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/case.out" 2>/dev/null ||
            why+=("exit 0 but stdout is not one JSON object")
    fi
    # The next run finishes the job and sweeps.
    timeout -k 5 "$CASE_TIMEOUT" "$BIN" "${ARGS[@]}" >"$WORK/rerun.out" 2>"$WORK/rerun.err"
    local rerun=$?
    [ "$rerun" = 0 ] || why+=("the re-run exited $rerun: $(tail -n 3 "$WORK/rerun.err" | tr '\n' ' ')")
    local t
    t=$(find "$R" -name '*.dockpoint-tmp-*' -printf '%P ' 2>/dev/null)
    [ -z "$t" ] || why+=("temp files left after the re-run: $t")
    for f in "${FILES[@]}"; do
        key=${f//\//_}
        cmp -s "$R/$f" "$WORK/new.$key" 2>/dev/null || why+=("after the re-run $f is not the new bytes")
        dir=$(dirname "$R/$f")
        name=$(basename "$f")
        for b in "$dir/$name".dockpoint-*.bak; do
            [ -e "$b" ] || [ -L "$b" ] || continue
            cmp -s "$b" "$WORK/old.$key" ||
                why+=("after the re-run: backup $(basename "$b") is not the old bytes ($(stat -c %s "$b") bytes)")
        done
    done
    local w
    for w in "${why[@]}"; do
        printf '%s\n' "$w"
    done
}

start=$(date +%s)
while IFS=$'\t' read -r class sc when action what; do
    case "$class" in '#'*) continue ;; esac
    label="$class"
    case "$action" in
        error=*) label="$class(${action#error=})" ;;
        skip-*) label="$class(${action#skip-})" ;;
    esac
    if [ -z "${RUN[$label]+x}" ]; then
        CLASSES+=("$label")
        RUN[$label]=0 PASS[$label]=0 SKIP[$label]=0 NOTHIT[$label]=0
    fi
    if [ "${action#skip-}" != "$action" ]; then
        SKIP[$label]=$((SKIP[$label] + 1))
        continue
    fi
    reset_root
    # In a subshell whose stderr is dropped: bash's "Killed" job notices
    # (strace ends itself with its tracee's signal) stay out of the report.
    (
        timeout -k 5 "$CASE_TIMEOUT" strace -f -o "$WORK/case.trace" -e trace="$sc" \
            -e inject="$sc:$action:when=$when" "$BIN" "${ARGS[@]}" >"$WORK/case.out" 2>"$WORK/case.err"
        exit $?
    ) 2>/dev/null
    rc=$?
    RUN[$label]=$((RUN[$label] + 1))
    if ! grep -q -e '(INJECTED)' -e '+++ killed by SIGKILL' "$WORK/case.trace"; then
        # This run made fewer such calls than the clean one (worker threads).
        NOTHIT[$label]=$((NOTHIT[$label] + 1))
    fi
    problems=$(check_case "$action" "$rc")
    if [ -z "$problems" ]; then
        PASS[$label]=$((PASS[$label] + 1))
    else
        FAILS+=("$label $sc #$when [$what]: $(printf '%s' "$problems" | paste -sd ';' | sed 's/;/; /g')")
    fi
done <"$WORK/cases"
elapsed=$(($(date +%s) - start))

echo "fault suite: dockpoint setup --root, clean run: $(grep -c . "$WORK/count.trace") traced calls"
echo "fault suite: kill -9 at $kill_run of the main thread's $kill_total syscalls (sampled evenly when more than $MAX_KILL)"
for c in write fsync rename openat copy_file_range; do
    if ! printf '%s\n' "${CLASSES[@]}" | grep -q "^$c("; then
        echo "fault suite: $c: no such call in a clean run, 0 cases"
    fi
done
total_run=0 total_pass=0
for c in "${CLASSES[@]}"; do
    line="fault suite: $c: ${RUN[$c]} cases run, ${PASS[$c]} held"
    [ "${SKIP[$c]}" = 0 ] || line+=", ${SKIP[$c]} skipped (the dynamic loader's opens)"
    [ "${NOTHIT[$c]}" = 0 ] || line+=", ${NOTHIT[$c]} not reached in that run"
    echo "$line"
    total_run=$((total_run + RUN[$c]))
    total_pass=$((total_pass + PASS[$c]))
done
if [ ${#FAILS[@]} -gt 0 ]; then
    echo "fault suite: ${#FAILS[@]} cases broke an invariant:"
    printf '  %s\n' "${FAILS[@]}"
fi
echo "fault suite: $total_run cases, $total_pass held, ${#FAILS[@]} broke an invariant, in ${elapsed}s"
[ ${#FAILS[@]} -eq 0 ]
