//! The command line, a contract other tools script against.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (whether or not anything changed)
  1  a step failed, or the operator cancelled
  2  usage error: bad flags, not root, or no terminal without --yes";

#[derive(Parser, Debug)]
#[command(
    name = "dockpoint",
    version,
    about = "Make a Linux host ready for docker checkpoint/restore (CRIU), and say what is wrong when it is not",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Configure this host (or an image root) for docker checkpoint/restore
    #[command(after_help = EXIT_CODES)]
    Setup(SetupArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CriuSourceArg {
    Distro,
    DebianTesting,
}

#[derive(Args, Debug)]
pub struct SetupArgs {
    /// Take the defaults without asking (unattended provisioning)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Show the plan and the diffs; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Treat DIR as the host's / for every file read and written (image builds); live steps are skipped
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Do not install CRIU
    #[arg(long)]
    pub no_install: bool,
    /// Do not restart docker (you get the exact command instead)
    #[arg(long)]
    pub no_restart: bool,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// A further CRIU option for runc.conf, e.g. skip-in-flight or "ghost-limit 100M" (repeatable)
    #[arg(long, value_name = "NAME[ VALUE]")]
    pub criu_option: Vec<String>,
    /// Where CRIU comes from: the distro's apt sources, or Debian testing through an apt pin admitting only CRIU and its libraries
    #[arg(long, value_enum, default_value_t = CriuSourceArg::Distro)]
    pub criu_source: CriuSourceArg,
    /// Repair a config file dockpoint would otherwise refuse to edit (CRLF endings, a bad line, a wrong type)
    #[arg(long)]
    pub repair: bool,
}
