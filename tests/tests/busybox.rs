//! Busybox workloads: the same shell script runs in a busybox-only rootfs
//! natively (chroot) and under `rvisor do --rootfs`; stdout, exit status and
//! the resulting rootfs tree must match.
//!
//! Needs a static busybox at /bin/busybox (Debian package busybox-static).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use rvisor_tests::{compare_runs, diff, native_only, set_tree_times, tree_listing, Run, RunOutput, Status, TempDir};

const BUSYBOX: &str = "/bin/busybox";
/// Every file in a fresh rootfs gets this mtime (2001-09-09 01:46:40 UTC).
const FIXED_TIME: i64 = 1_000_000_000;

const WORDS: &str = "apple\nbanana\ncherry\ndate\nelderberry\nfig\ngrape\nhoneydew\nkiwi\nlemon\n\
mango\nnectarine\norange\npapaya\nquince\nraspberry\nstrawberry\ntangerine\nugli\nvanilla\n\
watermelon\nxigua\nyam\nzucchini\nbanana\navocado\nblueberry\n";
const NUMBERS: &str = "42\n7\n1000\n-3\n15\n7\n99\n0\n256\n13\n";

/// The busybox binary, or a failure telling how to get it (never a silent skip).
fn busybox() -> PathBuf {
    let p = Path::new(BUSYBOX);
    let data = fs::read(p).unwrap_or_else(|e| {
        panic!(
            "{BUSYBOX} not found ({e}): these tests need a static busybox; \
             install the Debian package busybox-static (apt-get install busybox-static)"
        )
    });
    let head = &data[..data.len().min(64 * 1024)];
    assert!(
        !head.windows(7).any(|w| w == b"ld-linux"),
        "{BUSYBOX} is dynamically linked; install the Debian package busybox-static"
    );
    p.to_path_buf()
}

/// A rootfs with only busybox, its applet links and a few config/data files.
fn make_rootfs(dir: &Path) {
    let bb = busybox();
    for d in ["bin", "etc", "tmp", "root", "proc", "dev", "sys", "data"] {
        fs::create_dir_all(dir.join(d)).expect("mkdir in rootfs");
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod tmp");
    fs::copy(&bb, dir.join("bin/busybox")).expect("copy busybox");
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755)).expect("chmod busybox");
    let list = Run::new(&bb).arg("--list").output();
    assert_eq!(list.status, Status::Exited(0), "busybox --list failed");
    for applet in list.stdout_str().lines() {
        if applet != "busybox" && !applet.is_empty() {
            symlink("busybox", dir.join("bin").join(applet)).expect("applet symlink");
        }
    }
    let files: &[(&str, &str)] = &[
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ("etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n"),
        ("etc/hostname", "busybox-rootfs\n"),
        ("data/words", WORDS),
        ("data/numbers", NUMBERS),
    ];
    for (path, content) in files {
        fs::write(dir.join(path), content).expect("write rootfs file");
    }
    // The shell needs /dev/null (e.g. stdin of background jobs) when run natively.
    for (name, minor) in [("null", 3), ("zero", 5)] {
        mknod_chr(&dir.join("dev").join(name), 1, minor);
    }
    set_tree_times(dir, FIXED_TIME);
}

fn mknod_chr(path: &Path, major: u32, minor: u32) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: mknod(2) with a valid NUL-terminated path.
    let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(major, minor)) };
    assert_eq!(r, 0, "mknod {}: {}", path.display(), std::io::Error::last_os_error());
}

fn run_native(root: &Path, script: &str) -> RunOutput {
    Run::new(BUSYBOX).args(["sh", "-c", script]).chroot(root).output()
}

fn run_sandbox(root: &Path, script: &str, extra: &[&str]) -> RunOutput {
    Run::rvisor()
        .arg("do")
        .arg("--rootfs")
        .arg(root)
        .args(extra)
        .args(["--", BUSYBOX, "sh", "-c", script])
        .cwd("/")
        .output()
}

/// Run `script` (from "/") natively and sandboxed; compare output, status and
/// (without --overlay) the rootfs afterwards. With --overlay the rootfs must
/// be untouched.
fn check(name: &str, script: &str, extra: &[&str]) {
    busybox();
    let script = format!("cd /\n{script}");
    let base = TempDir::new(&format!("bb-{name}"));
    let native_root = base.path().join("native");
    let sandbox_root = base.path().join("sandbox");
    fs::create_dir(&native_root).expect("mkdir");
    fs::create_dir(&sandbox_root).expect("mkdir");
    make_rootfs(&native_root);
    make_rootfs(&sandbox_root);
    let pristine = tree_listing(&sandbox_root);

    let native = run_native(&native_root, &script);
    assert!(native.status != Status::TimedOut, "{name}: native busybox run timed out");
    let (label, other) = if native_only() {
        eprintln!("RVISOR_NATIVE_ONLY: comparing two native busybox runs (not a sandbox test)");
        ("native#2", run_native(&sandbox_root, &script))
    } else {
        ("sandbox", run_sandbox(&sandbox_root, &script, extra))
    };
    if let Err(r) = compare_runs(name, "native", &native, label, &other) {
        panic!("{r}");
    }
    let after = tree_listing(&sandbox_root);
    if extra.contains(&"--overlay") && !native_only() {
        assert!(
            after == pristine,
            "{name}: --overlay run changed the rootfs on the host:\n{}",
            diff(&pristine.join("\n"), &after.join("\n"))
        );
    } else {
        let expected = tree_listing(&native_root);
        assert!(
            after == expected,
            "{name}: rootfs contents differ after the run (-native +{label}):\n{}",
            diff(&expected.join("\n"), &after.join("\n"))
        );
    }
}

const LS_ROOT: &str = r#"
ls -la / | grep -v '^total' | grep -v -e ' proc$' -e ' dev$' -e ' sys$'
ls -la /etc /data
ls -l /bin | head -5
ls -ln /etc
ls -1 /bin | wc -l
"#;

const FILE_OPS: &str = r#"
set -e
cd /tmp
mkdir -p a/b/c/d
echo hello > a/f1
printf 'line1\nline2\n' > a/b/f2
cp a/f1 a/f1.copy
cp -r a a2
mv a2/f1 a2/f1.moved
ln -s f1 a/sym
ln a/f1 a/hard
cat a/sym a/hard a/b/f2
readlink a/sym
stat -c '%n %s %a %F %h' a/f1 a/sym a/hard a/b/f2
stat -c '%n %a %F %h' a/b
find a a2 | sort
rm a/f1.copy
rm -r a2
rmdir a/b/c/d
echo appended >> a/f1
cat a/f1
touch -d '2010-01-02 03:04:05' a/f1
stat -c '%Y' a/f1
chmod 640 a/f1
stat -c '%a' a/f1
wc -c a/f1
test -L a/sym && echo symlink-ok
test -d a/b && echo dir-ok
[ -e a/nope ] || echo nope-missing
mv a/b a/renamed
ls -1 a a/renamed
cp -a a/renamed a/copied
ls -la a/copied | grep -v '^total' | awk '/^d/ {print $1, $2, $NF} !/^d/ {print $1, $2, $5, $NF}'
rm -rf a/renamed
find a | sort
"#;

const TEXT: &str = r#"
cd /data
grep -c a words
grep -n '^b' words
grep -v e words | head -3
grep -i -e APPLE -e KIWI words
sort words | head -5
sort -r words | head -3
sort -u words | wc -l
sort -n numbers | tr '\n' ' '; echo
sort -nr numbers | head -2
sort words | uniq -c | sort -rn | head -2
awk '{s+=$1} END {print s, NR}' numbers
awk 'length($0) > 8 {print NR": "$0}' words
sed -n '2,4p' words
sed 's/a/A/g' words | head -3
sed -e '/an/d' words | wc -l
cut -c1-3 words | head -3
tr a-z A-Z < words | tail -2
head -n 2 words
tail -n 2 words
wc -l words
wc -w words
xargs -n 4 echo < words | head -3
md5sum words numbers
printf '%5s|%-5s|%03d\n' ab cd 7
"#;

const TAR: &str = r#"
set -e
cd /tmp
mkdir -p src/sub/deeper src/empty
echo one > src/one
echo two > src/sub/two
yes x | head -c 50000 > src/sub/deeper/big
ln -s one src/link
# Fixed mtimes: they go into the archives, whose compressed size is compared.
find src -exec touch -h -t 202001010000 {} +
tar cf t.tar src
tar tf t.tar | sort
mkdir dst
cd dst
tar xf ../t.tar
cd ..
diff -r src dst/src && echo same-after-untar
tar czf t.tgz src
mkdir dst2
tar xzf t.tgz -C dst2
find dst2 -type f | sort | xargs md5sum
readlink dst2/src/link
gzip -c src/sub/deeper/big | gunzip | wc -c
ls -la dst2/src | grep -v '^total' | awk '{print $1, $NF}'
"#;

const REDIRECT: &str = r#"
cd /tmp
echo first > out
echo second >> out
cat < out
cat out nonexistent > both 2>&1 || echo "cat failed: $?"
cat both
ls /nonexistent 2> err; echo "ls status $?"
cat err
exec 3> fd3
echo via-fd3 >&3
exec 3>&-
cat fd3
{ echo a; echo b; } > grouped
cat grouped
cat <<EOF
here-doc line $((1+2))
EOF
seq 1 1000 | grep 7 | wc -l
echo piped | tr a-z A-Z
(cd /etc && pwd)
pwd
false; echo "false: $?"
true | false; echo "pipeline: $?"
x=$(echo sub; echo shell); echo "$x"
exec 4< out; read line <&4; echo "read: $line"; exec 4<&-
echo to-stderr >&2
set -C
echo clobber > out 2>clob.err || echo "noclobber refused"
set +C
: > out
wc -c out
"#;

const SHELL: &str = r#"
f() { echo "f called with $# args: $*"; return 3; }
f a b c; echo "ret $?"
i=0; while [ $i -lt 5 ]; do i=$((i+1)); printf '%d ' $i; done; echo
for w in one two three; do case $w in t*) echo "t-word $w";; *) echo "other $w";; esac; done
s="hello world"; echo "${#s} ${s%% *} ${s#* }"
set -- x y z; echo "$2 $#"
trap 'echo trapped exit' EXIT
sleep 0.1 & wait $!; echo "bg status $?"
(exit 4); echo "subshell $?"
echo $(( 7 * 6 )) $(( 10 / 3 )) $(( 10 % 3 ))
test 3 -gt 2 && echo gt
[ "abc" = "abc" ] && echo streq
echo "${UNSET:-default}"
read a b <<EOF
first second third
EOF
echo "$a|$b"
for n in 1 2 3; do (echo "child $n"; exit $n) ; echo "st $?"; done
sh -c 'echo nested $0 $1' zero one
echo done
"#;

const USERS: &str = r#"
id -u; id -g; id -un; id -gn
whoami
cd /tmp
touch owned
chown 65534:65534 owned
ls -l owned | awk '{print $1, $3, $4}'
stat -c '%U %G %u %g' owned
chown root owned
stat -c '%U %u %g' owned
chgrp nogroup owned
ls -ln owned | awk '{print $3, $4}'
"#;

const FIND: &str = r#"
find /etc -type f | sort
find /bin -name 'l*' | sort | head -5
find /data -type f -exec wc -l {} \; | sort
find / -maxdepth 1 -type d | sort
find /bin -type l | wc -l
find /etc /data -size -1k -type f | sort
"#;

const LARGE: &str = r#"
cd /tmp
yes abcdefgh | head -c 10000000 > big
wc -c big
md5sum big
cp big big2
cmp big big2 && echo cmp-same
dd if=big of=big3 bs=65536 2>dd.err
md5sum big3
gzip -c big | gunzip | md5sum
sort big | uniq -c
rm big big2 big3 dd.err
ls /tmp
"#;

#[test]
fn busybox_ls_root() {
    check("ls_root", LS_ROOT, &[]);
}

#[test]
fn busybox_file_ops() {
    check("file_ops", FILE_OPS, &[]);
}

#[test]
fn busybox_file_ops_overlay() {
    check("file_ops_overlay", FILE_OPS, &["--overlay"]);
}

#[test]
fn busybox_text() {
    check("text", TEXT, &[]);
}

#[test]
fn busybox_tar() {
    check("tar", TAR, &[]);
}

#[test]
fn busybox_redirections() {
    check("redirect", REDIRECT, &[]);
}

#[test]
fn busybox_shell() {
    check("shell", SHELL, &[]);
}

#[test]
fn busybox_users() {
    check("users", USERS, &[]);
}

#[test]
fn busybox_find() {
    check("find", FIND, &[]);
}

#[test]
fn busybox_large_file() {
    check("large", LARGE, &[]);
}

#[test]
fn busybox_exit_code() {
    check("exit_code", "echo before; exit 7", &[]);
}

#[test]
fn busybox_killed_by_signal() {
    check("killed", "echo before; kill -TERM $$; echo not-reached", &[]);
}
