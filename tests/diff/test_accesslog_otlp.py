"""`accessLog.otlp`: the same requests through Traefik and Switchyard with
the access log sent to an OTLP/HTTP collector double; the log records must
agree: instrumentation scope, severity, attribute names and value types,
and a body that is the formatted line."""

import json
import struct
import time

from harness import Backend, Proxy, request, switchyard_bin, traefik_bin
from otlp_wire import Collector, fields

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
experimental:
  otlpLogs: true
providers:
  file:
    filename: "<<dynamic>>"
accessLog:
  format: json
  fields:
    headers:
      defaultMode: keep
      names:
        Authorization: redact
  otlp:
    serviceName: edge-access
    http:
      endpoint: "http://127.0.0.1:<<collector>>/v1/logs"
"""

DYNAMIC = """
http:
  routers:
    app:
      rule: Host(`app.test`)
      service: a
      entryPoints: [web]
  services:
    a:
      loadBalancer:
        servers:
          - url: "<<a>>"
"""

REQUESTS = [
    ("app.test", "/one?x=1", {"User-Agent": "diff/1", "Authorization": "Bearer t"}),
    ("nowhere.test", "/missing", {"User-Agent": "diff/1"}),
]

# Fields whose values depend on the run (times, addresses, counters).
VARYING = {"ClientAddr", "ClientPort", "Duration", "OriginDuration", "Overhead", "StartLocal",
           "StartUTC", "ServiceURL", "DownstreamContentSize", "OriginContentSize",
           "downstream_Content-Length", "origin_Content-Length", "ServiceAddr", "RequestCount", "RequestAddr", "RequestPort",
           "downstream_Date", "origin_Date", "request_X-Forwarded-Port",
           "request_X-Forwarded-Server", "request_X-Real-Ip", "request_X-Forwarded-For"}


def typed_value(buf):
    f = fields(buf)
    if 1 in f:
        return ("string", f[1][0].decode())
    if 2 in f:
        return ("bool", bool(f[2][0]))
    if 3 in f:
        v = f[3][0]
        return ("int", v - (1 << 64) if v >= 1 << 63 else v)
    if 4 in f:
        return ("double", struct.unpack("<d", f[4][0].to_bytes(8, "little"))[0])
    return ("other", repr(f))


def logs_of(body):
    out = []
    for rl in fields(body).get(1, []):
        for sl in fields(rl).get(2, []):
            sf = fields(sl)
            scope = fields(sf[1][0]).get(1, [b""])[0].decode() if 1 in sf else ""
            for rec in sf.get(2, []):
                f = fields(rec)
                attrs = {}
                for kv in f.get(6, []):
                    kvf = fields(kv)
                    attrs[kvf[1][0].decode()] = typed_value(kvf[2][0]) if 2 in kvf else None
                out.append({
                    "scope": scope,
                    "severity_number": f.get(2, [0])[0],
                    "severity_text": f.get(3, [b""])[0].decode(),
                    "body": typed_value(f[5][0]) if 5 in f else None,
                    "attrs": attrs,
                })
    return out


def run(binary, backend):
    collector = Collector(lambda path, body: logs_of(body))
    p = Proxy(binary, STATIC, DYNAMIC, {"a": backend.url, "collector": collector.port})
    try:
        p.wait_ready()
        for host, target, headers in REQUESTS:
            request(p.web, "GET", target, host=host, headers=headers)
        deadline = time.time() + 20
        want = {t.split("?")[0] for _, t, _ in REQUESTS}

        def paths():
            return {(r["attrs"].get("RequestPath") or ("", ""))[1].split("?")[0]
                    for r in collector.items}
        while time.time() < deadline and not want <= paths():
            time.sleep(0.1)
        return {(r["attrs"].get("RequestPath") or ("", ""))[1]: r for r in collector.items}
    finally:
        p.close()
        collector.close()


def comparable(rec):
    attrs = {k: (t, None if k in VARYING else v) for k, (t, v) in rec["attrs"].items()}
    body_type, body = rec["body"]
    line = json.loads(body)
    return {
        "scope": rec["scope"],
        "severity": (rec["severity_number"], rec["severity_text"]),
        "attrs": attrs,
        "body_type": body_type,
        "body_ends_with_newline": body.endswith("\n"),
        "body_keys": sorted(line),
    }


def test_access_log_records_match():
    backend = Backend("a")
    try:
        t = run(traefik_bin(), backend)
        s = run(switchyard_bin(), backend)
    finally:
        backend.close()
    for _, target, _ in REQUESTS:
        assert target in t, "traefik sent no record for %s: %s" % (target, sorted(t))
        assert target in s, "switchyard sent no record for %s: %s" % (target, sorted(s))
        assert comparable(s[target]) == comparable(t[target]), target
