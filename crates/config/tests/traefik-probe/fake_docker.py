#!/usr/bin/env python3
"""A minimal fake Docker Engine API on 127.0.0.1 for probing Traefik's label decoding.
Usage: fake_docker.py PORT CONTAINERS.json   (json: {"name": {"label": "value", ...}, ...})"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
CONTAINERS = json.load(open(sys.argv[2]))
IDS = {f"{i:064x}": name for i, name in enumerate(sorted(CONTAINERS), start=1)}

def inspect(cid):
    name = IDS[cid]
    return {
        "Id": cid, "Name": "/" + name, "Created": "2024-01-01T00:00:00Z",
        "State": {"Status": "running", "Running": True},
        "Config": {"Labels": CONTAINERS[name], "ExposedPorts": {"80/tcp": {}}},
        "HostConfig": {"NetworkMode": "bridge"},
        "NetworkSettings": {"Ports": {"80/tcp": None},
                            "Networks": {"bridge": {"IPAddress": "127.0.0.1", "NetworkID": "n1"}}},
    }

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Api-Version", "1.45")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_HEAD(self):
        self.send(200, b"")
    def do_GET(self):
        path = self.path.split("?")[0]
        parts = [p for p in path.split("/") if p]
        if parts and parts[0].startswith("v1."):
            parts = parts[1:]
        if parts == ["_ping"]:
            return self.send(200, b"OK", "text/plain")
        if parts == ["version"]:
            return self.send(200, {"Version": "26.0.0", "ApiVersion": "1.45", "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64"})
        if parts == ["containers", "json"]:
            return self.send(200, [{"Id": cid, "Names": ["/" + n], "Labels": CONTAINERS[n], "State": "running"} for cid, n in IDS.items()])
        if len(parts) == 3 and parts[0] == "containers" and parts[2] == "json":
            return self.send(200, inspect(parts[1]))
        self.send(404, {"message": "not found " + self.path})

ThreadingHTTPServer(("127.0.0.1", PORT), H).serve_forever()
