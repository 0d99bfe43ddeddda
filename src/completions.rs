//! `dockpoint completions bash|zsh|fish`: the shell's completion script,
//! generated (clap_complete) from the same clap definitions as `--help` and
//! the man pages, so the three cannot drift.

use crate::cli::{Cli, CompletionShell, CompletionsArgs};
use crate::exit::Exit;
use crate::ui;
use clap::CommandFactory;
use clap_complete::Shell;

/// The completion script for `shell`. Pure.
pub fn script(shell: CompletionShell) -> String {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut visible(&Cli::command()), "dockpoint", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `cmd` without its hidden subcommands and arguments: clap_complete offers
/// hidden ones too, and the internal `package-files` or `--only-at-shutdown`
/// have no place at an operator's Tab. Takes an unbuilt command (help and
/// version are added when the copy is built).
fn visible(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(v) = cmd.get_version() {
        out = out.version(v.to_string());
    }
    out.args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        )
}

/// `dockpoint completions SHELL`.
pub fn run(args: &CompletionsArgs) -> Exit {
    ui::println(script(args.shell).trim_end_matches('\n'));
    ui::finish(Exit::Ok)
}
