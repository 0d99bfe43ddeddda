//! The one host context passed everywhere: the root directory every path is
//! resolved under, the command runner, and the terminal.

use crate::rootfs::Root;
pub use crate::runner::{Cmd, CmdOutput, RecordingRunner, Runner, SystemRunner};
use std::io::IsTerminal;
use std::path::PathBuf;

/// The terminal: whether we may prompt, and whether to colour.
#[derive(Debug, Clone, Copy)]
pub struct Term {
    pub interactive: bool,
    pub color: bool,
    /// stderr is a terminal: progress may redraw a line.
    pub progress_tty: bool,
}

impl Term {
    pub fn detect() -> Self {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let allowed = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let color = allowed && std::io::stderr().is_terminal();
        console::set_colors_enabled(allowed && std::io::stdout().is_terminal());
        console::set_colors_enabled_stderr(color);
        Term {
            interactive,
            color,
            progress_tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn plain() -> Self {
        Term {
            interactive: false,
            color: false,
            progress_tty: false,
        }
    }
}

pub struct Host {
    /// The directory treated as the host's `/`: every file goes through it.
    pub fs: Root,
    /// True when the root is the live system (no `--root`): live-only steps run.
    pub live: bool,
    pub runner: Box<dyn Runner>,
    pub term: Term,
}

impl Host {
    /// The live system (`root` None) or an image root. A root that is not a
    /// directory is an error naming it.
    pub fn new(root: Option<PathBuf>, runner: Box<dyn Runner>, term: Term) -> anyhow::Result<Self> {
        let live = root.is_none();
        let fs = match &root {
            Some(r) => Root::open(r)?,
            None => Root::live()?,
        };
        Ok(Host {
            fs,
            live,
            runner,
            term,
        })
    }

    /// Run a command; a command that cannot be started or times out is an
    /// error naming the command.
    pub fn run(&self, cmd: &Cmd) -> anyhow::Result<CmdOutput> {
        use anyhow::Context;
        self.runner
            .run(cmd)
            .with_context(|| format!("running `{}`", cmd.line()))
    }
}

/// The exit for a `--root DIR` that cannot be opened: a usage error when
/// DIR is missing or not a directory, a failure otherwise (an I/O error).
pub fn root_error_exit(e: &anyhow::Error) -> crate::exit::Exit {
    use std::io::ErrorKind::{NotADirectory, NotFound};
    match e.downcast_ref::<std::io::Error>().map(std::io::Error::kind) {
        Some(NotFound | NotADirectory) => crate::exit::Exit::Usage,
        _ => crate::exit::Exit::Failed,
    }
}
