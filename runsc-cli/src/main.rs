//! The `rvisor` binary: a runsc-compatible OCI runtime and the standalone
//! `rvisor do` sandbox, as thin CLI commands over a typed library: [`oci`]
//! (bundle and spec), [`container`] (state machine and state.json),
//! [`cgroups`], [`hooks`], [`console`] and [`launcher`] (the sandbox processes).

mod cgroups;
mod commands;
mod confine;
mod console;
mod container;
mod hooks;
mod launcher;
mod logging;
mod oci;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// rvisor: a user-space kernel sandbox for untrusted Linux programs, and an
/// OCI runtime for Docker, Podman and containerd.
#[derive(Parser, Debug)]
#[command(name = "rvisor", version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: 1.1.0"), about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags accepted before or after any command, as runc and runsc take them.
#[derive(clap::Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Log at debug level.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Write logs to this file instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    pub log_format: logging::LogFormat,
    /// Directory holding the containers' state.
    #[arg(long, global = true, value_name = "DIR", default_value = "/run/rvisor")]
    pub root: PathBuf,
    /// Accepted for runc compatibility: cgroupsPath may be "slice:prefix:name";
    /// the cgroups are still managed through cgroupfs.
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Platform that traps the sandbox's syscalls: systrap (the default
    /// where the CPU supports it) or ptrace; RVISOR_PLATFORM is its default.
    /// For `do`, `create` and `run`; `exec` follows the container's.
    /// (Checked by the commands, which exit 1 on an unknown one.)
    #[arg(long, global = true)]
    pub platform: Option<String>,
    /// Network: "sandbox" (OCI default) uses the spec's network namespace;
    /// "none" gives a namespace with only loopback (the default of `do`);
    /// "host" shares the host's network (less isolated).
    #[arg(long, global = true, value_parser = ["none", "host", "sandbox"])]
    pub network: Option<String>,
    /// Print every syscall with its arguments and result.
    #[arg(long, global = true)]
    pub strace: bool,
    /// Rootless mode: "true", "false" or "auto" (the default: rootless when
    /// not run as root). The sandbox gets a user namespace where the caller is root.
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub rootless: Option<String>,
    /// Do not set up cgroups.
    #[arg(long = "ignore-cgroups", global = true)]
    pub ignore_cgroups: bool,
    /// Accepted for runc compatibility; ignored.
    #[arg(long, global = true, hide = true, value_name = "PATH")]
    pub criu: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in a fresh sandbox.
    Do(commands::run_do::DoArgs),
    /// Create a container from a bundle (its init waits for `start`).
    Create(commands::create::CreateArgs),
    /// Start a created container's process.
    Start(commands::IdArg),
    /// Create and start a container, wait for it, and delete it (unless --detach).
    Run(commands::run::RunArgs),
    /// Print a container's state as JSON.
    State(commands::IdArg),
    /// Send a signal to a container's init (or every process with --all).
    Kill(commands::kill::KillArgs),
    /// Delete a stopped container (any container with --force).
    Delete(commands::delete::DeleteArgs),
    /// Run a new process in a running container.
    Exec(commands::exec::ExecArgs),
    /// List a container's processes.
    Ps(commands::ps::PsArgs),
    /// Suspend every process of a container.
    Pause(commands::IdArg),
    /// Resume a paused container.
    Resume(commands::IdArg),
    /// Change a container's resource limits.
    Update(commands::update::UpdateArgs),
    /// Print a container's resource statistics.
    Events(commands::events::EventsArgs),
    /// Write a default config.json.
    Spec(commands::spec::SpecArgs),
    /// Print the runtime's supported features as JSON.
    Features,
    /// List containers.
    List(commands::list::ListArgs),
    /// Wait for a container to stop; print its exit status.
    Wait(commands::IdArg),
    /// Add rvisor as a runtime to Docker's daemon.json.
    Install(commands::install::InstallArgs),
}

fn main() {
    let cli = Cli::parse();
    // The commands that start a sandbox run from a binary nothing can write
    // (CVE-2019-5736): re-executed before anything is opened.
    if matches!(cli.command, Command::Do(_) | Command::Create(_) | Command::Run(_)) {
        if let Err(e) = confine::reexec::ensure() {
            eprintln!("rvisor: re-executing from a protected copy of the binary: {e}");
            std::process::exit(1);
        }
        // execveat names the process after the fd; name it for operators.
        confine::set_process_name(c"rvisor");
    }
    if let Err(e) = logging::init(cli.global.debug, cli.global.log.as_deref(), cli.global.log_format) {
        eprintln!("rvisor: cannot set up logging: {e:#}");
        std::process::exit(1);
    }
    let g = &cli.global.clone();
    let result = match cli.command {
        Command::Do(args) => Ok(commands::run_do::run(args, g)),
        Command::Create(a) => commands::create::run(g, a).map(|_| 0),
        Command::Start(a) => commands::start::run(g, &a.id).map(|_| 0),
        Command::Run(a) => commands::run::run(g, a),
        Command::State(a) => commands::state::run(g, &a.id).map(|_| 0),
        Command::Kill(a) => commands::kill::run(g, a).map(|_| 0),
        Command::Delete(a) => commands::delete::run(g, a).map(|_| 0),
        Command::Exec(a) => commands::exec::run(g, a),
        Command::Ps(a) => commands::ps::run(g, a).map(|_| 0),
        Command::Pause(a) => commands::pause::pause(g, &a.id).map(|_| 0),
        Command::Resume(a) => commands::pause::resume(g, &a.id).map(|_| 0),
        Command::Update(a) => commands::update::run(g, a).map(|_| 0),
        Command::Events(a) => commands::events::run(g, a).map(|_| 0),
        Command::Spec(a) => commands::spec::run(a).map(|_| 0),
        Command::Features => commands::features::run().map(|_| 0),
        Command::List(a) => commands::list::run(g, a).map(|_| 0),
        Command::Wait(a) => commands::wait::run(g, &a.id),
        Command::Install(a) => commands::install::run(a).map(|_| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // containerd and Podman read the last error line of the json --log.
            if cli.global.log.is_some() {
                tracing::error!("{e:#}");
            }
            eprintln!("rvisor: {e:#}");
            std::process::exit(1);
        }
    }
}
