//! `rvisor run`: create + start, then (unless --detach) wait for the
//! container, delete it and exit with its status.

use crate::launcher::Outcome;
use crate::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: super::create::CreateArgs,
    /// Return once the container has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

pub fn run(g: &GlobalArgs, a: RunArgs) -> anyhow::Result<i32> {
    let created = super::create::create(g, &a.create, !a.detach)?;
    let pid = created.state.sandbox.pid;
    let root = g.root.clone();
    let id = a.create.id.clone();
    created.dir.unlock();
    if let Err(e) = super::start::run(g, &id) {
        let _ = cleanup(&root, &id);
        return Err(e);
    }
    if a.detach {
        return Ok(0);
    }
    let mut status = 0;
    loop {
        // SAFETY: the sandbox process is our child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    if !a.keep {
        cleanup(&root, &id)?;
    }
    let outcome = if libc::WIFSIGNALED(status) {
        Outcome::Init(rvisor_sentry::kernel::InitExit::Signal(libc::WTERMSIG(status)))
    } else {
        Outcome::Init(rvisor_sentry::kernel::InitExit::Code(libc::WEXITSTATUS(status)))
    };
    Ok(outcome.code())
}

fn cleanup(root: &std::path::Path, id: &str) -> anyhow::Result<()> {
    let (dir, st) = super::open(root, id)?;
    super::delete::destroy(dir, &st)
}
