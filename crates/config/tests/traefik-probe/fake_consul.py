#!/usr/bin/env python3
"""Minimal fake Consul KV HTTP API on 127.0.0.1. Usage: fake_consul.py PORT PAIRS.json  (json: [[key, value], ...])"""
import base64, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs, unquote

PORT = int(sys.argv[1])
PAIRS = json.load(open(sys.argv[2]))

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Consul-Index", "7")
        self.send_header("X-Consul-Knownleader", "true")
        self.send_header("X-Consul-Lastcontact", "0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        u = urlparse(self.path); q = parse_qs(u.query, keep_blank_values=True)
        if not u.path.startswith("/v1/kv/"):
            return self.send(404, None)
        key = unquote(u.path[len("/v1/kv/"):])
        if "index" in q and q["index"][0] == "7":
            time.sleep(20)
        rec = "recurse" in q
        out = [{"Key": k, "Value": base64.b64encode(v.encode()).decode(), "CreateIndex": 7, "ModifyIndex": 7, "LockIndex": 0, "Flags": 0}
               for k, v in PAIRS if (k.startswith(key) if rec else k == key)]
        if not out:
            return self.send(404, None)
        self.send(200, out)

ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
