#!/usr/bin/env python3
"""Runs LTP's syscall tests natively and under `rvisor do`, and reports every
test whose result differs (LTP exit codes: 0 pass, 1 fail, 2 broken, 4 warn,
32 skipped). Not part of the test suite: LTP is built separately.

Usage: scripts/ltp-compare.py LTP_SRC [RVISOR] [DIR,DIR,...]
  LTP_SRC  an LTP checkout built with `make autotools && ./configure &&
           make -C lib && make -C testcases/kernel/syscalls`
  RVISOR   the rvisor binary (default target/x86_64-unknown-linux-gnu/release/rvisor)
  DIRS     only these testcases/kernel/syscalls subdirectories
Writes OUT/results.json and, for each difference, OUT/NAME.{native,sandbox}
(OUT: $LTP_OUT or /tmp/ltp-compare). Tests run as a child of a shell: LTP's
library takes a parent pid of 1 for "the test's main process died".
"""
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

TIMEOUT = 90


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = os.path.join(sys.argv[1], 'testcases/kernel/syscalls')
    rvisor = sys.argv[2] if len(sys.argv) > 2 else 'target/x86_64-unknown-linux-gnu/release/rvisor'
    rvisor = os.path.abspath(rvisor)
    only = set(sys.argv[3].split(',')) if len(sys.argv) > 3 and sys.argv[3] else None
    out = os.environ.get('LTP_OUT', '/tmp/ltp-compare')
    os.makedirs(out, exist_ok=True)
    env = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'TMPDIR': '/tmp', 'LTPROOT': sys.argv[1],
           'LTP_TIMEOUT_MUL': '3', 'HOME': '/root'}
    # The kernel configuration some tests parse (the sandbox has no /proc/config.gz).
    if os.path.exists('/proc/config.gz'):
        cfg = os.path.join(out, 'kconfig')
        with open(cfg, 'wb') as f:
            f.write(subprocess.run(['zcat', '/proc/config.gz'], capture_output=True).stdout)
        env['KCONFIG_PATH'] = cfg

    tests = []
    for d in sorted(os.listdir(src)):
        p = os.path.join(src, d)
        if (only and d not in only) or not os.path.isdir(p):
            continue
        for f in sorted(os.listdir(p)):
            fp = os.path.join(p, f)
            if os.path.isfile(fp) and os.access(fp, os.X_OK) and re.match(r'^[a-z_0-9]+\d+$', f):
                tests.append(fp)

    def run(cmd, cwd):
        start = time.time()
        try:
            r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT)
            return r.returncode, (r.stdout + r.stderr).decode(errors='replace'), time.time() - start
        except subprocess.TimeoutExpired as e:
            text = ((e.stdout or b'') + (e.stderr or b'')).decode(errors='replace')
            return 'timeout', text, TIMEOUT

    def one(t):
        cwd = os.path.dirname(t)
        native = run([t], cwd)
        sandbox = run([rvisor, 'do', '--', '/bin/sh', '-c', '"$0"; exit $?', t], cwd)
        return t, native, sandbox

    results = {}
    with ThreadPoolExecutor(2) as pool:
        for t, n, s in pool.map(one, tests):
            name = os.path.basename(t)
            results[name] = {'native': n[0], 'sandbox': s[0]}
            if n[0] != s[0]:
                for kind, r in (('native', n), ('sandbox', s)):
                    with open(os.path.join(out, f'{name}.{kind}'), 'w') as f:
                        f.write(r[1])
                print(f'{name}: native={n[0]} sandbox={s[0]}', flush=True)
    with open(os.path.join(out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    same = sum(1 for v in results.values() if v['native'] == v['sandbox'])
    npass = sum(1 for v in results.values() if v['native'] == 0)
    spass = sum(1 for v in results.values() if v['sandbox'] == 0)
    print(f'{len(results)} tests: {same} with the same result; passed natively {npass}, in the sandbox {spass}')


if __name__ == '__main__':
    main()
