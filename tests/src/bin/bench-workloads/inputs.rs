//! What the cases run on: the static C helpers, a generated C file for gcc,
//! a fixed tree of small files for the stat case, a small and a 256 MiB file.

use std::path::Path;

pub use rvisor_tests::bench::BIG_FILE_SIZE;
use rvisor_tests::bench::{build_helper, make_big_file};

/// The static helpers, compiled at run time so the binary is self-contained.
const HELPERS: &[(&str, &str)] = &[
    ("getppid_loop", include_str!("../../../bench/getppid_loop.c")),
    ("open_read_close", include_str!("../../../bench/open_read_close.c")),
    ("bigread", include_str!("../../../bench/bigread.c")),
    ("fork_exec", include_str!("../../../bench/fork_exec.c")),
    ("pipe_pingpong", include_str!("../../../bench/pipe_pingpong.c")),
];

/// Lines in the generated C file for the gcc case.
pub const GEN_LINES: usize = 1000;

/// Files in the stat case's tree: DIRS directories of FILES_PER_DIR files.
/// A fixed tree, not /usr: /usr holds 100k+ files on a Debian with gcc and
/// python, and its count differs between machines.
pub const TREE_DIRS: usize = 100;
pub const TREE_FILES_PER_DIR: usize = 100;

/// Builds every helper and writes every input into `dir`.
pub fn prepare(dir: &Path) -> Result<(), String> {
    for (name, source) in HELPERS {
        build_helper(dir, name, source).map_err(|e| format!("{name}: {e}"))?;
    }
    let err = |p: &Path| {
        let p = p.display().to_string();
        move |e: std::io::Error| format!("{p}: {e}")
    };
    let gen = dir.join("gen1000.c");
    std::fs::write(&gen, generated_c()).map_err(err(&gen))?;
    let small = dir.join("small.txt");
    std::fs::write(&small, "rvisor bench: a small file for open/read/close.\n").map_err(err(&small))?;
    make_tree(&dir.join("tree"))?;
    make_big_file(&dir.join("big-256m.dat"))
}

/// The tree of `TREE_DIRS` x `TREE_FILES_PER_DIR` small files (kept between runs).
fn make_tree(root: &Path) -> Result<(), String> {
    let last = root.join(format!("d{}", TREE_DIRS - 1)).join(format!("f{}", TREE_FILES_PER_DIR - 1));
    if last.exists() {
        return Ok(());
    }
    for d in 0..TREE_DIRS {
        let sub = root.join(format!("d{d}"));
        std::fs::create_dir_all(&sub).map_err(|e| format!("{}: {e}", sub.display()))?;
        for f in 0..TREE_FILES_PER_DIR {
            let p = sub.join(format!("f{f}"));
            std::fs::write(&p, format!("{d}/{f}\n")).map_err(|e| format!("{}: {e}", p.display()))?;
        }
    }
    Ok(())
}

/// A C file of exactly `GEN_LINES` lines: includes, then small functions with
/// loops and branches, then a main calling them.
fn generated_c() -> String {
    let header = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n";
    let func = |i: usize| {
        format!(
            "static unsigned f{i}(unsigned x) {{\n    unsigned y = x * {m}u + {i}u;\n    \
             for (unsigned k = 0; k < {r}u; k++) {{\n        y ^= (y << 1) + k;\n    }}\n    \
             if (y % 7u == {i}u % 7u)\n        y += strlen(\"f{i}\");\n    return y;\n}}\n\n",
            m = 2 * i + 1,
            r = i % 13 + 3
        )
    };
    let per_func = func(0).lines().count();
    // main: 4 lines plus one call line per function.
    let funcs = (GEN_LINES - header.lines().count() - 4) / (per_func + 1);
    let mut s = String::from(header);
    for i in 0..funcs {
        s.push_str(&func(i));
    }
    s.push_str("int main(void) {\n    unsigned acc = 0;\n");
    for i in 0..funcs {
        s.push_str(&format!("    acc += f{i}(acc);\n"));
    }
    let used = s.lines().count() + 2;
    for _ in used..GEN_LINES {
        s.push_str("    acc ^= acc >> 3;\n");
    }
    s.push_str("    printf(\"%u\\n\", acc);\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_c_has_the_stated_line_count() {
        assert_eq!(generated_c().lines().count(), GEN_LINES);
    }
}
