//! Debian bash and coreutils from the host root: the same `bash -c` script runs
//! natively and under `rvisor do`; stdout and exit status must match and the
//! sandbox's writes must not reach the host (see `rvisor_tests::workloads`).

use rvisor_tests::workloads::{require, Workload};

/// The coreutils, findutils, grep, sed, awk, tar and compressors the scripts use.
const TOOLS: &[(&str, &str)] = &[
    ("/bin/bash", "bash"),
    ("/usr/bin/sort", "coreutils"),
    ("/usr/bin/find", "findutils"),
    ("/usr/bin/xargs", "findutils"),
    ("/bin/grep", "grep"),
    ("/bin/sed", "sed"),
    ("/usr/bin/awk", "mawk"),
    ("/bin/tar", "tar"),
    ("/bin/gzip", "gzip"),
    ("/usr/bin/xz", "xz-utils"),
    ("/usr/bin/diff", "diffutils"),
    ("/usr/bin/timeout", "coreutils"),
];

fn check(name: &str, script: &str) {
    require(TOOLS);
    Workload::bash(name, script).check();
}

/// Pipes, redirections, subshells, command substitution, here-docs, exit codes.
const SYNTAX: &str = r#"
echo one two three | tr ' ' '\n' | sort -r | head -2
printf 'b\na\nc\n' > f
sort < f > sorted; cat sorted
{ echo out; echo err >&2; } > both 2>&1; cat both
ls nonexistent 2>&1 >/dev/null | sed 's/^ls: //'
echo appended >> both; wc -l < both
exec 3> fd3; echo via-fd3 >&3; exec 3>&-; cat fd3
exec 4< f; read -r line <&4; echo "read: $line"; exec 4<&-
(cd /usr/lib && pwd; exit 5); echo "subshell status $? back in $PWD"
x=$(echo a; echo b); echo "$x"
y=`basename /usr/lib`; echo "$y"
echo "lines*10 = $(( $(wc -l < f) * 10 ))"
echo "nested $(echo "inner $(echo deepest)")"
cat <<EOF
here-doc: $y $((2 + 3))
EOF
cat <<'EOF'
quoted here-doc: $y $(no)
EOF
cat <<-EOF
	tab-stripped here-doc
	EOF
tr a-z A-Z <<< "here string"
true | false | true; echo "pipeline status $?"
set -o pipefail; true | false | true; echo "pipefail status $?"; set +o pipefail
false | true | (exit 3); echo "PIPESTATUS ${PIPESTATUS[*]}"
mapfile -t arr < f; echo "array ${#arr[@]} ${arr[1]}"
for i in {1..5}; do printf '%s,' "$i"; done; echo
f() { local v=$1; return $((v + 1)); }; f 4; echo "function status $?"
bash -c 'exit 42'; echo "child status $?"
/nonexistent/command 2>/dev/null; echo "missing command status $?"
./f 2>/dev/null; echo "not executable status $?"
sh -c 'kill -TERM $$'; echo "killed child status $?"
shopt -s nullglob; echo globs: none* *sort*
echo "${UNSET:-default} ${#PWD} ${PWD##*/}"
exit 3
"#;

/// Background jobs and `wait`, traps on signals, `set -e`, `kill`.
const JOBS_TRAPS: &str = r#"
sleep 0.2 & p1=$!
(sleep 0.1; exit 3) & p2=$!
wait $p2; echo "job 2 status $?"
wait $p1; echo "job 1 status $?"
for i in 1 2 3; do (echo "background $i" > out$i) & done
wait; cat out1 out2 out3; rm out1 out2 out3
sleep 10 & p=$!
kill -0 $p && echo job alive
kill $p; wait $p; echo "TERMed job status $?"
kill -0 $p 2>/dev/null || echo job gone
sleep 10 & p=$!; kill -KILL $p; wait $p; echo "KILLed job status $?"
trap 'echo "EXIT trap, status $?"' EXIT
trap 'echo got USR1' USR1
kill -USR1 $$
trap 'echo got TERM' TERM
kill -TERM $$
echo after self-signals
trap 'echo got HUP from a child' HUP
bash -c "kill -HUP $$"
trap 'echo USR2 while waiting' USR2
(sleep 0.5; kill -USR2 $$) &
(exec sleep 10) & sp=$!
wait $sp; echo "wait interrupted, status $?"
kill $sp; wait $sp; echo "sleeper status $?"
wait; echo "all reaped $?"
bash -c 'set -e; echo before; false; echo never'; echo "set -e child status $?"
bash -c 'set -e; false || echo "|| keeps going"; if false; then :; fi; echo survived'
bash -c 'trap "echo ERR trap" ERR; false; echo next'
bash -c 'trap "echo child EXIT trap" EXIT; exit 9'; echo "child status $?"
set -e
echo "last line"
false
echo "not reached"
"#;

/// File operations with coreutils and findutils.
const FILES: &str = r#"
set -e
ts='2001-02-03 04:05:06'
mkdir -p a/b/c/d
echo hello > a/f1
printf 'x\ny\n' > a/b/f2
: > a/empty
ln -s f1 a/sym
ln -s ../nowhere a/dangling
ln a/f1 a/hard
find a -exec touch -h -d "$ts" {} +
ls -la --time-style=+%F_%T a | grep -v ' \.\.$'
ls -lR --time-style=long-iso a
cp -a a copy
ls -lA --time-style=+%s copy
stat -c '%n %s %b %a %F %h %Y' a/f1 a/sym a/hard a/empty a/b copy/f1 copy/sym
cp a/b/f2 a/f2copy; cmp a/b/f2 a/f2copy && echo cp-same
mv copy/b moved; ls moved moved/c
mv a/f1 a/f1.renamed; cat a/hard
readlink a/sym
readlink -f a/sym
readlink -f a/b/c/../../f1.renamed
readlink -f a/dangling || echo "readlink -f dangling status $?"
readlink -e a/dangling || echo "readlink -e dangling status $?"
find a -name 'f*' | sort
find a -type l | sort
find a -empty | sort
find a -type f -exec md5sum {} + | sort -k2
find a -type f -exec sh -c 'echo "$1: $(wc -c < "$1")"' _ {} \; | sort
find . -maxdepth 2 -type d | sort
find . -type f -print0 | xargs -0 wc -c | sort -k2
printf '%s\n' 1 2 3 4 5 6 7 | xargs -n 3 echo
echo alpha beta | xargs -I{} echo "<{}>"
chmod 750 a/b
chmod u+s,g-r a/b/f2
chmod -R go-w a
chmod 1777 a/b/c
stat -c '%n %a %A' a/b a/b/f2 a/b/c a/hard
touch -d '2010-01-01 00:00:00' a/empty; stat -c '%Y' a/empty
touch -r a/hard a/empty; stat -c '%Y' a/empty
du -a a | sort -k2
du -s a moved
du -sh a
du -sb --apparent-size a/b/f2
df -P . | head -1 | awk '{print $1, $2, $NF}'
df -P . | awk 'NR == 2 {print NF}'
df -i . >/dev/null && echo df-i ok
rm -rf a/b
ls -A a
rm -r copy moved
rm -f nonexistent; echo "rm -f status $?"
mkdir -p x/y/z && rmdir -p x/y/z && echo rmdir-p ok
ls -A
"#;

/// Text tools: sort, uniq, wc, head/tail, grep -r, sed -i, awk, cut, tr, tee.
const TEXT: &str = r#"
seq 1 100 > nums
printf '%s\n' pear apple fig apple banana fig apple > fruit
sort fruit | uniq -c | sort -k1,1nr -k2
sort -u fruit | wc -l
sort fruit | uniq -d
sort -r -n nums | head -3
sort -t: -k3,3n /etc/passwd | head -3 | cut -d: -f1,3
wc nums fruit
wc -l < nums
head -n 3 nums; tail -n 2 nums; tail -n +99 nums
head -c 12 nums | od -c | head -2
tail -c 8 nums
mkdir -p tree/sub/deeper
echo "needle one" > tree/a.txt
echo "hay" > tree/sub/b.txt
printf 'needle two\nneedle three\n' > tree/sub/deeper/c.txt
echo "needle log" > tree/sub/d.log
grep -r needle tree | sort
grep -rl needle tree | sort
grep -rc needle tree | sort
grep -rn --include='*.txt' needle tree | sort
grep -rL needle tree
grep -q needle tree/a.txt && echo found
grep nomatch tree/a.txt; echo "grep miss status $?"
grep x /nonexistent 2>/dev/null; echo "grep error status $?"
grep -E '^(pear|fig)$' fruit | sort | uniq
sed -i 's/needle/pin/' tree/a.txt; cat tree/a.txt
sed -i.bak -e '1i header' -e '$a footer' tree/sub/deeper/c.txt
cat tree/sub/deeper/c.txt tree/sub/deeper/c.txt.bak
ls tree/sub/deeper
sed -n '/^5/p' nums | tr '\n' ' '; echo
sed -e 's/\([0-9]\)\([0-9]\)/\2\1/' -e '/^[0-4]/d' nums | head -4
awk '{s += $1} END {print s, NR, s / NR}' nums
awk -F: '$3 == 0 {print $1}' /etc/passwd
awk 'BEGIN {for (i = 0; i < 5; i++) printf "%d^2=%d\n", i, i * i}'
awk '{c[$1]++} END {for (k in c) print k, c[k]}' fruit | sort
awk 'NR % 25 == 0' nums
echo "a:b:c" | cut -d: -f2-
echo hello | tr 'a-y' 'b-z'
echo tee-data | tee t1 t2 > /dev/null; cat t1 t2
yes | head -n 100000 | wc -l
seq 1 3 > c1; seq 4 6 > c2; paste -d, c1 c2
seq 1 1000 | tac | head -2
printf 'a x\nb y\nc z\n' > j2; printf 'c 3\na 1\nb 2\n' | sort | join - j2
"#;

/// tar with gzip and xz, gzip and xz on their own.
const ARCHIVES: &str = r#"
set -e
mkdir -p src/sub/empty
seq 1 20000 > src/nums
echo hi > src/sub/hi
ln -s nums src/link
find src -exec touch -h -d '2020-01-01 00:00:00' {} +
tar --sort=name -czf a.tgz src
tar -tzvf a.tgz
tar --sort=name -cJf a.txz src
tar -tJf a.txz
tar --sort=name -cf a.tar src; md5sum a.tar
mkdir out1 out2
tar -xzf a.tgz -C out1
tar -xJf a.txz -C out2
diff -r src out1/src && diff -r src out2/src && echo extracted-same
stat -c '%n %Y %a' out1/src/nums out2/src/sub/hi
tar -xzOf a.tgz src/nums | cmp - src/nums && echo stream-same
gzip -k src/nums
ls src
gzip -l src/nums.gz | awk 'NR == 2 {print $2, $4}'
gunzip -c src/nums.gz | md5sum
gzip -t src/nums.gz && echo gzip-test ok
gzip -9 < src/nums | gzip -d | wc -l
xz -T1 -c src/nums | xz -d | tail -1
xz -T1 -k src/sub/hi; xz -l src/sub/hi.xz | tail -1 | awk '{print $1, $2}'
unxz -c src/sub/hi.xz
echo garbage > bad.gz; gzip -d bad.gz 2>/dev/null || echo "gunzip garbage status $?"
"#;

/// date, env, id, uname, hostname, sleep.
const SYSTEM_INFO: &str = r#"
date -u -d @1234567890
date -u -d '2024-02-28 + 1 day' +%F
date -d @0 '+%Y %j %a %Z'
now=$(date +%s); touch stamp
[ $((now - $(stat -c %Y stamp))) -le 2 ] && [ "$now" -gt 1700000000 ] && echo clock ok
env | sort | grep -v -e '^_=' -e '^SHLVL=' -e '^OLDPWD=' -e '^RUST_'
env -i A=1 B=2 /usr/bin/env
env -u HOME /usr/bin/env | grep -c '^HOME=' || true
id; id -u; id -G; id -nG; id -un nobody
uname -a
uname -srm
hostname
cat /proc/sys/kernel/hostname
start=$(date +%s%N); sleep 0.3; end=$(date +%s%N)
[ $(((end - start) / 1000000)) -ge 300 ] && echo slept long enough
[ $(((end - start) / 1000000)) -lt 5000 ] && echo woke up in time
nproc >/dev/null && echo nproc ok
test -r /proc/self/status && echo proc ok
"#;

/// Process substitution: bash passes `/dev/fd/N` paths of pipes.
const PROCESS_SUBSTITUTION: &str = r#"
diff <(printf '1\n2\n') <(printf '1\n3\n'); echo "diff status $?"
paste -d, <(seq 1 3) <(seq 4 6)
cat < <(echo via redirection)
echo tee-split | tee >(tr a-z A-Z > upper) > /dev/null
# The substitution runs asynchronously (natively too): wait for its output.
while [ ! -s upper ]; do sleep 0.01; done; cat upper
ls -l /dev/fd/ >/dev/null && echo dev-fd listed
readlink /dev/stdin >/dev/null && echo dev-stdin ok
"#;

/// GNU grep drains a pipe with splice(2) when its output is /dev/null.
const OUTPUT_TO_DEV_NULL: &str = r#"
seq 1 100000 | grep 5 > /dev/null; echo "grep from a pipe to /dev/null: status $?"
seq 1 100000 > nums
grep 5 nums > /dev/null; echo "grep from a file to /dev/null: status $?"
seq 1 100000 | grep -q 99999; echo "grep -q: status $?"
cat nums > /dev/null; echo "cat to /dev/null: status $?"
"#;

/// `timeout` needs alarm()/timer_create in the sandbox.
const TIMEOUT: &str = r#"
timeout 1 sleep 5; echo "timeout status $?"
timeout -s KILL 1 sleep 5; echo "timeout -s KILL status $?"
timeout 5 true; echo "fast command status $?"
timeout 5 sh -c 'exit 3'; echo "inner status $?"
"#;

#[test]
fn shell_syntax() {
    check("shell-syntax", SYNTAX);
}

/// Children killed as they start, each followed by a new one. A child
/// killed between the sentry sending it a file's fd and its taking it used
/// to leave the fd queued on the injection socket all app processes share:
/// the next child took it for its own ld.so and crashed (about 1 in 20).
const KILLED_STARTS: &str = r#"
(
  n=0
  for i in $(seq 40); do
    sleep 10 &
    kill -KILL $!
    wait $!
    [ "$(bash -c 'echo hi')" = hi ] && n=$((n+1))
  done
  echo "children that ran after a killed one: $n of 40"
) 2>/dev/null
"#;

#[test]
fn shell_killed_children() {
    check("shell-killed-children", KILLED_STARTS);
}

#[test]
fn shell_jobs_traps() {
    check("shell-jobs-traps", JOBS_TRAPS);
}

#[test]
fn shell_process_substitution() {
    check("shell-process-substitution", PROCESS_SUBSTITUTION);
}

#[test]
fn coreutils_files() {
    check("coreutils-files", FILES);
}

#[test]
fn coreutils_text() {
    check("coreutils-text", TEXT);
}

#[test]
fn coreutils_archives() {
    check("coreutils-archives", ARCHIVES);
}

#[test]
fn coreutils_system_info() {
    check("coreutils-system-info", SYSTEM_INFO);
}

#[test]
fn coreutils_output_to_dev_null() {
    check("coreutils-output-to-dev-null", OUTPUT_TO_DEV_NULL);
}

#[test]
fn coreutils_timeout() {
    check("coreutils-timeout", TIMEOUT);
}
