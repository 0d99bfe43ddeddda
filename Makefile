# dockpoint: build, test, measure.
.PHONY: build test check fmt-check clippy unit nonroot e2e bench bench-e2e setup \
	package-files deb cargo-deb install uninstall

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
	tests/e2e/run.sh bench_setup_vs_script bench_doctor bench_checkpoint bench_boot

# The main job: configure this host (as root).
setup: build
	./target/release/dockpoint setup

# --- Installing like any Linux tool --------------------------------------------
# make deb: a Debian package (cargo-deb; [package.metadata.deb] in Cargo.toml).
# make install PREFIX=/usr/local [DESTDIR=...]: the same files without it.
# Both ship what `dockpoint package-files` writes from the binary's own
# definitions: one man page per command, the completions, the systemd unit
# templates of `dockpoint enable` (shipped, never enabled or started).
CARGO_DEB_VERSION = 3.8.0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/dockpoint
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
UNITDIR ?= $(PREFIX)/lib/systemd/system
# Where the generated files go, and the installed binary's path they name.
PKGFILES ?= target/package-files/install
INSTALLED_BIN ?= $(BINDIR)/dockpoint

package-files: build
	rm -rf $(PKGFILES)
	mkdir -p $(PKGFILES)
	./target/release/dockpoint package-files $(PKGFILES) --bin $(INSTALLED_BIN)
	gzip -9n $(PKGFILES)/man/*.1

# cargo-deb at the pinned version, installed when missing.
cargo-deb:
	cargo deb --version 2>/dev/null | grep -qxF 'cargo-deb $(CARGO_DEB_VERSION)' \
		|| cargo install cargo-deb --version $(CARGO_DEB_VERSION) --locked

# target/debian/dockpoint_<version>-1_<arch>.deb, of the binary `make build` made.
deb: build cargo-deb
	$(MAKE) package-files PKGFILES=target/package-files/deb INSTALLED_BIN=/usr/bin/dockpoint
	# cargo-deb's units directory expects <package>@.<unit>.<type> for templates.
	mkdir -p target/package-files/deb/deb-units
	for f in target/package-files/deb/systemd/*@.*; do \
		n=$${f##*/}; cp "$$f" "target/package-files/deb/deb-units/dockpoint@.$${n%%@*}.$${n##*.}"; \
	done
	cargo deb --no-build --locked
	@ls -l target/debian/*.deb

install: package-files
	install -D -m 755 target/release/dockpoint $(DESTDIR)$(BINDIR)/dockpoint
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(PKGFILES)/man/*.1.gz $(DESTDIR)$(MANDIR)/man1/
	install -D -m 644 $(PKGFILES)/completions/dockpoint.bash $(DESTDIR)$(BASHCOMPDIR)/dockpoint
	install -D -m 644 $(PKGFILES)/completions/_dockpoint $(DESTDIR)$(ZSHCOMPDIR)/_dockpoint
	install -D -m 644 $(PKGFILES)/completions/dockpoint.fish $(DESTDIR)$(FISHCOMPDIR)/dockpoint.fish
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/templates/criu
	install -m 644 $(PKGFILES)/systemd/* $(DESTDIR)$(UNITDIR)/
	install -m 644 templates/criu/*.txt $(DESTDIR)$(DATADIR)/templates/criu/

# Removes exactly what install installed (the same PREFIX and DESTDIR).
uninstall: package-files
	rm -f $(DESTDIR)$(BINDIR)/dockpoint $(DESTDIR)$(BASHCOMPDIR)/dockpoint \
		$(DESTDIR)$(ZSHCOMPDIR)/_dockpoint $(DESTDIR)$(FISHCOMPDIR)/dockpoint.fish
	for f in $(PKGFILES)/man/*; do rm -f "$(DESTDIR)$(MANDIR)/man1/$${f##*/}"; done
	for f in $(PKGFILES)/systemd/*; do rm -f "$(DESTDIR)$(UNITDIR)/$${f##*/}"; done
	rm -rf $(DESTDIR)$(DATADIR)
