//! Network servers over loopback, run natively and under `rvisor do` (whose
//! default `--network none` gives the sandbox a loopback of its own): the
//! server and its clients both run inside the sandbox, output is
//! deterministic (sizes, counts, hashes; never ports or timings) and every
//! load test stops by itself.

use rvisor_tests::workloads::{require, Workload, PYTHON};

/// Picks a free loopback port for the run (printed nowhere).
const PICK_PORT: &str =
    r#"port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"#;

/// `python3 -m http.server` serving a directory; curl fetches a 256 kB file,
/// a listing and a missing path.
const HTTP_SERVER: &str = r#"
set -e
mkdir site
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 1000)' > site/data.bin
echo hello > site/hello.txt
PICK_PORT
python3 -m http.server "$port" --bind 127.0.0.1 --directory site 2> server.log &
srv=$!
for i in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
curl -s -o got.bin -w 'data: %{http_code} %{size_download}\n' "http://127.0.0.1:$port/data.bin"
cmp site/data.bin got.bin && echo "same bytes"
sha256sum got.bin | cut -d' ' -f1
curl -s "http://127.0.0.1:$port/hello.txt"
curl -s "http://127.0.0.1:$port/" | grep -o 'href="[^"]*"' | sort
curl -s -o /dev/null -w 'missing: %{http_code}\n' "http://127.0.0.1:$port/missing"
curl -s -I "http://127.0.0.1:$port/hello.txt" | grep -i '^content-length' | tr -d '\r'
kill $srv
wait $srv || echo "server stopped"
grep -c '"GET ' server.log
"#;

/// An asyncio echo server and 20 concurrent clients exchanging 10,000
/// messages of varied sizes; every echo is checked.
const ASYNCIO_ECHO: &str = r#"
import asyncio, hashlib

CLIENTS, PER_CLIENT = 20, 500

async def handle(reader, writer):
    n = 0
    while True:
        line = await reader.readline()
        if not line:
            break
        writer.write(line)
        await writer.drain()
        n += 1
    writer.close()
    await writer.wait_closed()
    served.append(n)

async def client(port, c):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    h = hashlib.sha256()
    ok = 0
    for i in range(PER_CLIENT):
        msg = (f"{c}:{i}:" + "x" * ((c * 7 + i * 13) % 300)).encode() + b"\n"
        writer.write(msg)
        await writer.drain()
        back = await reader.readline()
        ok += back == msg
        h.update(back)
    writer.close()
    await writer.wait_closed()
    return ok, h.hexdigest()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    results = await asyncio.gather(*(client(port, c) for c in range(CLIENTS)))
    server.close()
    await server.wait_closed()
    while len(served) < CLIENTS:
        await asyncio.sleep(0.01)
    print("echoed ok:", sum(r[0] for r in results))
    print("served:", sum(served), "connections:", len(served))
    print("digest:", hashlib.sha256("".join(r[1] for r in results).encode()).hexdigest())

served = []
asyncio.run(main())
"#;

/// nginx (master and two workers) serving 10,000 requests from a python
/// keep-alive load generator with 8 threads.
const NGINX: &str = r#"
set -e
mkdir -p site tmp
python3 -c 'import sys; sys.stdout.buffer.write(b"0123456789abcdef" * 256)' > site/page.html
PICK_PORT
cat > nginx.conf <<CONF
user root root;
worker_processes 2;
pid $PWD/nginx.pid;
error_log stderr warn;
daemon off;
events { worker_connections 256; }
http {
    access_log $PWD/access.log;
    client_body_temp_path $PWD/tmp/body;
    proxy_temp_path $PWD/tmp/proxy;
    fastcgi_temp_path $PWD/tmp/fastcgi;
    uwsgi_temp_path $PWD/tmp/uwsgi;
    scgi_temp_path $PWD/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $PWD/site;
        location /status { return 200 "up\n"; }
    }
}
CONF
nginx -e stderr -p "$PWD" -c "$PWD/nginx.conf" 2> nginx.err &
ngx=$!
for i in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/status" && break; sleep 0.05; done
python3 - "$port" <<'PY'
import hashlib, http.client, sys, threading
port = int(sys.argv[1])
THREADS, PER = 8, 1250
results = []
def load(t):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    codes, h = {}, hashlib.sha256()
    for i in range(PER):
        path = "/page.html" if i % 10 else "/nope"
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        codes[r.status] = codes.get(r.status, 0) + 1
        if r.status == 200:
            h.update(body)
    conn.close()
    results.append((codes, h.hexdigest()))
ts = [threading.Thread(target=load, args=(t,)) for t in range(THREADS)]
for t in ts: t.start()
for t in ts: t.join()
total = {}
for codes, _ in results:
    for k, v in codes.items():
        total[k] = total.get(k, 0) + v
print("responses:", sorted(total.items()))
print("bodies agree:", len({d for _, d in results}) == 1)
PY
kill -QUIT $(cat nginx.pid)
wait $ngx && echo "nginx exited cleanly"
echo "access log lines: $(wc -l < access.log)"
"#;

fn script(s: &str) -> String {
    s.replace("PICK_PORT", PICK_PORT)
}

#[test]
fn python_http_server_and_curl() {
    require(&[(PYTHON, "python3"), ("/usr/bin/curl", "curl")]);
    Workload::bash("net-http-server", &script(HTTP_SERVER)).check();
}

#[test]
fn python_asyncio_echo_10k_messages() {
    require(&[(PYTHON, "python3")]);
    Workload::python("net-asyncio-echo", ASYNCIO_ECHO).check();
}

#[test]
fn nginx_serves_10k_requests() {
    require(&[(PYTHON, "python3"), ("/usr/bin/curl", "curl"), ("/usr/sbin/nginx", "nginx")]);
    Workload::bash("net-nginx", &script(NGINX)).check();
}
