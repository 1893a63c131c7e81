"""Runs Traefik and Switchyard on the same configuration and records what
each answered and what the backends saw, so that a test can compare them.

Everything listens on 127.0.0.1. Processes are started per case and killed
at the end of it; every wait is bounded.
"""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


_next_port = [10000 + (os.getpid() * 7919) % 22000]
_given_ports = set()


def free_port():
    """A port free a moment ago, below Linux's ephemeral range (32768 and
    up) so that no outgoing connection takes it before a server binds it."""
    for _ in range(22000):
        port = _next_port[0]
        _next_port[0] = 10000 if port + 1 >= 32000 else port + 1
        if port in _given_ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EchoHandler(BaseHTTPRequestHandler):
    """Answers with JSON describing the request it received."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = b""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        elif length:
            body = self.rfile.read(length)
        if self.path.startswith("/sleep/"):
            time.sleep(min(int(self.path.split("/")[2].split("?")[0]), 5000) / 1000)
        if "sleep=" in self.path:
            # ?sleep=MS on any path delays the answer.
            ms = self.path.split("sleep=", 1)[1].split("&")[0]
            time.sleep(min(int(ms or 0), 5000) / 1000)
        if self.path.startswith("/bytes/"):
            n = int(self.path.split("/")[2].split("?")[0])
            kind = "application/grpc" if "grpc" in self.path else ("image/png" if "png" in self.path else "text/plain")
            out = (b"switchyard " * (n // 11 + 1))[:n]
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("X-Backend", self.server.name)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)
            return
        if self.path.startswith("/chunked/"):
            # N bytes in chunks of at most 1000, without Content-Length.
            n = int(self.path.split("/")[2].split("?")[0])
            out = (b"switchyard " * (n // 11 + 1))[:n]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("X-Backend", self.server.name)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for i in range(0, n, 1000):
                    part = out[i : i + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/untyped/"):
            # An answer without Content-Type, for content sniffing.
            kind = self.path.split("/")[2].split("?")[0]
            out = {
                "html": b"<!DOCTYPE html><html><body>hi</body></html>",
                "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 16,
                "text": b"just some text",
                "binary": b"\x00\x01\x02\x03",
                "empty": b"",
            }.get(kind, b"?")
            self.send_response(200)
            self.send_header("X-Backend", self.server.name)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)
            return
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2].split("?")[0])
        else:
            status = 200
        seen = {
            "name": self.server.name,
            "method": self.command,
            "uri": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body_len": len(body),
            "body_sha": __import__("hashlib").sha256(body).hexdigest()[:16],
        }
        out = json.dumps(seen).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Backend", self.server.name)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer


class Backend:
    def __init__(self, name):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        self.server.name = name
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def fill(template, values):
    """Replaces `<<name>>` tokens (YAML and rules use braces and dollars)."""
    for k, v in values.items():
        template = template.replace("<<%s>>" % k, str(v))
    return template


def traefik_bin():
    return shutil.which("traefik")


def switchyard_bin():
    path = os.environ.get("SWITCHYARD_BIN") or os.path.join(REPO, "target", "debug", "switchyard")
    return path if os.path.exists(path) else None


class Proxy:
    """One proxy process with a static and a dynamic configuration."""

    def __init__(self, binary, static_tpl, dynamic_tpl, values):
        self.dir = tempfile.mkdtemp(prefix="sy-diff-")
        self.web = free_port()
        self.admin = free_port()
        self.other = free_port()
        fixtures = os.path.join(REPO, "crates", "testkit", "fixtures")
        v = dict(values, web=self.web, admin=self.admin, other=self.other, dir=self.dir, fixtures=fixtures)
        dynamic = fill(dynamic_tpl, v)
        with open(os.path.join(self.dir, "dynamic.yml"), "w") as f:
            f.write(dynamic)
        v["dynamic"] = os.path.join(self.dir, "dynamic.yml")
        with open(os.path.join(self.dir, "static.yml"), "w") as f:
            f.write(fill(static_tpl, v))
        self.routers = sorted((yaml.safe_load(dynamic) or {}).get("http", {}).get("routers", {}).keys())
        self.log = open(os.path.join(self.dir, "log.txt"), "w")
        self.proc = subprocess.Popen(
            [binary, "--configFile=" + os.path.join(self.dir, "static.yml")],
            cwd=self.dir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith(("TRAEFIK_", "SWITCHYARD_"))},
        )

    def wait_ready(self, timeout=15, path="/api/rawdata", port="admin"):
        """Polls the API (its raw data at `path` on the `port` entrypoint)
        until every router of the dynamic file is known."""
        port = {"web": self.web, "admin": self.admin, "other": self.other}[port]
        deadline = time.time() + timeout
        want = {r + "@file" for r in self.routers}
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("proxy exited: " + self.read_log())
            try:
                status, _, body = request(port, "GET", path, host="localhost")
                if status == 200:
                    have = set(json.loads(body).get("routers", {}).keys())
                    if want <= have:
                        # Give health checks and the throttle a moment to settle.
                        time.sleep(0.3)
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("proxy not ready in %ss: %s" % (timeout, self.read_log()))

    def read_log(self):
        self.log.flush()
        with open(os.path.join(self.dir, "log.txt")) as f:
            return f.read()[-4000:]

    def close(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def tls_context(alpn=None):
    """A client context that accepts any certificate (the test looks at it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def h3_request_bin():
    path = os.path.join(os.path.dirname(os.environ.get("SWITCHYARD_BIN") or os.path.join(REPO, "target", "debug", "switchyard")), "h3-request")
    return path


def request_h3(port, method, path, host, timeout=10):
    """One HTTP/3 request (the testkit's quinn/h3 client, whatever the
    proxy): (status, headers, body); status 0 when QUIC was refused."""
    out = subprocess.run(
        [h3_request_bin(), "127.0.0.1:%d" % port, host, path, method],
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    answer = json.loads(out.stdout)
    return answer["status"], answer["headers"], answer["body"].encode()


def request(port, method, path, host="example.com", headers=None, body=None, timeout=10, tls=None, chunked=False):
    """One request on a new connection; with `tls` (a dict: sni, `tls12`
    for TLS 1.2 at most, `ciphers` for OpenSSL's TLS 1.2 cipher list in the
    client's order of preference), over TLS. A TLS answer's headers carry
    `x-test-cert-cn`, the subject CN of the certificate the server
    presented, and `x-test-cipher`, the suite it chose; a refused handshake
    answers status 0. With `chunked`, the body goes in two chunks
    (Transfer-Encoding: chunked) instead of with a Content-Length."""
    cert_cn = cipher = None
    if tls is not None:
        sni = tls.get("sni", host)
        ctx = tls_context()
        if tls.get("tls12"):
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if tls.get("ciphers"):
            ctx.set_ciphers(tls["ciphers"])
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            sock = ctx.wrap_socket(raw, server_hostname=sni)
        except (ssl.SSLError, OSError):
            raw.close()
            return 0, {}, b""
        der = sock.getpeercert(binary_form=True)
        cert_cn = subject_cn(der)
        cipher = sock.cipher()[0]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.sock = sock
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        data = body.encode() if isinstance(body, str) else body
        if data is not None and chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            half = len(data) // 2
            parts = [p for p in (data[:half], data[half:]) if p]
            data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        elif data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        try:
            resp = conn.getresponse()
            out = resp.read()
        except (ssl.SSLError, ConnectionError):
            if tls is None:
                raise
            # TLS 1.3 reports a refused client certificate after the handshake.
            return 0, {}, b""
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if cert_cn is not None:
            hdrs["x-test-cert-cn"] = cert_cn
            hdrs["x-test-cipher"] = cipher
        return resp.status, hdrs, out
    finally:
        conn.close()


def subject_cn(der):
    """The subject common name of a DER certificate, via openssl."""
    out = subprocess.run(
        ["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-nameopt", "RFC2253"],
        input=der, capture_output=True,
    ).stdout.decode()
    for part in out.strip().removeprefix("subject=").split(","):
        if part.startswith("CN="):
            return part[3:]
    return ""
