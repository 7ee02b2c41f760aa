# Shared settings and helpers for stack-up.sh / stack-down.sh. Sourced, not run.
# shellcheck shell=bash disable=SC2034  # variables are used by the sourcing scripts

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

KAFKA_VERSION=3.9.1
# Fixed cluster id (base64url of the 16 bytes "chatq-local-kraf").
KAFKA_CLUSTER_ID=Y2hhdHEtbG9jYWwta3JhZg
KAFKA_HOST=127.0.0.1
KAFKA_PORT=9092
PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

DEFAULT_KAFKA_BROKERS="$KAFKA_HOST:$KAFKA_PORT"
DEFAULT_DATABASE_URL="postgres://postgres@$PG_HOST:$PG_PORT/chatq"
DEFAULT_REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT"

CACHE_DIR="${CHATQ_CACHE_DIR:-$HOME/.cache/chatq}"
STATE_DIR="${CHATQ_STATE_DIR:-$HOME/.local/state/chatq}"

KAFKA_JARS="$CACHE_DIR/kafka-$KAFKA_VERSION/jars"
KAFKA_STATE="$STATE_DIR/kafka"
KAFKA_DATA="$KAFKA_STATE/data"
KAFKA_LOGS="$KAFKA_STATE/logs"
KAFKA_LOG="$KAFKA_LOGS/server.log"
KAFKA_OUT="$KAFKA_LOGS/kafka.out"          # JVM stdout/stderr (crashes land here)
KAFKA_PID="$KAFKA_STATE/kafka.pid"
KAFKA_MARK="$KAFKA_STATE/started-by-stack-up"
PG_MARK="$STATE_DIR/postgres/started-by-stack-up"   # content: how to stop it
REDIS_STATE="$STATE_DIR/redis"
REDIS_MARK="$REDIS_STATE/started-by-stack-up"

die() { echo "error: $*" >&2; exit 1; }

# A component is managed only when its env var is unset or names the local default
# endpoint (any database name / redis db index on the same host:port still counts).
kafka_is_local() {
  case "${KAFKA_BROKERS:-$DEFAULT_KAFKA_BROKERS}" in
    "127.0.0.1:$KAFKA_PORT" | "localhost:$KAFKA_PORT") return 0 ;;
    *) return 1 ;;
  esac
}
url_is_local() { # url scheme default_port
  local rest="${1#*://}"
  rest="${rest#*@}"           # drop user[:password]@
  rest="${rest%%[/?]*}"       # drop /db and ?query
  local host="${rest%%:*}" port="${rest##*:}"
  [[ "$rest" == *:* ]] || port="$3"
  [[ "$1" == "$2"://* || "$1" == "$2"ql://* ]] || return 1   # postgres:// or postgresql://
  [[ ( "$host" == 127.0.0.1 || "$host" == localhost ) && "$port" == "$3" ]]
}
pg_is_local() { url_is_local "${DATABASE_URL:-$DEFAULT_DATABASE_URL}" postgres "$PG_PORT"; }
redis_is_local() { url_is_local "${REDIS_URL:-$DEFAULT_REDIS_URL}" redis "$REDIS_PORT"; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# Sends a Kafka ApiVersions v0 request and checks the reply carries our correlation
# id and error_code 0: proves a Kafka broker (not just any process) serves the port.
kafka_ping() {
  # shellcheck disable=SC2016 # the inner script is expanded by the inner bash
  timeout 2 bash -c '
    exec 3<>/dev/tcp/'"$KAFKA_HOST/$KAFKA_PORT"' || exit 1
    # size=14 | api_key=18 | api_version=0 | correlation_id=7 | client_id="chtq"
    printf "\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x07\x00\x04chtq" >&3
    reply=$(head -c 10 <&3 | od -An -tx1 | tr -d " \n")
    [[ "${reply:8:12}" == 000000070000 ]]' 2>/dev/null
}

# Pid of the Kafka we started, if that process is still alive and still Kafka.
kafka_our_pid() {
  local pid
  [[ -f "$KAFKA_PID" ]] || return 1
  pid="$(cat "$KAFKA_PID" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka ' || return 1
  echo "$pid"
}

# Serialise concurrent stack-up/stack-down runs. Children we spawn must not inherit
# fd 9 (a daemon holding it would block every later run): spawn them with 9>&-.
take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/stack.lock"
  flock -w 180 9 || die "another stack-up/stack-down holds $STATE_DIR/stack.lock"
}

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root for: $* (no sudo available)"
  fi
}

as_postgres() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"
  else sudo -u postgres "$@"
  fi
}
