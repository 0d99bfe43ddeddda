//! The command line, a contract other tools script against.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes (every command; see each command's --help):
  0  success
  1  failed: a setup step or a doctor check failed, explain recognised
     nothing, a checkpoint was refused or failed, setup was cancelled,
     --root DIR could not be read, or the report could not be written to
     stdout
  2  usage error: bad flags, not root (setup without --root/--dry-run),
     --root DIR missing or not a directory
  3  doctor only: a check could not run (and none failed)";

const SETUP_EXIT_CODES: &str = "\
Exit codes:
  0  success (whether or not anything changed; the doctor run at the end
     does not change it)
  1  a step failed (in a dry run too: a plan that would fail); the operator
     cancelled (Cancel, or Ctrl-C at a prompt: nothing was changed); the
     setup lock was not released within 120 s; --root DIR could not be read;
     or the report could not be written to stdout
  2  usage error: bad flags, not root (without --root/--dry-run), no
     terminal without --yes or --dry-run, --root DIR missing or not a
     directory";

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
    #[command(after_help = SETUP_EXIT_CODES)]
    Setup(SetupArgs),
    /// Check whether this host can checkpoint and restore containers, with the fix for each problem
    #[command(after_help = DOCTOR_EXIT_CODES)]
    Doctor(DoctorArgs),
    /// Explain a docker / CRIU error, a journal excerpt or a CRIU log: cause and fix
    #[command(after_help = EXPLAIN_EXIT_CODES)]
    Explain(ExplainArgs),
    /// Checkpoint a running container, after a preflight that refuses what cannot work
    #[command(after_help = CHECKPOINT_EXIT_CODES)]
    Checkpoint(CheckpointArgs),
    /// Restore a container from a checkpoint, after a preflight, then tell it (SIGHUP)
    #[command(after_help = RESTORE_EXIT_CODES)]
    Restore(RestoreArgs),
    /// List a container's checkpoints (name, time, size), or prune all but the newest
    #[command(after_help = CHECKPOINTS_EXIT_CODES)]
    Checkpoints(CheckpointsArgs),
    /// Bring a container back at boot from its newest usable checkpoint (systemd units)
    #[command(after_help = ENABLE_EXIT_CODES)]
    Enable(EnableArgs),
    /// Remove the units of enable (the checkpoints stay)
    #[command(after_help = ENABLE_EXIT_CODES)]
    Disable(DisableArgs),
    /// The enabled containers: units, checkpoints (restorable here or why not), last boot
    #[command(after_help = STATUS_EXIT_CODES)]
    Status(StatusArgs),
    /// Print the shell completion script for bash, zsh or fish to stdout
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Write the files the package ships that come from these definitions
    /// (man pages, completions, systemd unit templates) into DIR (make deb,
    /// make install)
    #[command(hide = true)]
    PackageFiles(PackageFilesArgs),
}

const COMPLETIONS_HELP: &str = "\
Install (the .deb and make install do it for you):
  bash  dockpoint completions bash > /usr/share/bash-completion/completions/dockpoint
  zsh   dockpoint completions zsh > /usr/share/zsh/vendor-completions/_dockpoint
  fish  dockpoint completions fish > /usr/share/fish/vendor_completions.d/dockpoint.fish
Exit codes:
  0  printed
  1  the script could not be written to stdout
  2  usage error: bad flags";

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub struct PackageFilesArgs {
    /// The directory to write into: man/, completions/, systemd/ (created)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// dockpoint's installed path, written into the systemd units
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/dockpoint")]
    pub bin: String,
}

const ENABLE_EXIT_CODES: &str = "\
Exit codes:
  0  done (or, without systemd, the equivalent to set up by hand printed)
  1  refused (nothing was changed: the reason and the fix are printed),
     cancelled, or a step failed; or the report could not be written to
     stdout
  2  usage error: bad flags, not root";

const STATUS_EXIT_CODES: &str = "\
Exit codes:
  0  listed
  1  something could not be read; or the report could not be written to
     stdout
  2  usage error: bad flags";

#[derive(Args, Debug)]
pub struct EnableArgs {
    /// The container (name or id)
    pub container: String,
    /// Also refresh the checkpoint on this schedule (a systemd span: 15min,
    /// 1h), left running, keeping the newest --keep
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_every)]
    pub every: Option<String>,
    /// How many scheduled checkpoints to keep
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub keep: u32,
    /// Also checkpoint the container at shutdown, before docker stops
    #[arg(long)]
    pub on_shutdown: bool,
    /// Add tcp-close to /etc/criu/runc.conf: connections to other hosts
    /// cannot survive a reboot; CRIU then restores them closed, and a restore
    /// no longer fails when docker gives the container another address
    /// (every restore then closes the container's connections, loopback ones
    /// too). Asked at a terminal when neither flag is given
    #[arg(long, conflicts_with = "no_tcp_close")]
    pub tcp_close: bool,
    /// Leave /etc/criu/runc.conf as it is (do not ask about tcp-close)
    #[arg(long)]
    pub no_tcp_close: bool,
    /// Go ahead without asking (and set a restart policy that would start
    /// the container fresh at boot to `no`)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Show each command dockpoint runs (apt, systemctl, criu, ...) on stderr as it runs
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct DisableArgs {
    /// The container (name or id)
    pub container: String,
    /// Show each command dockpoint runs (apt, systemctl, criu, ...) on stderr as it runs
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// One container (default: every container dockpoint enable set up)
    pub container: Option<String>,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

const RESTORE_EXIT_CODES: &str = "\
Exit codes:
  0  the container was restored (and signalled, and healthy when asked);
     with --or-cold-start also when it was started fresh instead
  1  refused by the preflight (nothing was done), or the restore failed
     (the container is left stopped; the diagnosis and how to cold start
     are printed), or the health URL did not answer in time; or the report
     could not be written to stdout
  2  usage error: bad flags, a bad checkpoint name or signal, not root";

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The container (name or id)
    pub container: String,
    /// The checkpoint (default: the newest)
    pub name: Option<String>,
    /// The signal sent once the restore is proven (default SIGHUP: the
    /// application resyncs)
    #[arg(long, value_name = "SIG", default_value = "SIGHUP", value_parser = parse_signal, conflicts_with = "no_signal")]
    pub signal: nix::sys::signal::Signal,
    /// Send no signal after the restore
    #[arg(long)]
    pub no_signal: bool,
    /// After the restore, wait until this http:// URL answers 2xx (bounded
    /// by --timeout)
    #[arg(long, value_name = "URL", value_parser = parse_health_url)]
    pub wait_healthy: Option<HealthUrl>,
    /// Bound on docker's restore call, and on the wait for --wait-healthy,
    /// in seconds
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,
    /// Unattended (at boot): restore the newest checkpoint that can be
    /// restored here, skipping the others with the reason; when none can,
    /// or the restore fails, start the container fresh (docker start)
    #[arg(long)]
    pub or_cold_start: bool,
    /// How many times to wait out containerd's GC race (1, 2, 4 s) before
    /// removing the blob it left (ctr content rm)
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub gc_retries: u8,
    /// Stop a running container first, and go ahead despite warnings,
    /// without asking
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Show each command dockpoint runs (apt, systemctl, criu, ...) on stderr as it runs
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `HUP`, `SIGHUP`, `sighup` or `1`.
pub fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal, String> {
    use nix::sys::signal::Signal;
    use std::str::FromStr;
    let bad =
        || format!("{s:?} is not a signal: use a name such as SIGHUP, HUP or USR1, or a number");
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| bad())
}

/// A health URL: plain HTTP to a host and port, and a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthUrl {
    pub url: String,
    /// `host:port` to connect to.
    pub authority: String,
    /// The Host header.
    pub host: String,
    pub path: String,
}

pub fn parse_health_url(s: &str) -> Result<HealthUrl, String> {
    let Some(rest) = s.strip_prefix("http://") else {
        return Err(format!(
            "{s:?}: only http:// URLs are probed (the application's own health endpoint, usually on localhost)"
        ));
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if hostport.is_empty() || hostport.contains('@') {
        return Err(format!("{s:?}: no host (http://HOST[:PORT]/PATH)"));
    }
    let authority = if hostport.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())
    }) {
        hostport.to_string()
    } else if hostport.starts_with('[') && !hostport.ends_with(']') {
        return Err(format!("{s:?}: bad host"));
    } else {
        format!("{hostport}:80")
    };
    Ok(HealthUrl {
        url: s.to_string(),
        authority,
        host: hostport.to_string(),
        path: path.to_string(),
    })
}

const CHECKPOINT_EXIT_CODES: &str = "\
Exit codes:
  0  the checkpoint was created
  1  refused by the preflight (nothing was done), or docker failed (with the
     diagnosis); or the report could not be written to stdout
  2  usage error: bad flags, a bad checkpoint name, not root";

const CHECKPOINTS_EXIT_CODES: &str = "\
Exit codes:
  0  listed (or pruned)
  1  the container or its checkpoints could not be read, or a checkpoint
     could not be removed; or the report could not be written to stdout
  2  usage error: bad flags";

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    /// The container (name or id)
    pub container: String,
    /// The checkpoint's name (default: a sortable UTC time, cp-YYYYMMDDTHHMMSSZ)
    pub name: Option<String>,
    /// Keep the container running (it is still frozen for the dump; files it
    /// keeps writing make a later restore fail)
    #[arg(long)]
    pub leave_running: bool,
    /// Go ahead despite warnings, without asking
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Show each command dockpoint runs (apt, systemctl, criu, ...) on stderr as it runs
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// After a successful checkpoint, remove all but the newest N (as
    /// `dockpoint checkpoints --prune N`): never zero, never before the new
    /// one is complete
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub keep: Option<u64>,
    /// Checkpoint only when the host is shutting down (systemd's state is
    /// `stopping`); otherwise do nothing (the shutdown unit's stop action)
    #[arg(long, hide = true)]
    pub only_at_shutdown: bool,
    /// Bound on docker's checkpoint call, in seconds (a big container takes long)
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct CheckpointsArgs {
    /// The container (name or id)
    pub container: String,
    /// Remove all but the newest KEEP checkpoints
    #[arg(long, value_name = "KEEP")]
    pub prune: Option<usize>,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

const DOCTOR_EXIT_CODES: &str = "\
Exit codes:
  0  no check failed and every check could run (warnings allowed; with
     --strict warnings fail); --list
  1  a check failed; --root DIR could not be read; or the report could not
     be written to stdout
  2  usage error: bad flags, an --only/--skip naming no check, --root DIR
     missing or not a directory
  3  a check could not run (and none failed)";

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Treat DIR as the host's /: only the file checks run, the others are skipped
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Also check this container (repeatable)
    #[arg(long, value_name = "NAME")]
    pub container: Vec<String>,
    /// Run only these checks (an id, or a prefix like `docker`; repeatable)
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Skip these checks (an id, or a prefix; repeatable)
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,
    /// List the checks and exit
    #[arg(long)]
    pub list: bool,
    /// Warnings fail too
    #[arg(long)]
    pub strict: bool,
    /// Details: paths, versions, commands run, time per check
    #[arg(short, long)]
    pub verbose: bool,
    /// Print nothing when every check passes
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Seconds each check may take (1 to 3600)
    #[arg(long, default_value_t = 10, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

const EXPLAIN_EXIT_CODES: &str = "\
Input: the TEXT arguments, --file PATH (repeatable), or stdin (`-`, or when stdin is not a terminal).
Exit codes:
  0  something was recognised
  1  nothing was recognised (send the CRIU log named after `path=`); --root
     DIR could not be read; or the report could not be written to stdout
  2  usage error: bad flags, no input, a --file that is not a regular file
     (or the stdin pipe) or cannot be read, --root DIR missing or not a
     directory";

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The error text (or `-` for stdin)
    pub text: Vec<String>,
    /// Read a file: docker output, a journal, a CRIU log (megabytes are fine)
    #[arg(long, value_name = "PATH")]
    pub file: Vec<PathBuf>,
    /// Output format: human, or one JSON object on stdout
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat DIR as the host's / (for the runc.conf check and the CRIU logs named in the text)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print the catalogue's patterns, one a line (for comparisons with grep -E)
    #[arg(long, hide = true)]
    pub print_patterns: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct SetupArgs {
    /// Take the defaults without asking (unattended provisioning)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Show the plan and the diffs; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Treat DIR as the host's / for every file read, written, created or listed (image builds): CRIU is installed there with apt through chroot only as root and where DIR has apt; dockpoint's CRIU sources, criu check and the docker restart need the live host
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Do not install CRIU
    #[arg(long)]
    pub no_install: bool,
    /// Do not restart docker (you get the exact command instead)
    #[arg(long)]
    pub no_restart: bool,
    /// Show each command dockpoint runs (apt, systemctl, criu, ...) on stderr as it runs
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format: human (the default), or one JSON object on stdout
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A further CRIU option for runc.conf, e.g. skip-in-flight or "ghost-limit 100M" (repeatable)
    #[arg(long, value_name = "NAME[ VALUE]")]
    pub criu_option: Vec<String>,
    /// Where CRIU comes from: distro (the default; given explicitly, the distro's CRIU is installed even when it cannot do the whole job on this kernel), debian-testing, obs, ppa, or a signed repository as URL SUITE [COMPONENT...] (SUITE / for a flat one). Every source but distro is simulated first and pinned to CRIU's own packages
    #[arg(long, value_name = "SOURCE", num_args = 1..)]
    pub criu_source: Option<Vec<String>>,
    /// The base URL of the download server for --criu-source obs or ppa (the openSUSE Build Service's, the PPA's, or your mirror of it)
    #[arg(long, value_name = "URL", env = "DOCKPOINT_CRIU_BASE")]
    pub criu_base: Option<String>,
    /// The signing key of the CRIU source, a file or an http(s) URL (needed for ppa and URL sources; obs reads the repository's Release.key)
    #[arg(long, value_name = "FILE|URL")]
    pub criu_key: Option<String>,
    /// Undo dockpoint's CRIU sources: purge the packages they installed, delete their key, source and pin files
    #[arg(long, conflicts_with = "criu_source")]
    pub remove_criu_source: bool,
    /// Repair a config file dockpoint would otherwise refuse to edit (CRLF endings, a bad line, a wrong type)
    #[arg(long)]
    pub repair: bool,
    /// Read the choices from a TOML answers file: its keys mirror these flags (criu-options for --criu-option), plus restart = "ask"|"always"|"never", the final doctor run's skip = [...] and an [enable] table; flags override it. An unknown key, a wrong type or a bad value is a usage error (exit 2) naming the file, the line and the key
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write the choices made (at the prompts or by flags) to this answers file; an existing one is updated in place, its comments, order and formatting kept. Not with --dry-run; a cancel writes nothing
    #[arg(long, value_name = "FILE", conflicts_with = "dry_run")]
    pub save_config: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_huge_doctor_timeout_is_a_usage_error() {
        let e = Cli::try_parse_from(["dockpoint", "doctor", "--timeout", "18446744073709551615"])
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(Cli::try_parse_from(["dockpoint", "doctor", "--timeout", "0"]).is_err());
        assert!(Cli::try_parse_from(["dockpoint", "doctor", "--timeout", "30"]).is_ok());
    }
}
