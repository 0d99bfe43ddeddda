use clap::Parser;
use dockpoint::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let exit = match &cli.command {
        Command::Setup(args) => dockpoint::setup::run(args),
        Command::Explain(args) => dockpoint::explain::run(args),
        Command::Doctor(args) => dockpoint::doctor::run(args),
        Command::Checkpoint(args) => dockpoint::checkpoint::run(args),
        Command::Restore(args) => dockpoint::restore::run(args),
        Command::Checkpoints(args) => dockpoint::checkpoints::run(args),
        Command::Enable(args) => dockpoint::enable::run_enable(args),
        Command::Disable(args) => dockpoint::enable::run_disable(args),
        Command::Status(args) => dockpoint::status::run(args),
        Command::Completions(args) => dockpoint::completions::run(args),
        Command::PackageFiles(args) => dockpoint::package_files::run(args),
    };
    std::process::exit(exit.code());
}
