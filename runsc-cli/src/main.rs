//! The `rvisor` binary: thin CLI commands over the sentry and gofer libraries.

mod cgroups;
mod commands;
mod confine;
mod logging;

use clap::{Parser, Subcommand};

/// rvisor: a user-space kernel sandbox for untrusted Linux programs.
#[derive(Parser, Debug)]
#[command(name = "rvisor", version, about)]
pub struct Cli {
    /// Log at debug level.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,
    /// Log format.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in a fresh sandbox.
    Do(commands::run_do::DoArgs),
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.debug, cli.log.as_deref(), cli.log_format) {
        eprintln!("rvisor: cannot set up logging: {e:#}");
        std::process::exit(1);
    }
    let code = match cli.command {
        Command::Do(args) => commands::run_do::run(args),
    };
    std::process::exit(code);
}
