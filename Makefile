# dockpoint: build, test, measure.
.PHONY: build test fmt-check clippy unit bench setup

build:
	cargo build --release --locked

# The whole test suite: formatting, lints, and every test.
test: fmt-check clippy unit

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --locked --all-targets -- -D warnings

unit:
	cargo test --locked

# Timing of the idempotent re-run against `true` as the floor.
bench: build
	bench/setup-rerun.sh

# The main job: configure this host (as root).
setup: build
	./target/release/dockpoint setup
