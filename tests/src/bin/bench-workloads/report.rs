//! The suite's output: the table (printed row by row as measured), the
//! getppid floors, the idle details and the targets.

use rvisor_tests::bench::{median, num, Platform};

use crate::idle::Idle;
use crate::{paired_ratio, Floors, Series};

/// What a row is judged by.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One to three trapped syscalls per op: no ratio target (a trap costs
    /// 10x+ a native syscall even at the SIGSYS floor); getppid has its own.
    Micro,
    /// A program or a bulk transfer: target <= 1.5x native.
    Workload,
    /// `rvisor run` against `runc run` (in the native column): target
    /// <= 0.5x runc.
    Runtime,
    /// Sentry + gofer resident memory: target <= 8 MiB.
    Memory,
    /// Reported only.
    Resource,
}

pub struct Row {
    pub metric: String,
    pub kind: Kind,
    pub cells: Vec<(Platform, Result<f64, String>)>,
}

impl Row {
    fn cell(&self, p: Platform) -> Option<&Result<f64, String>> {
        self.cells.iter().find(|(q, _)| *q == p).map(|(_, c)| c)
    }

    /// This platform's median / native's, when both exist.
    pub fn ratio(&self, p: Platform) -> Option<f64> {
        match (self.cell(p)?, self.cell(Platform::Native)?) {
            (Ok(v), Ok(n)) if *n > 0.0 => Some(v / n),
            _ => None,
        }
    }
}

const METRIC_W: usize = 52;
const COL_W: usize = 10;

pub struct Table {
    platforms: Vec<Platform>,
    rows: Vec<Row>,
}

impl Table {
    pub fn new(platforms: &[Platform]) -> Table {
        Table { platforms: platforms.to_vec(), rows: Vec::new() }
    }

    /// The sandboxed platforms that get a ratio column (with native measured).
    fn ratio_columns(&self) -> Vec<Platform> {
        if !self.platforms.contains(&Platform::Native) {
            return Vec::new();
        }
        self.platforms.iter().copied().filter(|p| *p != Platform::Native).collect()
    }

    fn width(&self) -> usize {
        METRIC_W + (self.platforms.len() + self.ratio_columns().len()) * (COL_W + 2)
    }

    pub fn header(&self) {
        let mut line = format!("{:<METRIC_W$}", "metric");
        for p in &self.platforms {
            line.push_str(&format!("  {:>COL_W$}", p.name()));
        }
        for p in self.ratio_columns() {
            line.push_str(&format!("  {:>COL_W$}", format!("{}/nat", p.name())));
        }
        println!("{line}");
        println!("{}", "-".repeat(self.width()));
    }

    /// Prints the row and keeps it for the targets.
    pub fn push(&mut self, row: Row) {
        let mut line = format!("{:<METRIC_W$}", row.metric);
        let mut errors = Vec::new();
        for p in &self.platforms {
            let cell = match row.cell(*p) {
                None => "-".to_string(),
                Some(Ok(v)) => num(*v),
                Some(Err(e)) => {
                    errors.push(format!("{}: {e}", p.name()));
                    "error".to_string()
                }
            };
            line.push_str(&format!("  {cell:>COL_W$}"));
        }
        for p in self.ratio_columns() {
            let r = row.ratio(p).map_or_else(|| "-".to_string(), |r| format!("{}x", num(r)));
            line.push_str(&format!("  {r:>COL_W$}"));
        }
        println!("{}", line.trim_end());
        for e in errors {
            println!("    error on {e}");
        }
        self.rows.push(row);
    }

    pub fn footer(&self) {
        println!("{}", "-".repeat(self.width()));
        println!("P/nat = median on P / native median (all rows: lower is better)\n");
    }
}

fn median_of_some(v: &[Option<f64>]) -> Option<f64> {
    let v: Vec<f64> = v.iter().flatten().copied().collect();
    (!v.is_empty()).then(|| median(v))
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{}x", num(r)))
}

/// getppid against the floors measured before each repetition.
pub fn getppid(series: &Series, floors: &Floors) {
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_string(), num);
    println!("getppid against the in-process floors (ns; ratios are medians of per-repetition ratios):");
    println!("  seccomp RET_TRAP + SIGSYS handler (the SIGSYS floor)   {:>8}", show(median_of_some(&floors.sigsys)));
    println!("  bare ptrace stop, tracer+tracee on one CPU             {:>8}", show(median_of_some(&floors.stop)));
    for p in [Platform::Ptrace, Platform::Systrap] {
        if series.iter().any(|(q, _)| *q == p) {
            println!(
                "  {:<8} getppid / SIGSYS floor {:>8}   / bare ptrace stop {:>8}",
                p.name(),
                ratio_text(paired_ratio(series, p, &floors.sigsys)),
                ratio_text(paired_ratio(series, p, &floors.stop))
            );
        }
    }
    if let Some(beside) = median_of_some(&floors.beside) {
        println!(
            "  systrap, RVISOR_SYSTRAP_PLACEMENT=beside (sentry thread held on the app's CPU): {} ns, {} of the SIGSYS floor",
            num(beside),
            ratio_text(floor_ratio(&floors.beside, &floors.sigsys))
        );
    }
    if let Some(patched) = median_of_some(&floors.patched) {
        println!(
            "  systrap --systrap-patch, glibc's getppid site patched (experimental): {} ns, {} of the SIGSYS floor",
            num(patched),
            ratio_text(floor_ratio(&floors.patched, &floors.sigsys))
        );
    }
    println!();
}

/// The median of each repetition's value over the floor measured beside it.
fn floor_ratio(values: &[Option<f64>], floor: &[Option<f64>]) -> Option<f64> {
    median_of_some(&values.iter().zip(floor).map(|(v, f)| Some((*v)? / (*f)?)).collect::<Vec<_>>())
}

/// Per-process memory behind the idle rows.
pub fn idle_detail(samples: &[(Platform, Result<Vec<Idle>, String>)]) {
    for (p, s) in samples {
        let Ok(s) = s else { continue };
        if *p == Platform::Native || s.is_empty() {
            continue;
        }
        let med = |f: fn(&Idle) -> f64| num(median(s.iter().map(f).collect()));
        println!(
            "idle on {}: sentry VmRSS {} MiB, gofer VmRSS {} MiB (median of {})",
            p.name(),
            med(|i| i.sentry_rss),
            med(|i| i.gofer_rss),
            s.len()
        );
    }
    println!();
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// Each target with met / not met from this run's numbers.
pub fn targets(table: &Table, getppid: Option<&Series>, floors: &Floors, platforms: &[Platform]) {
    println!("targets (this run):");
    let systrap = platforms.contains(&Platform::Systrap);
    match getppid.map(|s| paired_ratio(s, Platform::Systrap, &floors.sigsys)) {
        Some(Some(r)) => {
            println!("  systrap emulated getppid <= 1.2x the SIGSYS floor: {}x -> {}", num(r), verdict(r <= 1.2));
            if let Some(r) = floor_ratio(&floors.beside, &floors.sigsys) {
                println!("    (held beside the app, RVISOR_SYSTRAP_PLACEMENT=beside: {}x)", num(r));
            }
            if let Some(r) = floor_ratio(&floors.patched, &floors.sigsys) {
                println!(
                    "    (syscall-site patching, --systrap-patch, off by default: {}x -> {})",
                    num(r),
                    verdict(r <= 1.2)
                );
            }
        }
        Some(None) if systrap => println!("  systrap emulated getppid <= 1.2x the SIGSYS floor: NOT met (no result)"),
        _ => println!("  systrap emulated getppid <= 1.2x the SIGSYS floor: not measured"),
    }
    let sandboxed: Vec<Platform> = platforms.iter().copied().filter(|p| *p != Platform::Native).collect();
    let workloads: Vec<&Row> = table.rows.iter().filter(|r| r.kind == Kind::Workload).collect();
    if !workloads.is_empty() && platforms.contains(&Platform::Native) {
        let mut head = format!("  workloads <= 1.5x native:{:<w$}", "", w = METRIC_W - 24);
        for p in &sandboxed {
            head.push_str(&format!("  {:>16}", p.name()));
        }
        println!("{head}");
        let mut met = vec![0usize; sandboxed.len()];
        for r in &workloads {
            let mut line = format!("    {:<w$}", r.metric, w = METRIC_W - 2);
            for (i, p) in sandboxed.iter().enumerate() {
                let cell = match (r.cell(*p), r.ratio(*p)) {
                    (None, _) => "-".to_string(),
                    (_, Some(x)) => {
                        met[i] += usize::from(x <= 1.5);
                        format!("{}x {}", num(x), verdict(x <= 1.5))
                    }
                    (Some(_), None) => "NOT met (error)".to_string(),
                };
                line.push_str(&format!("  {cell:>16}"));
            }
            println!("{}", line.trim_end());
        }
        for (i, p) in sandboxed.iter().enumerate() {
            let measured = workloads.iter().filter(|r| r.cell(*p).is_some()).count();
            println!("    {}: {} of {measured} met", p.name(), met[i]);
        }
    }
    for r in table.rows.iter().filter(|r| r.kind == Kind::Runtime) {
        let cells: Vec<String> = sandboxed
            .iter()
            .filter(|p| r.cell(**p).is_some())
            .map(|p| match r.ratio(*p) {
                Some(x) => format!("{} {}x {}", p.name(), num(x), verdict(x <= 0.5)),
                None => format!("{} NOT met (error)", p.name()),
            })
            .collect();
        if !cells.is_empty() {
            println!("  OCI run <= 0.5x runc run: {}", cells.join(", "));
        }
    }
    for r in table.rows.iter().filter(|r| r.kind == Kind::Memory) {
        for p in &sandboxed {
            match r.cell(*p) {
                Some(Ok(v)) => println!(
                    "  idle RSS (sentry+gofer VmRSS) <= 8 MiB on {}: {} MiB -> {}",
                    p.name(),
                    num(*v),
                    verdict(*v <= 8.0)
                ),
                Some(Err(_)) => println!("  idle RSS (sentry+gofer VmRSS) <= 8 MiB on {}: NOT met (error)", p.name()),
                None => {}
            }
        }
    }
}
