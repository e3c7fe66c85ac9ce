#!/usr/bin/env bash
# overhead.sh - (copied from ../shared/bench and extended with TARGET_EXTRA for `netops bench overhead`)
# latency/throughput overhead of an OpenAI-compatible gateway (LiteLLM proxy, and
# optionally a third target) in front of a fast mock upstream (nginx returning a fixed
# chat.completion), driven by wrk on this same machine.
#
# Usage:  bash overhead.sh
#   Optional third target, measured in the same run (its upstream should be the mock at
#   http://127.0.0.1:${UPSTREAM_PORT}/v1, model name anything):
#     TARGET_URL=http://127.0.0.1:8080/v1   base URL (".../chat/completions" is appended unless present)
#     TARGET_MODEL=bench                    model name sent in the body
#     TARGET_KEY=sk-...                     bearer token (empty: no Authorization header)
#     TARGET_NAME=gateway                   label in the table
#     TARGET_CMD='...'                      optional: command that starts it (bash -c, after LiteLLM is
#                                           stopped; tracked by PID/session and cleaned up). It sees
#                                           BENCH_UPSTREAM_URL (mock base URL) and BENCH_WORK (temp dir).
#     TARGET_PID=1234                       optional: PID of an already-running target, for CPU/req
#     TARGET_EXTRA="name2=key2 name3=key3"  optional: the same target measured again with other keys (e.g. a
#                                           tenant with guardrails), each under its own label
#   Knobs: CONNS="1 8 32" THREADS=2 DURATION=20 WARMUP=5 LITELLM_WORKERS=$(nproc) NGINX_WORKERS=1
#          SKIP_LITELLM=1 BENCH_DIR=/tmp/bench LITELLM_VENV=... LITELLM_SPEC='litellm[proxy]==X'
#          UPSTREAM_PORT=18081 LITELLM_PORT=4000 READY_TIMEOUT=120 FIXED_RATE=200 (wrk2 only)
# Output: summary table on stdout; raw log  $BENCH_DIR/results-<ts>.txt ; rows  $BENCH_DIR/results-<ts>.tsv
# Every process it starts runs in its own session (setsid) and is stopped by PID on exit (trap).
set -Eeuo pipefail

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/bench}
VENV=${LITELLM_VENV:-$BENCH_DIR/litellm-venv}
LITELLM_SPEC=${LITELLM_SPEC:-'litellm[proxy]==1.108.7'}
UPSTREAM_PORT=${UPSTREAM_PORT:-18081}
LITELLM_PORT=${LITELLM_PORT:-4000}
LITELLM_WORKERS=${LITELLM_WORKERS:-$(nproc)}
NGINX_WORKERS=${NGINX_WORKERS:-1}
CONNS=${CONNS:-"1 8 32"}
THREADS=${THREADS:-2}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-5}
SKIP_LITELLM=${SKIP_LITELLM:-0}
READY_TIMEOUT=${READY_TIMEOUT:-120}
FIXED_RATE=${FIXED_RATE:-200}
FIXED_CONNS=${FIXED_CONNS:-8}
TARGET_URL=${TARGET_URL:-}
TARGET_MODEL=${TARGET_MODEL:-bench}
TARGET_KEY=${TARGET_KEY:-}
TARGET_NAME=${TARGET_NAME:-target}
TARGET_CMD=${TARGET_CMD:-}
TARGET_PID=${TARGET_PID:-}
TARGET_EXTRA=${TARGET_EXTRA:-}
MASTER_KEY=sk-bench-master-0000
UPSTREAM_KEY=sk-bench-upstream-dummy
MOCK_MARKER=BENCH-MOCK-REPLY

export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

mkdir -p "$BENCH_DIR"
TS=$(date +%Y%m%d-%H%M%S)
RAW=$BENCH_DIR/results-$TS.txt
TSV=$BENCH_DIR/results-$TS.tsv
WORK=$(mktemp -d "$BENCH_DIR/run-$TS.XXXX")
STARTED=()   # "name:pid" - each pid is a session leader (setsid), so its session holds all its children
WRK_PID=
T_START=$SECONDS

log() { printf '[%s] %s\n' "$(date +%T)" "$*" | tee -a "$RAW" >&2; }
die() { log "ERROR: $*"; exit 1; }

session_pids() {  # all live PIDs whose session id is $1 (the setsid leader we started)
  ps -e -o pid=,sid= | awk -v s="$1" '$2 == s { print $1 }'
}

stop_session() {  # name:pid
  local name=${1%%:*} pid=${1##*:} pids p i
  pids=$(session_pids "$pid" | tr '\n' ' ')
  [[ -n ${pids// /} ]] || return 0
  log "stopping $name (session $pid: $pids)"
  for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do
    [[ -z $(session_pids "$pid") ]] && return 0
    sleep 0.1
  done
  pids=$(session_pids "$pid" | tr '\n' ' ')
  log "  $name still alive after 10 s, SIGKILL: $pids"
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
}

cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  if [[ -n $WRK_PID ]] && kill -0 "$WRK_PID" 2>/dev/null; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
  for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do stop_session "${STARTED[i]}"; done
  log "done in $((SECONDS - T_START)) s (exit $rc); raw log: $RAW"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_bg() {  # name logfile cmd... ; starts cmd as a new session leader, records its pid in LAST_PID
  local name=$1 logf=$2; shift 2
  setsid "$@" >"$logf" 2>&1 </dev/null &
  LAST_PID=$!
  STARTED+=("$name:$LAST_PID")
  log "started $name pid=$LAST_PID: $*"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

chat_url() { local u=${1%/}; [[ $u == */chat/completions ]] && echo "$u" || echo "$u/chat/completions"; }

ensure_deps() {
  local need=()
  command -v nginx >/dev/null || need+=(nginx-light)
  command -v wrk >/dev/null || need+=(wrk)
  command -v curl >/dev/null || need+=(curl)
  command -v ps >/dev/null || need+=(procps)
  if ((${#need[@]})); then
    log "apt-get install ${need[*]}"
    apt-get update -qq >>"$RAW" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >>"$RAW" 2>&1
  fi
  if [[ $SKIP_LITELLM != 1 && ! -x $VENV/bin/litellm ]]; then
    log "creating $VENV with $LITELLM_SPEC"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "$LITELLM_SPEC" >>"$RAW" 2>&1
  fi
}

# POST one request; succeed only on HTTP 200 with a chat.completion body carrying the mock's marker.
probe() {  # url model key
  local url=$1 model=$2 key=$3 body code
  local auth=()
  [[ -n $key ]] && auth=(-H "Authorization: Bearer $key")
  PROBE_BODY="(no HTTP response)"
  body=$(curl -sS -m 10 -o - -w '\n%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}" "$url" 2>&1) \
    || { PROBE_BODY="curl failed: ${body:0:200}"; return 1; }
  code=${body##*$'\n'}
  body=${body%$'\n'*}
  PROBE_BODY="HTTP $code: $body"
  [[ $code == 200 && $body == *'"chat.completion"'* && $body == *"$MOCK_MARKER"* ]]
}

wait_ready() {  # name pid url model key
  local name=$1 pid=$2 url=$3 model=$4 key=$5 t0=$SECONDS
  until probe "$url" "$model" "$key"; do
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then die "$name (pid $pid) exited during startup"; fi
    ((SECONDS - t0 < READY_TIMEOUT)) || die "$name not ready after ${READY_TIMEOUT}s; last body: ${PROBE_BODY:-none}"
    sleep 0.5
  done
  log "$name ready after $((SECONDS - t0)) s; sample reply: ${PROBE_BODY:0:160}..."
}

versions() {
  {
    echo "== environment"
    echo "date: $(date -Is)   host: $(uname -srm)   cores: $(nproc)   mem: $(free -g | awk '/Mem:/{print $2}') GiB"
    echo "cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //') (deb $(dpkg-query -W -f='${Version}' nginx 2>/dev/null || echo '?'))"
    echo "wrk: $(wrk --version 2>&1 | head -1 | awk '{print $2}') (deb $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo '?'))"
    echo "wrk2: $(command -v wrk2 || echo 'not installed (no Debian 12 package) - fixed-rate runs skipped')"
    if [[ $SKIP_LITELLM != 1 ]]; then
      "$VENV/bin/python" - <<'EOF'
import importlib.metadata as m, sys
v = lambda p: (m.version(p) if p else None)
print("python:", sys.version.split()[0], " litellm:", v("litellm"), " uvicorn:", v("uvicorn"),
      " uvloop:", v("uvloop"), " httpx:", v("httpx"), " openai:", v("openai"), " aiohttp:", v("aiohttp"))
EOF
    fi
    echo "knobs: CONNS='$CONNS' THREADS=$THREADS DURATION=${DURATION}s WARMUP=${WARMUP}s LITELLM_WORKERS=$LITELLM_WORKERS NGINX_WORKERS=$NGINX_WORKERS"
    echo "caveat: load generator (wrk), mock upstream and gateway all share the same $(nproc) cores"
  } | tee -a "$RAW" >&2
}

start_upstream() {
  local d=$WORK/nginx reply
  mkdir -p "$d/tmp"
  reply='{"id":"chatcmpl-bench0001","object":"chat.completion","created":1700000000,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"'$MOCK_MARKER': Invalid MD5 digest means the peer now signs TCP segments with TCP-AO while you still use the MD5 password, so every SYN is dropped. Align the authentication (both TCP-AO with the same key chain, or both MD5), then clear ip bgp 203.0.113.2 soft. Also check the 1476-byte PMTU on the multihop path."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":236,"completion_tokens":64,"total_tokens":300}}'
  # The same answer as an SSE stream (for gateways that always stream upstream): base URL .../sse/v1
  local content=${reply#*\"content\":\"}; content=${content%%\"\},\"logprobs*}
  sse='data: {"id":"chatcmpl-bench0001","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{"role":"assistant","content":"'$content'"},"finish_reason":null}]}\n\ndata: {"id":"chatcmpl-bench0001","object":"chat.completion.chunk","created":1700000000,"model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":236,"completion_tokens":64,"total_tokens":300}}\n\ndata: [DONE]\n\n'
  cat >"$d/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_max_body_size 16m;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$UPSTREAM_PORT backlog=4096;
    location /sse/ {
      default_type text/event-stream;
      return 200 '$sse';
    }
    location / {
      default_type application/json;
      return 200 '$reply';
    }
  }
}
EOF
  nginx -t -q -p "$d" -e "$d/error.log" -c "$d/nginx.conf" 2>>"$RAW" || die "nginx config test failed (see $RAW)"
  start_bg nginx "$d/stdout.log" nginx -p "$d" -e "$d/error.log" -c "$d/nginx.conf"
  NGINX_PID=$LAST_PID
  wait_ready "mock upstream (nginx)" "$NGINX_PID" "$(chat_url "http://127.0.0.1:$UPSTREAM_PORT/v1")" bench "$UPSTREAM_KEY"
}

start_litellm() {
  cat >"$WORK/litellm.yaml" <<EOF
model_list:
  - model_name: bench
    litellm_params:
      model: openai/bench
      api_base: http://127.0.0.1:$UPSTREAM_PORT/v1
      api_key: $UPSTREAM_KEY
general_settings:
  master_key: $MASTER_KEY
litellm_settings:
  set_verbose: false
  request_timeout: 600
  telemetry: false
EOF
  # Production-doc settings that apply without a DB: LITELLM_LOG=ERROR (no access/info logs),
  # set_verbose false, num_workers = cores. Telemetry vetoed; local cost map (no network fetch).
  start_bg litellm "$WORK/litellm.log" env -u DATABASE_URL \
    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY_DISABLED=true LITELLM_LOG=ERROR \
    LITELLM_DONT_SHOW_FEEDBACK_BOX=true PYTHONUNBUFFERED=1 \
    "$VENV/bin/litellm" --config "$WORK/litellm.yaml" --host 127.0.0.1 --port "$LITELLM_PORT" \
    --num_workers "$LITELLM_WORKERS"
  LITELLM_PID=$LAST_PID
  wait_ready litellm "$LITELLM_PID" "$(chat_url "http://127.0.0.1:$LITELLM_PORT/v1")" bench "$MASTER_KEY"
}

# One wrk run. kind=warmup|measure|fixed. CPU ms/request is taken over the session(s) of cpu_pids.
run_wrk() {  # kind name url model key conns duration cpu_pids(space-separated, may be empty)
  local kind=$1 name=$2 url=$3 model=$4 key=$5 c=$6 dur=$7 cpu_pids=$8
  local t=$((c < THREADS ? c : THREADS)) out rc=0 res tool=wrk extra=() label=$c p kv cpu
  if [[ $kind == fixed ]]; then tool=wrk2; extra=(-R "$FIXED_RATE"); label="${c}@R$FIXED_RATE"; fi
  out=$WORK/$kind-$name-c$c.txt
  local sess=()
  for p in $cpu_pids; do  # our setsid'd session if we started it, else the PID (and its descendants)
    if [[ -n $(session_pids "$p") ]]; then sess+=($(session_pids "$p")); else sess+=("$p"); fi
  done
  python3 "$LIB/cpu_ms.py" snap "${sess[@]}" >"$out.cpu0"
  BENCH_MODEL=$model BENCH_KEY=$key "$tool" -t"$t" -c"$c" -d"${dur}s" "${extra[@]}" --latency --timeout 10s \
    -s "$LIB/chat.lua" "$url" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || rc=$?
  WRK_PID=
  python3 "$LIB/cpu_ms.py" snap "${sess[@]}" >"$out.cpu1"
  res=$(grep '^RESULT ' "$out" | tail -1) || true
  [[ -n $res ]] || die "$tool produced no RESULT line for $name c=$c (rc=$rc): $(tail -3 "$out")"
  local -A f=()
  for kv in ${res#RESULT }; do f[${kv%%=*}]=${kv#*=}; done
  cpu=$(python3 "$LIB/cpu_ms.py" diff "$out.cpu0" "$out.cpu1" "${f[requests]}")
  for kv in $cpu; do f[${kv%%=*}]=${kv#*=}; done
  { echo "---- $kind $name c=$c t=$t d=${dur}s url=$url (wrk rc=$rc)"; cat "$out"; echo "CPU $cpu"; } >>"$RAW"
  if [[ $kind == warmup ]]; then log "  warm-up $name c=$c: rps=${f[rps]} p50=${f[p50_ms]}ms p99=${f[p99_ms]}ms"; return 0; fi
  local errs=$((f[connect_err] + f[read_err] + f[write_err] + f[non2xx] + f[timeout_err]))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$label" "$t" "${f[requests]}" "${f[rps]}" \
    "${f[p50_ms]}" "${f[p90_ms]}" "${f[p99_ms]}" "${f[p999_ms]}" "${f[max_ms]}" "$errs" "${f[cpu_ms_per_req]}" \
    "${f[host_busy_pct]}" "${f[steal_pct]}" >>"$TSV"
  log "  $name c=$label: rps=${f[rps]} p50=${f[p50_ms]}ms p90=${f[p90_ms]}ms p99=${f[p99_ms]}ms errors=$errs" \
    "cpu/req=${f[cpu_ms_per_req]}ms host_busy=${f[host_busy_pct]}% steal=${f[steal_pct]}% per_proc_ms=${f[per_proc]}"
}

bench_target() {  # name base_url model key cpu_pids
  local name=$1 url model=$3 key=$4 cpu_pids=$5 c maxc=0
  url=$(chat_url "$2")
  for c in $CONNS; do if ((c > maxc)); then maxc=$c; fi; done
  log "== $name -> $url (warm-up ${WARMUP}s at c=$maxc, then ${DURATION}s per level: $CONNS)"
  if ((WARMUP > 0)); then run_wrk warmup "$name" "$url" "$model" "$key" "$maxc" "$WARMUP" ""; fi
  for c in $CONNS; do run_wrk measure "$name" "$url" "$model" "$key" "$c" "$DURATION" "$cpu_pids"; done
  if command -v wrk2 >/dev/null; then
    run_wrk fixed "$name" "$url" "$model" "$key" "$FIXED_CONNS" "$DURATION" "$cpu_pids"
  fi
}

# ---------------------------------------------------------------- main
: >"$RAW"
printf 'target\tconns\tthreads\trequests\trps\tp50_ms\tp90_ms\tp99_ms\tp999_ms\tmax_ms\terrors\tcpu_ms_per_req\thost_busy_pct\tsteal_pct\n' >"$TSV"
log "overhead.sh: work dir $WORK"
ensure_deps
for p in "$UPSTREAM_PORT" $([[ $SKIP_LITELLM == 1 ]] || echo "$LITELLM_PORT"); do
  if port_busy "$p"; then die "port $p on 127.0.0.1 is already in use"; fi
done
versions

start_upstream
bench_target direct "http://127.0.0.1:$UPSTREAM_PORT/v1" bench "$UPSTREAM_KEY" "$NGINX_PID"

if [[ $SKIP_LITELLM != 1 ]]; then
  start_litellm
  bench_target litellm "http://127.0.0.1:$LITELLM_PORT/v1" bench "$MASTER_KEY" "$LITELLM_PID"
  stop_session "litellm:$LITELLM_PID"   # free its CPU/memory before the next target
fi

if [[ -n $TARGET_URL ]]; then
  tpid=$TARGET_PID
  if [[ -n $TARGET_CMD ]]; then
    export BENCH_UPSTREAM_URL=http://127.0.0.1:$UPSTREAM_PORT/v1 BENCH_WORK=$WORK
    start_bg "$TARGET_NAME" "$WORK/target.log" bash -c "$TARGET_CMD"
    tpid=$LAST_PID
  fi
  wait_ready "$TARGET_NAME" "$tpid" "$(chat_url "$TARGET_URL")" "$TARGET_MODEL" "$TARGET_KEY"
  bench_target "$TARGET_NAME" "$TARGET_URL" "$TARGET_MODEL" "$TARGET_KEY" "$tpid"
  for extra in $TARGET_EXTRA; do
    wait_ready "${extra%%=*}" "$tpid" "$(chat_url "$TARGET_URL")" "$TARGET_MODEL" "${extra#*=}"
    bench_target "${extra%%=*}" "$TARGET_URL" "$TARGET_MODEL" "${extra#*=}" "$tpid"
  done
fi

command -v wrk2 >/dev/null || log "wrk2 not available: fixed-rate runs skipped"
{
  echo
  echo "== summary (latency in ms; srv CPU = CPU of the process tree under test per request)"
  python3 "$LIB/report.py" "$TSV" direct
  echo "caveat: wrk, the mock upstream and the gateway share $(nproc) cores; closed-loop wrk (no coordinated-omission correction)"
} | tee -a "$RAW"
