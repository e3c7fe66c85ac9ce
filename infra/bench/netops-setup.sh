#!/bin/bash
# Prepares a netops gateway for the overhead harness: fresh data dir /tmp/benchcfg, upstream = the harness's
# nginx mock (SSE path), tenants `bench` (no guardrails) and `guarded` (the repo's default policy), keys in files.
# Run from the project checkout (needs .venv; PYTHON overrides the interpreter). Prints nothing on success.
# (Copied from ../shared/bench; `netops bench overhead` runs it with BENCH_CFG under var/bench.)
set -euo pipefail
B=${BENCH_CFG:-/tmp/benchcfg}
PY=${PYTHON:-.venv/bin/python}
PORT=${NETOPS_BENCH_PORT:-8070}
rm -rf "$B"; mkdir -p "$B/policies"
cat > "$B/netops.yaml" <<YAML
data_dir: $B/var
default_rpm: 1000000
server: {host: 127.0.0.1, port: $PORT}
model_server: {enabled: false}
deployments:
  - {name: mock, provider: openai_compatible, model: bench, base_url: "http://127.0.0.1:18081/sse/v1"}
routes:
  - {name: bench, deployments: [mock], assistant: false, max_tokens: 64}
guardrails:
  policies_dir: $B/policies
cache: {enabled: false}  # the harness repeats one question: measure the request path, not the response cache
YAML
cp infra/policies/default.yaml "$B/policies/default.yaml"
cat > "$B/policies/bench.yaml" <<'YAML'
version: 1
description: no scanners (gateway overhead only)
timeout_ms: 2000
fail_open: []
input: []
context: []
output: []
YAML
N=("$PY" -m gateway --config "$B/netops.yaml")
for t in bench guarded; do
  "${N[@]}" tenant create $t --models bench --rpm 1000000 >/dev/null
  "${N[@]}" key create $t --label $t | awk '/api key:/{print $3}' > "$B/key-$t"
  [ -s "$B/key-$t" ] || { echo "no key for $t"; exit 1; }
done
