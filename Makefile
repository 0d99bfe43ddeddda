# dockpoint: build, test, measure.
.PHONY: build test check fmt-check clippy unit nonroot e2e bench bench-e2e setup

build:
	cargo build --release --locked

# The whole test suite: formatting, lints, every unit and integration test,
# the same tests as an unprivileged user, and the end-to-end tests on real
# Debian hosts (root; a few minutes).
test: check nonroot e2e

# The fast part: formatting, lints, unit and integration tests (seconds).
check: fmt-check clippy unit

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --locked --all-targets -- -D warnings

unit:
	cargo test --locked

# Every test binary again as `nobody` (as root; plain cargo test otherwise).
nonroot:
	tests/as-nobody.sh

# Real Debian 12/13 hosts (systemd and SysV), real docker, apt and CRIU.
e2e:
	tests/e2e/run.sh

# Idempotent re-run timing against `true` (hyperfine).
bench: build
	bench/setup-rerun.sh

# setup --yes on a fresh Debian 13 host against a shell script doing the same.
bench-e2e:
	tests/e2e/run.sh bench_setup_vs_script bench_doctor bench_checkpoint

# The main job: configure this host (as root).
setup: build
	./target/release/dockpoint setup
