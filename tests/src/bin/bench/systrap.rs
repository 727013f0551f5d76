//! The "systrap" case: the same program natively, under `--platform ptrace`
//! and under `--platform systrap`, alternating so drifts of the machine hit
//! all three alike; ratios against native and against the SIGSYS floor.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use rvisor_tests::bench::{median, num, Platform};

use super::{run_program, Opts, Run};

/// Median ns/call over the repetitions, or why there is none.
type Med = Result<f64, String>;

fn per_call(runs: &Result<Vec<Run>, String>) -> Med {
    runs.as_ref().map(|v| median(v.iter().map(|r| r.ns as f64 / r.ops.max(1) as f64).collect())).map_err(Clone::clone)
}

/// Runs `prog n` natively and on both platforms; prints the rows.
pub fn report(opts: &Opts, workdir: &Path, sigsys_floor: Option<f64>) {
    let n = opts.n(20_000, 2_000);
    let prog: OsString = workdir.join("getppid_loop").into();
    let argv = [prog.clone(), n.to_string().into()];
    let on = |platform: Platform| platform.command(&opts.rvisor, &argv);
    // For comparison, the sentry thread held beside its app thread (a
    // same-CPU futex switch per call) instead of placed by the call rate.
    let mut beside: Vec<OsString> = vec!["/usr/bin/env".into(), "RVISOR_SYSTRAP_PLACEMENT=beside".into()];
    beside.extend(on(Platform::Systrap));
    let mut runs: [Result<Vec<Run>, String>; 4] = [Ok(Vec::new()), Ok(Vec::new()), Ok(Vec::new()), Ok(Vec::new())];
    let cmds = [argv.to_vec(), on(Platform::Ptrace), on(Platform::Systrap), beside];
    for _ in 0..opts.reps() {
        for (cmd, out) in cmds.iter().zip(runs.iter_mut()) {
            if let Ok(v) = out {
                match run_program(cmd, Duration::from_secs(300)) {
                    Ok(r) => v.push(r),
                    Err(e) => *out = Err(e),
                }
            }
        }
    }
    let [native, ptrace, systrap, beside] = runs.each_ref().map(per_call);
    let show = |m: &Med| m.as_ref().map_or_else(|e| format!("error: {e}"), |v| num(*v));
    let ratio = |a: &Med, b: Option<f64>| match (a, b) {
        (Ok(a), Some(b)) if b > 0.0 => format!("{}x", num(a / b)),
        _ => "-".to_string(),
    };
    println!("systrap vs ptrace, getppid_loop {n} (ns per call; ratios to native and to the SIGSYS floor):");
    println!("  {:<20} {:>10} {:>12} {:>14}", "platform", "ns/call", "vs native", "vs SIGSYS floor");
    let nat = native.as_ref().ok().copied();
    let rows = [("native", &native), ("ptrace", &ptrace), ("systrap", &systrap), ("systrap, beside", &beside)];
    for (name, m) in rows {
        println!("  {name:<20} {:>10} {:>12} {:>14}", show(m), ratio(m, nat), ratio(m, sigsys_floor));
    }
    match (&systrap, sigsys_floor) {
        (Ok(s), Some(f)) => {
            let r = s / f;
            let verdict = if r <= 1.2 { "met" } else { "NOT met" };
            println!("  target: systrap emulated syscall <= 1.2x the SIGSYS floor: {}x -> {verdict}", num(r));
        }
        _ => println!("  target: systrap emulated syscall <= 1.2x the SIGSYS floor: NOT met (no result)"),
    }
    if let (Ok(s), Ok(p)) = (&systrap, &ptrace) {
        println!("  systrap / ptrace: {}x", num(s / p));
    }
    println!();
}
