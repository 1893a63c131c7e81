#!/usr/bin/env bash
# Shows how the real Traefik decodes labels or KV keys: starts a fake Docker
# Engine API (docker) or Consul KV API (consul) on 127.0.0.1 serving the
# given JSON, runs `traefik` against it, prints /api/rawdata (internal
# elements left out) and the decoding errors Traefik logged.
#   probe.sh docker containers.json   # {"name": {"label": "value", ...}, ...}
#   probe.sh consul pairs.json        # [["traefik/http/...", "value"], ...]
set -u
here="$(cd "$(dirname "$0")" && pwd)"
kind=$1 data=$2
fake_port=${FAKE_PORT:-23750} api_port=${API_PORT:-28080} web_port=${WEB_PORT:-28081}
log=$(mktemp)
case $kind in
  docker)
    python3 "$here/fake_docker.py" "$fake_port" "$data" &
    provider=(--providers.docker.endpoint="tcp://127.0.0.1:$fake_port" --providers.docker.watch=false
              --providers.docker.exposedbydefault=true) ;;
  consul)
    python3 "$here/fake_consul.py" "$fake_port" "$data" &
    provider=(--providers.consul.endpoints="127.0.0.1:$fake_port") ;;
  *) echo "usage: $0 docker|consul FILE.json" >&2; exit 2 ;;
esac
fake=$!
traefik --api.insecure=true --entrypoints.traefik.address="127.0.0.1:$api_port" \
  --entrypoints.web.address="127.0.0.1:$web_port" "${provider[@]}" --log.level=DEBUG >"$log" 2>&1 &
proxy=$!
for _ in $(seq 1 50); do
  curl -fs "127.0.0.1:$api_port/api/rawdata" 2>/dev/null | grep -q "@$kind" && break
  sleep 0.2
done
sleep 0.5
curl -fs "127.0.0.1:$api_port/api/rawdata" | python3 -c '
import json, sys
for section, elements in json.load(sys.stdin).items():
    for name, element in sorted(elements.items()):
        if not name.endswith("@internal"):
            print(section, name, json.dumps(element, sort_keys=True))'
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep ' ERR ' | grep -v 'connection refused\|Cannot connect\|retrying' | cut -c1-400
kill "$proxy" "$fake"; wait "$proxy" "$fake" 2>/dev/null
rm -f "$log"
