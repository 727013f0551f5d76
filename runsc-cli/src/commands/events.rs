//! `rvisor events`: resource statistics from the container's cgroup, once
//! (--stats) or every --interval until it stops.

use std::time::Duration;

use serde_json::json;

use crate::cgroups::Cgroup;
use crate::container::Status;
use crate::GlobalArgs;

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Print statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// Time between statistics (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id.
    pub id: String,
}

fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| anyhow::anyhow!("invalid --interval {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => anyhow::bail!("invalid --interval {s:?}"),
    };
    anyhow::ensure!(secs > 0.0, "--interval must be positive");
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(g: &GlobalArgs, a: EventsArgs) -> anyhow::Result<()> {
    let interval = parse_duration(&a.interval)?;
    loop {
        let (dir, st) = super::open(&g.root, &a.id)?;
        super::require(
            &st,
            &[Status::Created, Status::Running, Status::Paused],
            "events needs a container that is not stopped",
        )?;
        dir.unlock();
        let data = Cgroup::from_dirs(st.cgroups.clone()).stats();
        println!("{}", json!({"type": "stats", "id": a.id, "data": data}));
        if a.stats {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
