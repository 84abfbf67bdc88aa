#!/usr/bin/env bash
# Side-by-side benchmark: push-rs vs Nchan vs socket.io, same load generator (push-bench), same
# scenarios, everything on 127.0.0.1. Installs what is missing (apt: nginx-light +
# libnginx-mod-nchan; npm ci for the socket.io peer), builds push-server and push-bench (release),
# then for every scenario and server: start the server fresh, run push-bench, stop the server.
# Prints one table per transport with push-rs/peer ratios; JSON results stay in $RESULTS.
#
#   bench/run.sh                     # defaults below, about 20 minutes on 2 cores (estimate)
#   SCENARIOS="fanout idle" bench/run.sh
#   FANOUT_SIZES="1 1000" IDLE_SUBS=2000 SERVERS="push-rs nchan" bench/run.sh
#   SMOKE=1 bench/run.sh             # push-rs only, every transport, 1 and 100 subscribers,
#                                    # 20 messages; < 30 s after the build; exits 1 on any loss,
#                                    # duplicate, gap or error (for CI)
#
# Knobs (environment):
#   SERVERS            push-rs nchan socket.io
#   TRANSPORTS         ws sse longpoll batch
#                      ws: WebSocket (socket.io: engine.io v4 over WebSocket)
#                      sse: Server-Sent Events (push-rs, Nchan EventSource)
#                      longpoll: push-rs raw long-poll (one message per answer) vs Nchan
#                        long-poll (Last-Modified / Etag, one message per answer)
#                      batch: push-rs JSON batch (every message after the cursor per answer) vs
#                        Nchan multipart long-poll (nchan_longpoll_multipart_response raw)
#                      The first one also runs the throughput scenario; socket.io speaks
#                      WebSocket only, so it is skipped for the others.
#   SCENARIOS          fanout fanout-rate channels throughput idle durability rabbitmq restart published-channels presence
#                      presence: PRESENCE_MEMBERS subscribers, each its own consumer id, on one
#                        channel held idle, then FANOUT_MESSAGES delivered: a plain channel
#                        (push-rs) vs a presence channel (push-rs+presence); the ratio of memory
#                        per idle subscriber is what a member costs (push-rs only)
#                      durability: publish rate and latency with 1 and DURABILITY_CONCURRENCY
#                        publishing connections, push-rs in memory vs --data-dir with each
#                        --fsync policy (push-rs only; ratios are to the in-memory server)
#                      rabbitmq: publish rate and latency through one node with 1 and each of
#                        RABBITMQ_CONCURRENCY publishing connections, push-rs in memory vs on
#                        RabbitMQ (RABBITMQ_URL, a fresh stream per run, deleted after; push-rs
#                        only; ratios are to the in-memory server)
#                      restart: fill a data dir with RESTART_MESSAGES, then time a restart to
#                        ready (/_push/health 200) after SIGTERM and after SIGKILL (push-rs only)
#                      published-channels: RSS after PUBLISHED_CHANNELS distinct channels published
#                        once each, and after their history expired and they were forgotten, with
#                        the default --channel-memory-bytes and with one that holds them all
#                        (push-rs only)
#   FANOUT_SIZES       1 1000 10000   FANOUT_MESSAGES 100   PAYLOAD_BYTES 100
#   FANOUT_RATE_SUBS   10000          FANOUT_RATE 10  FANOUT_RATE_MESSAGES 100 (fanout-rate
#                                     publishes at this pace: latency with less of a backlog)
#   FANOUT_RATE_POLL   2              (the pace for longpoll and batch: one request per message
#                                     and subscriber; 10 msg/s x 10k is more than either server
#                                     answers on 2 cores, so 10 would measure a backlog)
#   CHANNELS_SUBS      10000          CHANNELS_MESSAGES 10000   CHANNELS_PUB_CONCURRENCY 8
#   THROUGHPUT_MESSAGES 20000         THROUGHPUT_CONCURRENCY 32
#   IDLE_SUBS          10000          IDLE_HOLD_SECS 5
#   PRESENCE_MEMBERS   10000
#   DURABILITY_MESSAGES 5000 (1 connection; x4 with more)   DURABILITY_CONCURRENCY 32
#   RABBITMQ_MESSAGES  5000 (1 connection; x4 with more)   RABBITMQ_CONCURRENCY "16 64"
#   RABBITMQ_URL       amqp://guest:guest@127.0.0.1:5672/%2f
#   RESTART_MESSAGES   1000000
#   PUBLISHED_CHANNELS 1000000
#   CONNECT_CONCURRENCY 100           (connection attempts in flight; push-server listens
#                                     with a backlog of 4096, capped by net.core.somaxconn)
#   SETTLE_MS          1000           (wait after all subscribers are ready, before publishing)
#   DELIVER_TIMEOUT_SECS 120          (longest wait for deliveries after the last publish; a run
#                                     also ends after 5 s without any delivery. Long-poll at 10k
#                                     subscribers needs over a minute for 1M deliveries here)
#   PUSH_PORT 4710  NCHAN_PORT 4711  SOCKETIO_PORT 4712
#   RESULTS            target/bench-results/<date>
#   PUSH_SERVER_BIN    the push-server to measure (default: the one built here)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$CARGO_TARGET_DIR/release"
# PUSH_SERVER_BIN: another push-server binary to measure (e.g. an older build, for before/after).
SERVER_BIN=${PUSH_SERVER_BIN:-$BIN/push-server}

SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  # Quick correctness run of every push-rs transport; any figure can still be overridden.
  SERVERS=${SERVERS:-push-rs}
  TRANSPORTS=${TRANSPORTS:-"ws sse longpoll batch"}
  SCENARIOS=${SCENARIOS:-fanout}
  FANOUT_SIZES=${FANOUT_SIZES:-"1 100"}
  FANOUT_MESSAGES=${FANOUT_MESSAGES:-20}
  SETTLE_MS=${SETTLE_MS:-200}
fi
SERVERS=${SERVERS:-"push-rs nchan socket.io"}
TRANSPORTS=${TRANSPORTS:-"ws sse longpoll batch"}
SCENARIOS=${SCENARIOS:-"fanout fanout-rate channels throughput idle durability rabbitmq restart published-channels presence"}
FANOUT_SIZES=${FANOUT_SIZES:-"1 1000 10000"}
FANOUT_MESSAGES=${FANOUT_MESSAGES:-100}
PAYLOAD_BYTES=${PAYLOAD_BYTES:-100}
FANOUT_RATE_SUBS=${FANOUT_RATE_SUBS:-10000}
FANOUT_RATE=${FANOUT_RATE:-10}
FANOUT_RATE_POLL=${FANOUT_RATE_POLL:-2}
FANOUT_RATE_MESSAGES=${FANOUT_RATE_MESSAGES:-100}
CHANNELS_SUBS=${CHANNELS_SUBS:-10000}
CHANNELS_MESSAGES=${CHANNELS_MESSAGES:-10000}
CHANNELS_PUB_CONCURRENCY=${CHANNELS_PUB_CONCURRENCY:-8}
THROUGHPUT_MESSAGES=${THROUGHPUT_MESSAGES:-20000}
THROUGHPUT_CONCURRENCY=${THROUGHPUT_CONCURRENCY:-32}
IDLE_SUBS=${IDLE_SUBS:-10000}
IDLE_HOLD_SECS=${IDLE_HOLD_SECS:-5}
PRESENCE_MEMBERS=${PRESENCE_MEMBERS:-10000}
DURABILITY_MESSAGES=${DURABILITY_MESSAGES:-5000}
DURABILITY_CONCURRENCY=${DURABILITY_CONCURRENCY:-32}
RABBITMQ_MESSAGES=${RABBITMQ_MESSAGES:-5000}
RABBITMQ_CONCURRENCY=${RABBITMQ_CONCURRENCY:-"16 64"}
RABBITMQ_URL=${RABBITMQ_URL:-"amqp://guest:guest@127.0.0.1:5672/%2f"}
RESTART_MESSAGES=${RESTART_MESSAGES:-1000000}
PUBLISHED_CHANNELS=${PUBLISHED_CHANNELS:-1000000}
CONNECT_CONCURRENCY=${CONNECT_CONCURRENCY:-100}
SETTLE_MS=${SETTLE_MS:-1000}
DELIVER_TIMEOUT_SECS=${DELIVER_TIMEOUT_SECS:-120}
PUSH_PORT=${PUSH_PORT:-4710}
NCHAN_PORT=${NCHAN_PORT:-4711}
SOCKETIO_PORT=${SOCKETIO_PORT:-4712}
RESULTS=${RESULTS:-$CARGO_TARGET_DIR/bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"

say() { printf '\n=== %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- install / build ----------------------------------------------------------------------
if [[ " $SERVERS " == *" nchan "* ]]; then
  say "apt-get install nginx-light libnginx-mod-nchan"
  scripts/apt-install nginx-light libnginx-mod-nchan
fi
if [[ " $SERVERS " == *" socket.io "* ]] && [ ! -d bench/peers/socketio/node_modules/socket.io ]; then
  say "npm ci (socket.io peer)"
  (cd bench/peers/socketio && npm ci --no-audit --no-fund >&2)
fi
say "build push-server and push-bench (release)"
cargo build --release -p push-server -p push-bench >&2

# Both sides may hold 10k+ sockets: raise the soft fd limit (hard is 20,000 here). push-bench
# raises its own too.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 10100 ]; then
  echo "bench/run.sh: open-files limit $(ulimit -n) is too low for 10k connections; sizes above ~$(( $(ulimit -n) - 100 )) will fail" >&2
fi

# --- servers ------------------------------------------------------------------------------
SERVER_PID=
NGINX_DIR=
BENCH_STREAM=
port_of() { case $1 in push-rs|push-rs+*) echo "$PUSH_PORT";; nchan) echo "$NCHAN_PORT";; socket.io) echo "$SOCKETIO_PORT";; esac; }

wait_port() { # bounded: 100 x 0.1 s
  local port=$1 i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_server() {
  local name=$1 port
  port=$(port_of "$name")
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    local var; case $name in push-rs*) var=PUSH_PORT;; nchan) var=NCHAN_PORT;; *) var=SOCKETIO_PORT;; esac
    echo "bench/run.sh: port $port is already in use; set $var" >&2; exit 1
  fi
  case $name in
    push-rs|push-rs+disk-*|push-rs+rabbitmq|push-rs+presence)
      # push-rs+disk-POLICY: the embedded broker on a fresh data dir with --fsync POLICY;
      # push-rs+rabbitmq: a node on RabbitMQ, on a stream of its own (deleted by stop_server).
      local engine=()
      if [[ $name == push-rs+disk-* ]]; then
        rm -rf "$RESULTS/data"
        engine=(--data-dir "$RESULTS/data" --fsync "${name#push-rs+disk-}")
      elif [ "$name" = push-rs+rabbitmq ]; then
        BENCH_STREAM="push.bench.$$.$RANDOM"
        engine=(--broker "$RABBITMQ_URL" --stream-name "$BENCH_STREAM")
      fi
      "$SERVER_BIN" --bind "127.0.0.1:$port" --max-connections 30000 --log warn "${engine[@]}" \
        >>"$RESULTS/push-server.log" 2>&1 &
      SERVER_PID=$! ;;
    nchan)
      NGINX_DIR=$(mktemp -d /tmp/push-bench-nchan.XXXXXX)
      mkdir -p "$NGINX_DIR/tmp"
      sed "s/127\.0\.0\.1:4001/127.0.0.1:$port/" bench/peers/nchan.conf >"$NGINX_DIR/nchan.conf"
      nginx -p "$NGINX_DIR" -c "$NGINX_DIR/nchan.conf" >"$RESULTS/nginx.log" 2>&1 &
      SERVER_PID=$! ;;
    socket.io)
      (cd bench/peers/socketio && exec env PORT="$port" node server.js) >"$RESULTS/socketio.log" 2>&1 &
      SERVER_PID=$! ;;
  esac
  wait_port "$port" || { echo "bench/run.sh: $name did not start (see $RESULTS)" >&2; cat "$RESULTS"/*.log >&2; [ -n "$NGINX_DIR" ] && cat "$NGINX_DIR/error.log" >&2; exit 1; }
  sleep 0.3
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  if [ -n "$NGINX_DIR" ]; then rm -rf "$NGINX_DIR"; NGINX_DIR=; fi
  if [ -n "$BENCH_STREAM" ]; then
    rabbitmqctl delete_queue "$BENCH_STREAM" >/dev/null 2>&1 || echo "bench/run.sh: could not delete stream $BENCH_STREAM" >&2
    BENCH_STREAM=
  fi
}
trap stop_server EXIT

# --- scenarios ----------------------------------------------------------------------------
# bench NAME SERVER TRANSPORT OUTDIR ARGS...: fresh server, one push-bench run, stop.
# TRANSPORT is the table's (ws sse longpoll batch); each server speaks its own form of it.
# Polling subscribers are confirmed on the server before anything is published: push-rs's
# push_connections gauge for the transport, Nchan's nchan_stub_status "subscribers:" line.
FAILED=0
bench() {
  local scenario=$1 name=$2 transport=$3 out=$4; shift 4
  local port sub pub http extra=()
  port=$(port_of "$name")
  http="http://127.0.0.1:$port"
  case $name in
    push-rs|push-rs+*)
      # push-rs+presence: the same server, on a presence channel (--presence-prefix /presence-).
      local path=bench
      [ "$name" = push-rs+presence ] && path=presence-bench
      pub="$http/$path/{channel}"
      sub="$http/$path/{channel}"
      # The presence scenario gives each subscriber a consumer id of its own, on both variants.
      local query=""
      [[ $scenario == idle-presence-* ]] && query="?consumer=member-{subscriber}"
      sub="$sub$query"
      case $transport in
        ws) sub="ws://127.0.0.1:$port/$path/{channel}$query"; extra=(--ws-wait-first-frame) ;;
        longpoll) extra=(--ready-gauge-url "$http/_push/metrics" --ready-gauge 'push_connections{transport="long-poll"}') ;;
        batch) extra=(--ready-gauge-url "$http/_push/metrics" --ready-gauge 'push_connections{transport="json"}') ;;
      esac ;;
    nchan)
      pub="$http/pub/{channel}"
      sub="$http/sub/{channel}"
      case $transport in
        ws) sub="ws://127.0.0.1:$port/sub/{channel}" ;;
        longpoll) transport=nchan-longpoll; extra=(--ready-gauge-url "$http/nchan_status" --ready-gauge 'subscribers:') ;;
        batch) transport=nchan-longpoll; sub="$http/sub-multi/{channel}"
               extra=(--ready-gauge-url "$http/nchan_status" --ready-gauge 'subscribers:') ;;
      esac ;;
    socket.io)
      pub="$http/publish/{channel}"
      sub="ws://127.0.0.1:$port/socket.io/?EIO=4&transport=websocket"
      transport=socketio ;;
  esac
  start_server "$name"
  if ! "$BIN/push-bench" run --server "$name" --scenario "$scenario" --transport "$transport" \
    --sub-url "$sub" --pub-url "$pub" --server-pid "$SERVER_PID" --payload-bytes "$PAYLOAD_BYTES" \
    --connect-concurrency "$CONNECT_CONCURRENCY" --settle-ms "$SETTLE_MS" \
    --deliver-timeout-secs "$DELIVER_TIMEOUT_SECS" \
    --out "$out/$scenario.$name.json" "${extra[@]}" "$@"; then
    echo "bench/run.sh: push-bench failed for $name / $scenario" >&2
    FAILED=1
  fi
  stop_server
}

# restart_to_ready: fill a data dir with RESTART_MESSAGES (fsync interval, 32 publishers), then
# time push-server from spawn to /_push/health 200 after a SIGTERM and after a SIGKILL.
READY_MS=
ready_ms() { # spawn push-server on the data dir; READY_MS = ms until /_push/health answers 200
  local t0 i
  t0=$(date +%s%N)
  "$SERVER_BIN" --bind "127.0.0.1:$PUSH_PORT" --log warn --data-dir "$RESULTS/data" >>"$RESULTS/push-server.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 6000); do
    if curl -fs -o /dev/null "http://127.0.0.1:$PUSH_PORT/_push/health"; then break; fi
    sleep 0.01
  done
  READY_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
restart_to_ready() {
  rm -rf "$RESULTS/data"
  say "restart: filling a data dir with $RESTART_MESSAGES messages"
  "$SERVER_BIN" --bind "127.0.0.1:$PUSH_PORT" --log warn --data-dir "$RESULTS/data" --fsync interval \
    >>"$RESULTS/push-server.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$PUSH_PORT"
  "$BIN/push-bench" run --server push-rs+disk-interval --scenario "fill-$RESTART_MESSAGES" --transport sse \
    --sub-url "http://127.0.0.1:$PUSH_PORT/bench/{channel}" --pub-url "http://127.0.0.1:$PUSH_PORT/bench/{channel}" \
    --subscribers 0 --channels 100 --messages "$RESTART_MESSAGES" --pub-concurrency 32 \
    --payload-bytes "$PAYLOAD_BYTES" --publish-timeout-secs 600 --out "$RESULTS/fill.json" >&2 || FAILED=1
  stop_server
  local size term kill
  size=$(du -sm "$RESULTS/data" | cut -f1)
  ready_ms; term=$READY_MS
  kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
  ready_ms; kill=$READY_MS
  stop_server
  echo "restart with $RESTART_MESSAGES messages in the data dir ($size MB): ready after SIGTERM in $term ms, after SIGKILL in $kill ms" \
    | tee "$RESULTS/restart.txt" >&2
  rm -rf "$RESULTS/data"
}

# published_channels_memory [FLAGS...]: a fresh push-server whose history expires after 5 s and
# whose empty channels are forgotten 5 s later; RSS before, after PUBLISHED_CHANNELS channels
# got one message each (32 publishers), and once push_channels is back to 0.
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status"; }
metric_of() { curl -fs "http://127.0.0.1:$PUSH_PORT/_push/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
published_channels_memory() {
  local label=$1 i before published used shed after; shift
  "$SERVER_BIN" --bind "127.0.0.1:$PUSH_PORT" --log warn --history-age 5s --forget-channels-after 5s "$@" \
    >>"$RESULTS/push-server.log" 2>&1 &
  SERVER_PID=$!
  wait_port "$PUSH_PORT"
  before=$(rss_mib)
  "$BIN/push-bench" run --server push-rs --scenario "published-$PUBLISHED_CHANNELS" --transport sse \
    --sub-url "http://127.0.0.1:$PUSH_PORT/bench/{channel}" --pub-url "http://127.0.0.1:$PUSH_PORT/bench/{channel}" \
    --subscribers 0 --channels "$PUBLISHED_CHANNELS" --messages "$PUBLISHED_CHANNELS" --pub-concurrency 32 \
    --payload-bytes "$PAYLOAD_BYTES" --publish-timeout-secs 600 --out "$RESULTS/published-channels-$label.json" >&2 || FAILED=1
  published=$(rss_mib); used=$(metric_of push_channel_memory_bytes); shed=$(metric_of push_channels_shed_total)
  for i in $(seq 1 120); do [ "$(metric_of push_channels)" = 0 ] && break; sleep 0.5; done
  after=$(rss_mib)
  stop_server
  printf '%s: %s channels published once (%s-byte payloads): RSS %s MiB before, %s MiB after publishing (push_channel_memory_bytes %s, %s channels let go for memory), %s MiB once they aged out (push_channels %s)\n' \
    "$label" "$PUBLISHED_CHANNELS" "$PAYLOAD_BYTES" "$before" "$published" "$used" "$shed" "$after" "$(if [ "$i" = 120 ]; then echo "not 0 after 60 s"; else echo 0; fi)" \
    | tee -a "$RESULTS/published-channels.txt" >&2
}

first=1
for transport in $TRANSPORTS; do
  out="$RESULTS/$transport"; mkdir -p "$out"
  for name in $SERVERS; do
    if [ "$name" = socket.io ] && [ "$transport" != ws ]; then continue; fi
    say "$name over $transport"
    for scenario in $SCENARIOS; do
      case $scenario in
        fanout)
          for n in $FANOUT_SIZES; do
            bench "fanout-$n" "$name" "$transport" "$out" --subscribers "$n" --channels 1 \
              --messages "$FANOUT_MESSAGES" --pub-concurrency 1
          done ;;
        fanout-rate)
          rate=$FANOUT_RATE
          case $transport in longpoll|batch) rate=$FANOUT_RATE_POLL ;; esac
          bench "fanout-$FANOUT_RATE_SUBS-at-${rate}per-s" "$name" "$transport" "$out" \
            --subscribers "$FANOUT_RATE_SUBS" --channels 1 --messages "$FANOUT_RATE_MESSAGES" \
            --pub-concurrency 4 --rate "$rate" ;;
        channels)
          bench "channels-$CHANNELS_SUBS" "$name" "$transport" "$out" --subscribers "$CHANNELS_SUBS" \
            --channels "$CHANNELS_SUBS" --messages "$CHANNELS_MESSAGES" \
            --pub-concurrency "$CHANNELS_PUB_CONCURRENCY" ;;
        throughput)
          [ $first = 1 ] || continue
          bench "publish-0-subs" "$name" "$transport" "$out" --subscribers 0 --channels 1 \
            --messages "$THROUGHPUT_MESSAGES" --pub-concurrency "$THROUGHPUT_CONCURRENCY"
          bench "publish-1-sub" "$name" "$transport" "$out" --subscribers 1 --channels 1 \
            --messages "$THROUGHPUT_MESSAGES" --pub-concurrency "$THROUGHPUT_CONCURRENCY" ;;
        idle)
          bench "idle-$IDLE_SUBS" "$name" "$transport" "$out" --subscribers "$IDLE_SUBS" \
            --channels "$IDLE_SUBS" --messages 0 --hold-secs "$IDLE_HOLD_SECS" ;;
        presence)
          [ $first = 1 ] && [ "$name" = push-rs ] || continue
          for variant in push-rs push-rs+presence; do
            bench "idle-presence-$PRESENCE_MEMBERS" "$variant" "$transport" "$out" --subscribers "$PRESENCE_MEMBERS" \
              --channels 1 --messages "$FANOUT_MESSAGES" --hold-secs "$IDLE_HOLD_SECS"
          done ;;
        durability)
          [ $first = 1 ] && [ "$name" = push-rs ] || continue
          for variant in push-rs push-rs+disk-always push-rs+disk-interval push-rs+disk-never; do
            bench "durable-publish-1-conn" "$variant" "$transport" "$out" --subscribers 1 --channels 1 \
              --messages "$DURABILITY_MESSAGES" --pub-concurrency 1
            bench "durable-publish-$DURABILITY_CONCURRENCY-conns" "$variant" "$transport" "$out" --subscribers 1 \
              --channels 1 --messages $((DURABILITY_MESSAGES * 4)) --pub-concurrency "$DURABILITY_CONCURRENCY"
          done ;;
        rabbitmq)
          [ $first = 1 ] && [ "$name" = push-rs ] || continue
          for variant in push-rs push-rs+rabbitmq; do
            bench "rabbitmq-publish-1-conn" "$variant" "$transport" "$out" --subscribers 1 --channels 1 \
              --messages "$RABBITMQ_MESSAGES" --pub-concurrency 1
            for c in $RABBITMQ_CONCURRENCY; do
              bench "rabbitmq-publish-$c-conns" "$variant" "$transport" "$out" --subscribers 1 --channels 1 \
                --messages $((RABBITMQ_MESSAGES * 4)) --pub-concurrency "$c"
            done
          done ;;
        restart)
          [ $first = 1 ] && [ "$name" = push-rs ] || continue
          restart_to_ready ;;
        published-channels)
          [ $first = 1 ] && [ "$name" = push-rs ] || continue
          say "published-channels: $PUBLISHED_CHANNELS channels published once"
          published_channels_memory "default --channel-memory-bytes (256 MiB)"
          published_channels_memory "--channel-memory-bytes 4 GiB (holds them all)" --channel-memory-bytes $((4 << 30)) ;;
        *) echo "bench/run.sh: unknown scenario $scenario" >&2; exit 2 ;;
      esac
    done
  done
  first=0
done

# --- table --------------------------------------------------------------------------------
{
  echo "machine: $(nproc) cores, $(free -m | awk '/^Mem:/ {print $2}') MiB; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  for transport in $TRANSPORTS; do
    echo
    case $transport in
      ws) echo "## subscribers over WebSocket (ws)" ;;
      sse) echo "## subscribers over SSE (sse)" ;;
      longpoll) echo "## subscribers over long-poll, one message per answer (longpoll: push-rs raw long-poll, Nchan long-poll)" ;;
      batch) echo "## subscribers over batch long-poll (batch: push-rs JSON batch, Nchan multipart long-poll)" ;;
      *) echo "## subscribers over $transport" ;;
    esac
    echo
    # shellcheck disable=SC2046
    "$BIN/push-bench" table $(ls "$RESULTS/$transport"/*.json 2>/dev/null | sort -V)
  done
  if [ -f "$RESULTS/restart.txt" ]; then echo; cat "$RESULTS/restart.txt"; fi
  if [ -f "$RESULTS/published-channels.txt" ]; then echo; cat "$RESULTS/published-channels.txt"; fi
} | tee "$RESULTS/table.md"
echo "results: $RESULTS" >&2

if [ "$SMOKE" = 1 ]; then
  say "smoke check: every message delivered exactly once"
  # shellcheck disable=SC2046
  if [ "$FAILED" = 0 ] && "$BIN/push-bench" check $(ls "$RESULTS"/*/*.json | sort -V); then
    echo "smoke: ok" >&2
  else
    echo "smoke: FAILED (a run failed, or lost / duplicated / gaps / errors above)" >&2
    exit 1
  fi
fi
