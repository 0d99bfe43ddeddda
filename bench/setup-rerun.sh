#!/usr/bin/env bash
# Time the idempotent re-run users put in cron and config management:
#   dockpoint setup --root R --yes --no-install --no-restart
# on an already-configured root, against `true` as the floor, in one run.
# Prints the medians and the difference. Needs hyperfine (apt: hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-500}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release --locked -q
BIN=$PWD/target/release/dockpoint
ROOT=$(mktemp -d)
OUT=$(mktemp)
trap 'rm -rf "$ROOT" "$OUT"' EXIT
mkdir -p "$ROOT/etc/docker"
printf 'ID=debian\nVERSION_ID="13"\nVERSION_CODENAME=trixie\n' > "$ROOT/etc/os-release"
printf '{\n  "log-driver": "journald",\n  "experimental": true\n}\n' > "$ROOT/etc/docker/daemon.json"
"$BIN" setup --root "$ROOT" --yes --no-install --no-restart --format json >/dev/null 2>&1
before=$(find "$ROOT" -type f -exec sha256sum {} + | sort)
hyperfine -N --warmup 50 --runs "$RUNS" --export-json "$OUT" \
    -n true true \
    -n dockpoint "$BIN setup --root $ROOT --yes --no-install --no-restart" >/dev/null
after=$(find "$ROOT" -type f -exec sha256sum {} + | sort)
[ "$before" = "$after" ] || { echo "the re-run changed the root" >&2; exit 1; }
python3 - "$OUT" "$RUNS" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
t, d = r["true"]["median"] * 1e3, r["dockpoint"]["median"] * 1e3
print(f"median of {sys.argv[2]} runs: true {t:.3f} ms, dockpoint setup (idempotent) {d:.3f} ms, "
      f"difference {d - t:.3f} ms (target < 5 ms)")
PY
