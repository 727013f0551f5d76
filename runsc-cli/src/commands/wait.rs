//! `rvisor wait`: block until a container stops; print its exit status.

use std::time::Duration;

use serde_json::json;

use crate::container::Status;
use crate::GlobalArgs;

pub fn run(g: &GlobalArgs, id: &str) -> anyhow::Result<i32> {
    loop {
        let (dir, st) = super::open(&g.root, id)?;
        if st.current_status() == Status::Stopped {
            let code = dir.exit_status();
            println!("{}", json!({"id": id, "exitStatus": code.unwrap_or(-1)}));
            return Ok(0);
        }
        dir.unlock();
        std::thread::sleep(Duration::from_millis(20));
    }
}
