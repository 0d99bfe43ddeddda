#!/usr/bin/env bash
# `make check` must pass for a user who is not root. As root, this builds
# the unit and integration test binaries in a copy of the repository under
# /tmp (the toolchain stays root's), gives the copy to `nobody`, and runs
# every test binary as nobody. Not root already: plain `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    exec cargo test --locked
fi
command -v setpriv >/dev/null || { echo "as-nobody: setpriv missing (util-linux)"; exit 1; }
work=$(mktemp -d /tmp/dockpoint-nobody.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
# The tracked files as they are in the work tree (uncommitted changes too).
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [ -e "$f" ] || continue
    mkdir -p "$work/src/$(dirname "$f")"
    cp -p "$f" "$work/src/$f"
done
cd "$work/src"
cargo build --locked --quiet
cargo test --locked --no-run --message-format=json 2>/dev/null \
    | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])
' > "$work/tests.txt"
chown -R 65534:65534 "$work"
failed=0
total=0
while read -r exe; do
    total=$((total + 1))
    echo "as-nobody: $(basename "$exe")"
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$work" TMPDIR=/tmp \
        "$exe" --test-threads=2 </dev/null; then
        failed=$((failed + 1))
    fi
done < "$work/tests.txt"
echo "as-nobody: $((total - failed)) passed, $failed failed (test binaries run as nobody)"
[ "$failed" = 0 ]
