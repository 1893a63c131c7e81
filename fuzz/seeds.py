#!/usr/bin/env python3
"""Writes seed inputs for every fuzz target into fuzz/corpus/<target>/,
taken from the repository's own tests and fixtures: the rules test tables,
the differential cases (tests/diff/cases), tests/diff/static/every_key.yml,
the config fixtures, the testkit certificates, the raw requests of the
integration tests and the template test tables. Seeds are named by the hash of their content, as
libFuzzer names its own, so running this again adds nothing twice.

`seeds.py DIR` writes to DIR/<target>/ instead (`scripts/fuzz --minimize`
does, to keep these seeds first in the corpora it shrinks).

Needs PyYAML (the differential suite needs it too).
"""

import base64
import glob
import hashlib
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")


def read(path):
    with open(os.path.join(ROOT, path), "rb") as f:
        return f.read()


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def placeholders(text):
    """The differential cases' <<name>> placeholders, filled in."""
    ports = {"web": "8000", "admin": "8080", "other": "8001", "udp": "8002", "dead": "1"}
    def one(m):
        name = m.group(1)
        if name in ports:
            return ports[name]
        if name in ("a", "b", "c", "dead_url"):
            return "http://127.0.0.1:9000"
        if name == "redis":
            return "127.0.0.1:6379"
        return "/tmp/" + name
    return re.sub(r"<<([a-z_]+)>>", one, text)


def diff_cases():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "diff", "cases", "*.yml"))):
        with open(path) as f:
            yield yaml.safe_load(f)


# ------------------------------------------------------------ rust literals

LITERAL = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.S)


def rust_unescape(s):
    out, i = [], 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            n = s[i + 1]
            if n in simple:
                out.append(simple[n])
                i += 2
                continue
            if n == "x":
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            if n == "u":
                end = s.index("}", i)
                out.append(chr(int(s[i + 3:end], 16)))
                i = end + 1
                continue
            if n == "\n":
                i += 2
                while i < len(s) and s[i] in " \t\n":
                    i += 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


def literals(line):
    for m in LITERAL.finditer(line):
        if m.group(2) is not None and m.group(0).startswith("r"):
            yield m.group(2)
        elif m.group(3) is not None:
            try:
                yield rust_unescape(m.group(3))
            except (ValueError, IndexError):
                pass


RULE_HINT = re.compile(r"^\s*!?\s*\(*\s*[A-Za-z]+\s*\(")


# ------------------------------------------------------------------ rules

def rule_seeds():
    seen = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "crates", "rules", "src", "tests", "*.rs"))
                       + glob.glob(os.path.join(ROOT, "crates", "rules", "src", "v2", "*.rs"))):
        with open(path) as f:
            for line in f:
                lits = list(literals(line))
                rules = [s for s in lits if RULE_HINT.match(s) and len(s) < 2000]
                for rule in rules:
                    # req("host/path?query"): the tests' request notation.
                    m = re.search(r'req\("((?:[^"\\]|\\.)*)"\)', line)
                    request = ""
                    if m:
                        hp = rust_unescape(m.group(1))
                        host, _, path = hp.partition("/")
                        request = f"GET\n{host}\n/{path}\n10.0.0.1\n"
                    seen.add(rule + ("\0" + request if request else ""))
    for case in diff_cases():
        dyn = yaml.safe_load(placeholders(case.get("dynamic", "") or "")) or {}
        for proto in ("http", "tcp"):
            for r in ((dyn.get(proto) or {}).get("routers") or {}).values():
                rule = r.get("rule")
                if not rule:
                    continue
                for q in case.get("requests") or [{}]:
                    headers = "".join(f"{k}: {v}\n" for k, v in (q.get("headers") or {}).items())
                    request = "{}\n{}\n{}\n127.0.0.1\n{}".format(
                        q.get("method", "GET"), q.get("host", "example.com"), q.get("path", "/"), headers)
                    seen.add(rule + "\0" + request)
                    break
    for s in sorted(seen):
        write("rules", s)
    return len(seen)


# --------------------------------------------------------------- template

def template_seeds():
    """The template test tables' texts (and the file provider's)."""
    seen = set()
    for path in ("crates/config/src/template/tests.rs", "crates/providers/src/file_template.rs"):
        with open(os.path.join(ROOT, path)) as f:
            for line in f:
                for lit in literals(line):
                    if "{{" in lit and len(lit) < 4000:
                        seen.add(lit)
    for s in sorted(seen):
        write("template", s)
    return len(seen)


# ----------------------------------------------------------------- config

def toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if v is None:
        return '""'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def to_toml(doc):
    """A YAML document as TOML: a table per section, inline tables below."""
    lines = []
    flat = {k: v for k, v in doc.items() if not isinstance(v, dict)}
    for k, v in flat.items():
        lines.append(f"{toml_key(k)} = {toml_value(v)}")
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"\n[{toml_key(k)}]")
            for k2, v2 in v.items():
                lines.append(f"{toml_key(k2)} = {toml_value(v2)}")
    return "\n".join(lines) + "\n"


def config_documents():
    """(text, parsed) of every YAML configuration in the repository."""
    docs = []
    for case in diff_cases():
        for key in ("dynamic", "static"):
            if case.get(key):
                text = placeholders(case[key])
                docs.append((text, yaml.safe_load(text)))
    for path in ["tests/diff/static/every_key.yml", "crates/config/tests/fixtures/dynamic.yml",
                 "examples/quickstart/traefik.yml", "examples/quickstart/dynamic/api.yml",
                 "examples/quickstart/dynamic/whoami.yml"]:
        text = placeholders(read(path).decode())
        docs.append((text, yaml.safe_load(text)))
    return [(t, d) for t, d in docs if isinstance(d, dict)]


def config_seeds():
    docs = config_documents()
    for text, _ in docs:
        write("config_yaml", text)
    toml = [read("crates/config/tests/fixtures/dynamic.toml").decode()]
    toml += [to_toml(d) for _, d in docs]
    for text in toml:
        write("config_toml", text)
    return len(docs), len(toml)


def flatten(node, prefix=""):
    """(dotted key, value) pairs, lists indexed as `name[0]`."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, list):
        if all(not isinstance(x, (dict, list)) for x in node):
            yield prefix, ",".join(str(x) for x in node)
        else:
            for i, v in enumerate(node):
                yield from flatten(v, f"{prefix}[{i}]")
    else:
        if isinstance(node, bool):
            node = "true" if node else "false"
        yield prefix, "" if node is None else str(node)


def flat_seeds():
    count = 0
    for _, doc in config_documents():
        pairs = list(flatten(doc))
        if "http" in doc or "tcp" in doc or "tls" in doc:
            write("flat_keys", "".join(f"{k}={v}\n" for k, v in pairs))
            count += 1
        else:
            # Static: flags, and the same as environment variables, a
            # section a seed (every_key.yml is long).
            sections = {}
            for k, v in pairs:
                sections.setdefault(k.split(".")[0].split("[")[0], []).append((k, v))
            for items in sections.values():
                write("cli_env", "\n".join(f"--{k}={v}" for k, v in items))
                env = "\n".join("$TRAEFIK_" + re.sub(r"[.\[\]]+", "_", k).strip("_").upper() + "=" + v
                                for k, v in items)
                write("cli_env", env)
                count += 2
    for seed in ["--api\n--api.insecure\n--entryPoints.web.address\n:80",
                 "--log.level=DEBUG\nplain\n-x\n--providers.file.directory=/tmp",
                 "$SWITCHYARD_API_INSECURE=true\n$TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:80"]:
        write("cli_env", seed)
    return count


# -------------------------------------------------------------- TLS things

def pem_files():
    return sorted(glob.glob(os.path.join(ROOT, "crates", "testkit", "fixtures", "*")))


def der_blocks(pem):
    for m in re.finditer(rb"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", pem, re.S):
        yield m.group(1).decode(), base64.b64decode(b"".join(m.group(2).split()))


def cert_seeds():
    pems = {os.path.basename(p): open(p, "rb").read() for p in pem_files()}
    for name, pem in pems.items():
        write("certs", pem)
        for kind, der in der_blocks(pem):
            if kind == "CERTIFICATE":
                write("certs", der)
    for cert, key in [("server.pem", "server.key"), ("client.pem", "client.key"), ("ca.pem", "ca.key")]:
        if cert in pems and key in pems:
            write("certs", pems[cert] + pems[key])
    return len(pems)


def acme_seeds():
    pems = {os.path.basename(p): open(p, "rb").read() for p in pem_files()}
    b64 = lambda b: base64.b64encode(b).decode()
    stores = [
        {},
        {"le": {"Account": {"Email": "a@b.c", "Registration": {"body": {"status": "valid"},
                                                               "uri": "https://ca/acct/1"},
                            "PrivateKey": "MIIB", "KeyType": "4096"},
                "Certificates": [{"domain": {"main": "x.test", "sans": ["y.test"]},
                                  "certificate": "Q0VSVA==", "key": "S0VZ", "Store": "default"}]}},
        {"one": {"Account": {"Email": "one@x"}, "Certificates": []},
         "two": {"Account": None, "Certificates": None}},
    ]
    if "server.pem" in pems and "server.key" in pems:
        stores.append({"le": {"Certificates": [
            {"domain": {"main": "backend.test", "sans": ["localhost"]},
             "certificate": b64(pems["server.pem"] + pems.get("ca.pem", b"")),
             "key": b64(pems["server.key"]), "Store": "default"}]}})
    for s in stores:
        write("acme_store", json.dumps(s, indent=2))
    write("acme_store", "  \n")
    return len(stores) + 1


def tls_name_seeds():
    text = read("crates/proxy/src/tls_names.rs").decode()
    versions = sorted(set(re.findall(r'"(VersionTLS1[0-3])"', text)))
    suites = sorted(set(re.findall(r'"(TLS_[A-Z0-9_]+)"', text)))
    seeds = [
        "VersionTLS12\nVersionTLS13\n" + "\n".join(suites[:4]),
        "VersionTLS13\n\nTLS_AES_128_GCM_SHA256",
        "\n\n" + "\n".join(suites),
        "VersionTLS10\nVersionTLS11",
        "VersionTLS13\nVersionTLS12\nTLS_NOPE",
    ]
    seeds += [f"{v}\n{w}\n" for v in versions for w in versions]
    for s in seeds:
        write("tls_names", s)
    # Raw client suite lists: ChaCha20 first, AES first.
    write("tls_names", bytes([0x13, 0x03, 0x13, 0x01, 0xcc, 0xa9, 0xc0, 0x2b]))
    write("tls_names", bytes([0x13, 0x01, 0x13, 0x03, 0xc0, 0x2f, 0xcc, 0xa8]))
    return len(seeds) + 2


# --------------------------------------------------------- PROXY protocol

def proxy_protocol_seeds():
    """The version 1 lines of proxy_protocol.rs's tests, and version 2
    headers built as its tests build them."""
    text = read("crates/server/src/entrypoint/proxy_protocol.rs").decode()
    seeds = [rust_unescape(m).encode() for m in re.findall(r'b"(PROXY[^"]*)"', text)]
    sig = b"\r\n\r\n\0\r\nQUIT\n"
    def v2(command, family, body):
        return sig + bytes([0x20 | command, family]) + len(body).to_bytes(2, "big") + body
    v4 = bytes([203, 0, 113, 7, 10, 0, 0, 1]) + (51000).to_bytes(2, "big") + (80).to_bytes(2, "big")
    v6 = bytes(range(1, 17)) + bytes(range(17, 33)) + (443).to_bytes(2, "big") + (8443).to_bytes(2, "big")
    tlv = v4 + bytes([0x02, 0x00, 0x04]) + b"host"
    seeds += [v2(1, 0x11, v4) + b"GET / HTTP/1.1\r\n", v2(1, 0x21, v6), v2(1, 0x11, tlv),
              v2(0, 0x11, v4), v2(1, 0x00, b""), v2(1, 0x12, v4), v2(1, 0x11, v4[:6]), v2(2, 0x11, v4),
              b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello"]
    for s in seeds:
        write("proxy_protocol", s)
    return len(seeds)


# ------------------------------------------------------------------- http1

def http1_seeds():
    seeds = [
        b"GET / HTTP/1.1\r\nHost: x.test\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"POST /upload HTTP/1.1\r\nHost: x.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
        b"POST /collect HTTP/1.1\r\nHost: x.test\r\nContent-Length: 10\r\n\r\nhalf!",
        b"POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"GET /a/./b/../c//d HTTP/1.1\r\nHost: A.TEST:8080\r\n\r\n",
        b"GET /%61/b%2fc%zz HTTP/1.1\r\nHost: x.test\r\n\r\n",
        b"GET /api/users?id=1;x=2 HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 1.2.3.4\r\n"
        b"X_Forwarded_Host: evil\r\nConnection: keep-alive, X-A\r\n\r\n"
        b"GET /r/12/z HTTP/1.1\r\nHost: q.r.test\r\n\r\n",
        b"GET /redirect HTTP/1.1\r\nHost: x.test\r\n\r\n",
        b"PUT /v2/42?q=1&r=xy HTTP/1.1\r\nHost: [::1]:80\r\nX-B: cd\r\nX-V: 2\r\nContent-Length: 0\r\n\r\n",
        b"GET /ip HTTP/1.1\r\nHost: x.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"GET http://x.test/abs?flag HTTP/1.1\r\nHost: y.test\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x.test\r\n\r\n",
        b"CONNECT x.test:443 HTTP/1.1\r\nHost: x.test:443\r\n\r\n",
        # h2c by prior knowledge: the preface and an empty SETTINGS frame.
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    ]
    for case in diff_cases():
        for q in case.get("requests") or []:
            method = q.get("method", "GET")
            path = placeholders(str(q.get("path", "/")))
            head = f"{method} {path} HTTP/1.1\r\nHost: {q.get('host', 'example.com')}\r\n"
            for k, v in (q.get("headers") or {}).items():
                head += f"{k}: {v}\r\n"
            body = q.get("body") or ""
            if isinstance(body, str) and body:
                head += f"Content-Length: {len(body.encode())}\r\n"
            seeds.append((head + "\r\n" + (body if isinstance(body, str) else "")).encode())
    for s in seeds:
        write("http1", s)
    return len(seeds)


def main():
    counts = {
        "rules": rule_seeds(),
        "config_yaml/config_toml": config_seeds(),
        "cli_env + flat_keys": flat_seeds(),
        "certs": cert_seeds(),
        "acme_store": acme_seeds(),
        "tls_names": tls_name_seeds(),
        "proxy_protocol": proxy_protocol_seeds(),
        "http1": http1_seeds(),
        "template": template_seeds(),
    }
    for k, v in counts.items():
        print(f"{k}: {v}", file=sys.stderr)


if __name__ == "__main__":
    main()
