#!/usr/bin/env bash
# Scan a 100 MB docker journal with `dockpoint explain` and with `grep -i -E`
# given the same patterns (dockpoint explain --print-patterns), in one run.
# explain matches ASCII-case-insensitively (users retype messages), so grep
# gets -i for the same semantics; the plain `grep -E` figure is printed too.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release --locked -q
BIN=$PWD/target/release/dockpoint
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$BIN" explain --print-patterns > "$DIR/patterns"
/usr/bin/python3 - "$DIR/journal" <<'PY'
import random, sys
random.seed(7)
info = [
    'level=info msg="API listen on /run/docker.sock"',
    'level=info msg="Loading containers: done."',
    'level=info msg="ignoring event" container=%x module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"',
    'level=info msg="shim disconnected" id=%x namespace=moby',
    'level=warning msg="cleaning up after shim disconnected" id=%x namespace=moby',
    'level=info msg="starting signal loop" namespace=moby path=/run/containerd/io.containerd.runtime.v2.task/moby/%x pid=%d runtime=io.containerd.runc.v2',
    'level=debug msg="Calling HEAD /_ping"',
    'level=info msg="Container failed to exit within 10s of signal 15 - using the force" container=%x',
]
errs = [
    'level=error msg="Handler for POST /v1.45/containers/bela/checkpoints returned error: Cannot checkpoint container bela: runc did not terminate successfully: exit status 1: criu failed: type NOTIFY errno 0 path= /run/containerd/io.containerd.runtime.v2.task/moby/%x/criu-dump.log: unknown"',
    'level=error msg="Handler for POST /v1.45/containers/bela/start returned error: failed to upload checkpoint to containerd: commit failed: content sha256:%x: already exists"',
]
out = open(sys.argv[1], "w")
size, n = 0, 0
while size < 100 * 1024 * 1024:
    n += 1
    t = "Nov 25 09:%02d:%02d host dockerd[811]: time=\"2026-11-25T09:%02d:%02d.%06dZ\" " % (n // 60 % 60, n % 60, n // 60 % 60, n % 60, n % 1000000)
    src = errs if n % 200000 == 0 else info
    l = random.choice(src)
    l = l.replace("%x", "%064x" % random.getrandbits(256)).replace("%d", str(random.randint(100, 99999)))
    line = t + l + "\n"
    out.write(line)
    size += len(line)
PY
ls -la "$DIR/journal" | awk '{print "journal:", $5, "bytes"}'
echo "patterns: $(wc -l < "$DIR/patterns")"
hyperfine -N --warmup 2 --runs 10 --export-json "$DIR/r.json" \
    -n "dockpoint explain" "$BIN explain --format json --file $DIR/journal" \
    -n "grep -i -E" "grep -i -E -f $DIR/patterns $DIR/journal" \
    -n "grep -E" "grep -E -f $DIR/patterns $DIR/journal" >/dev/null
/usr/bin/python3 - "$DIR/r.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
d, gi, g = (r[k]["median"] for k in ("dockpoint explain", "grep -i -E", "grep -E"))
print(f"median of 10: dockpoint explain {d*1e3:.0f} ms, grep -i -E {gi*1e3:.0f} ms, grep -E {g*1e3:.0f} ms (same patterns): explain/(grep -i -E) = {d/gi:.2f}, explain/(grep -E) = {d/g:.2f}")
PY
