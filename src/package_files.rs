//! `dockpoint package-files DIR` (hidden): the files `make deb` and `make
//! install` ship that come from dockpoint's own definitions, so none can
//! drift from the binary they ship with: one man page per command
//! (clap_mangen, from the clap definitions `--help` prints), the bash, zsh
//! and fish completions (clap_complete), and the systemd unit templates of
//! `dockpoint enable` (rendered by `units.rs` with the installed path, the
//! same bytes enable writes when it runs from that path).
//!
//! A hidden subcommand rather than an xtask: the pages come from the very
//! binary that is packaged, with no second crate to build on a 2-CPU
//! machine, and the units from the same render function enable uses.

use crate::cli::{Cli, CompletionShell, PackageFilesArgs};
use crate::exit::Exit;
use crate::host::{Host, SystemRunner, Term};
use crate::ui;
use crate::units;
use clap::CommandFactory;

/// Every file, as (path relative to DIR, bytes). Pure.
pub fn files(bin: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, page) in man_pages() {
        out.push((format!("man/{name}"), page));
    }
    for (shell, name) in [
        (CompletionShell::Bash, "dockpoint.bash"),
        (CompletionShell::Zsh, "_dockpoint"),
        (CompletionShell::Fish, "dockpoint.fish"),
    ] {
        out.push((
            format!("completions/{name}"),
            crate::completions::script(shell).into_bytes(),
        ));
    }
    for t in units::TEMPLATES {
        out.push((
            format!("systemd/{}", t.file),
            units::render(t, bin).into_bytes(),
        ));
    }
    out
}

/// One page per command that `--help` lists (hidden ones have none):
/// (`dockpoint-setup.1`, its roff). Pure.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    let mut todo = vec![cmd];
    while let Some(c) = todo.pop() {
        todo.extend(c.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let man = clap_mangen::Man::new(c)
            .source(format!("dockpoint {}", env!("CARGO_PKG_VERSION")))
            .manual("dockpoint manual");
        let mut page = Vec::new();
        man.render(&mut page)
            .expect("rendering into memory cannot fail");
        pages.push((man.get_filename(), page));
    }
    pages.sort();
    pages
}

/// `dockpoint package-files DIR [--bin PATH]`.
pub fn run(args: &PackageFilesArgs) -> Exit {
    let host = match Host::new(
        Some(args.dir.clone()),
        Box::new(SystemRunner),
        Term::plain(),
    ) {
        Ok(h) => h,
        Err(e) => {
            ui::error(&format!("{e:#}"));
            return crate::host::root_error_exit(&e);
        }
    };
    let all = files(&args.bin);
    for (rel, bytes) in &all {
        if let Err(e) = crate::fsio::write_state(&host, &format!("/{rel}"), bytes) {
            ui::error(&format!("{e:#}"));
            return Exit::Failed;
        }
    }
    ui::println(&format!(
        "wrote {} files into {}",
        all.len(),
        args.dir.display()
    ));
    ui::finish(Exit::Ok)
}
