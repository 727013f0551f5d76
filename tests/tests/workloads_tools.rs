//! perl, sqlite3, gcc and git from the host root: the same `bash -c` script
//! runs natively and under `rvisor do`; stdout and exit status must match and
//! the sandbox's writes must not reach the host (see `rvisor_tests::workloads`).

use rvisor_tests::workloads::{require, Workload};

fn check(name: &str, tools: &[(&str, &str)], script: &str) {
    require(tools);
    Workload::bash(name, script).check();
}

const PERL: &str = r#"
perl -e 'print "hello from perl $]\n" if $] > 5; exit 0'
perl -e 'my %h = (b => 2, a => 1, c => 3); print join(",", map { "$_=$h{$_}" } sort keys %h), "\n"'
perl -e 'my @n = sort { $a <=> $b } (10, 2, 33, 4); printf "%s max=%d\n", "@n", $n[-1]'
perl -e '$_ = "2024-02-29T12:34:56"; my ($y, $m, $d) = /^(\d+)-(\d+)-(\d+)/; print "$d/$m/$y\n"; s/\d/#/g; print "$_\n"'
perl -e 'open(my $fh, ">", "out.txt") or die; print $fh "line $_\n" for 1 .. 5; close $fh;
         open($fh, "<", "out.txt") or die; my @l = <$fh>; print scalar(@l), " lines, last: $l[-1]"'
perl -i -pe 's/line/LINE/' out.txt; cat out.txt
perl -ne 'print if /[24]/' out.txt
perl -e 'open(my $p, "-|", "seq", "3") or die; print "piped: $_" while <$p>; close $p; print "close status $?\n"'
perl -e 'my $r = system("sh", "-c", "exit 3"); print "system: ", $? >> 8, "\n"'
perl -e 'my $pid = fork(); if (!$pid) { exit 7 } waitpid($pid, 0); print "child: ", $? >> 8, "\n"'
perl -e 'pipe(my $r, my $w); if (!fork) { close $r; print $w "via pipe\n"; exit 0 } close $w; print scalar <$r>; wait'
perl -e '$SIG{USR1} = sub { print "got USR1\n" }; kill "USR1", $$; sleep 0; print "after\n"'
perl -MPOSIX -e 'print floor(2.7), " ", ceil(2.1), " ", strftime("%Y-%m-%d", gmtime(86400 * 365)), "\n"'
perl -MData::Dumper -e '$Data::Dumper::Sortkeys = 1; $Data::Dumper::Indent = 1; print Dumper({a => [1, 2], b => "x"})'
perl -MJSON::PP -e 'print JSON::PP->new->canonical->encode({k => [1, "two", undef]}), "\n"'
perl -MDigest::MD5=md5_hex -e 'print md5_hex("rvisor"), "\n"'
perl -MTime::HiRes=time,sleep -e 'my $t = time; sleep 0.2; my $d = time - $t; print $d >= 0.2 && $d < 3 ? "slept\n" : "bad sleep $d\n"'
perl -MFile::Find -e 'my $n = 0; find(sub { $n++ if /\.pm$/ }, "/usr/share/perl5/Debian"); print $n > 0 ? "found modules\n" : "none\n"'
perl -MFile::Temp=tempdir -e 'my $d = tempdir(CLEANUP => 1); print -d $d ? "tempdir ok\n" : "no tempdir\n"'
perl -e 'mkdir "d" or die; symlink("d", "l") or die; print readlink("l"), " ", (-d "l" ? "dir" : "not"), "\n"; rename("l", "m"); unlink "m"; rmdir "d"; print join(",", sort glob("*")), "\n"'
perl -e 'print "args: @ARGV\n"; print "env: $ENV{LC_ALL}\n"; die "dying\n"' a b 2>&1; echo "die status $?"
perl -e 'exit 5'; echo "exit status $?"
"#;

const SQLITE: &str = r#"
set -e
sqlite3 t.db 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, val REAL);'
{
  echo 'BEGIN;'
  seq 1 10000 | awk '{printf "INSERT INTO t (name, grp, val) VALUES (\x27n%d\x27, %d, %d.5);\n", $1, $1 % 7, $1}'
  echo 'COMMIT;'
} | sqlite3 t.db
sqlite3 t.db 'SELECT count(*), sum(val), min(name), max(id) FROM t;'
sqlite3 t.db 'SELECT grp, count(*), avg(val) FROM t GROUP BY grp ORDER BY grp;'
sqlite3 t.db 'CREATE INDEX t_name ON t(name); SELECT id FROM t WHERE name = "n4242";'
sqlite3 -header -csv t.db 'SELECT * FROM t WHERE id % 2500 = 0;'
sqlite3 t.db 'CREATE TABLE g (grp INTEGER PRIMARY KEY, label TEXT);
  WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 6) INSERT INTO g SELECT x, "group" || x FROM c;
  SELECT g.label, count(*) FROM t JOIN g USING (grp) WHERE t.id <= 100 GROUP BY g.label ORDER BY g.label;'
sqlite3 t.db 'UPDATE t SET val = 0 WHERE id > 9000; DELETE FROM t WHERE id <= 1000; SELECT count(*), sum(val) FROM t;'
sqlite3 t.db 'PRAGMA journal_mode = WAL;'
sqlite3 t.db 'INSERT INTO t (name) VALUES ("wal"); SELECT count(*) FROM t;'
sqlite3 t.db 'PRAGMA integrity_check; VACUUM; PRAGMA journal_mode = DELETE;'
sqlite3 t.db '.tables' '.schema g'
sqlite3 t.db .dump | grep -c INSERT
ls
sqlite3 t.db 'SELECT * FROM nope;' 2>&1 || echo "bad query status $?"
"#;

const GCC: &str = r#"
set -e
cat > hello.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <pthread.h>
static void *thread(void *arg) { printf("thread says %s\n", (char *)arg); return NULL; }
int main(int argc, char **argv) {
    pthread_t t;
    printf("hello, world: %d args, sqrt(2)=%.6f\n", argc, sqrt(2.0));
    pthread_create(&t, NULL, thread, "hi");
    pthread_join(t, NULL);
    return argc > 1 ? atoi(argv[1]) : 0;
}
EOF
gcc -O2 -Wall -o hello hello.c -lm -pthread
./hello
./hello x 7 || echo "exit status $?"
gcc -static -o hello-static hello.c -lm -pthread
./hello-static a
ldd ./hello | awk '{print $1}' | sort
cat > lib.c <<'EOF'
int add(int a, int b) { return a + b; }
EOF
cat > main.c <<'EOF'
#include <stdio.h>
int add(int, int);
int main(void) { printf("2 + 3 = %d\n", add(2, 3)); return 0; }
EOF
gcc -c -fPIC lib.c main.c
ar rcs libadd.a lib.o
gcc -o main-static main.o -L. -ladd
./main-static
gcc -shared -o libadd.so lib.o
gcc -o main-shared main.o -L. -ladd -Wl,-rpath,'$ORIGIN'
rm libadd.a
./main-shared
gcc -E -P - <<< '#define X 40 + 2
X' | tr -d ' '
gcc -S -o lib.s lib.c
grep -q 'add' lib.s && echo assembly ok
echo 'int main(void) { return undeclared; }' > bad.c
gcc bad.c 2>&1 | grep -o "'undeclared' undeclared" | head -1
ls
"#;

const GIT: &str = r#"
set -e
git() { /usr/bin/git "$@"; }
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
git config --global user.name 'R Visor'
git config --global user.email 'rvisor@example.com'
git config --global init.defaultBranch main
git init -q repo
cd repo
printf 'one\ntwo\n' > a.txt
mkdir -p src
echo 'fn main() {}' > src/main.rs
git add .
git commit -q -m 'first commit'
git log --format='%H %an %s'
echo three >> a.txt
git status --short
git diff
git commit -q -am 'second commit'
git checkout -q -b feature
echo feature > f.txt
git add f.txt
git commit -q -m 'feature commit'
git checkout -q main
git merge -q --no-edit feature
git log --format='%h %s' --graph
git ls-files
git show --stat --format='%s' HEAD~1 | cat
git rev-parse HEAD HEAD^{tree}
git cat-file -p HEAD^{tree}
git tag v1
git describe --tags
git gc -q
git count-objects -v | grep -e '^count' -e '^in-pack'
git fsck --no-progress 2>&1 && echo fsck ok
git log --oneline | wc -l
git clone -q . ../clone
git -C ../clone log -1 --format='%H'
git stash list | wc -l
echo dirty >> a.txt
git stash -q
git stash list | wc -l
git status --short | wc -l
"#;

#[test]
fn perl() {
    check("perl", &[("/usr/bin/perl", "perl")], PERL);
}

#[test]
fn sqlite3() {
    check("sqlite3", &[("/usr/bin/sqlite3", "sqlite3"), ("/usr/bin/awk", "mawk")], SQLITE);
}

#[test]
fn gcc_hello() {
    check("gcc", &[("/usr/bin/gcc", "gcc"), ("/usr/include/stdio.h", "libc6-dev"), ("/usr/bin/ldd", "libc-bin")], GCC);
}

#[test]
fn git() {
    check("git", &[("/usr/bin/git", "git")], GIT);
}
