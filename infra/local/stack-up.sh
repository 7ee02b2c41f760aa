#!/usr/bin/env bash
# Starts chatq's local infrastructure without Docker: Apache Kafka (KRaft, from
# Maven Central jars), PostgreSQL and Redis. Idempotent: whatever already runs is
# left alone; only what this script starts is recorded (and stopped by
# stack-down.sh). See README.md in this directory.
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_START_TIMEOUT="${CHATQ_KAFKA_START_TIMEOUT:-90}"
KAFKA_JVM_OPTS=(-Xms256m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
if [[ -n "${CHATQ_KAFKA_JVM_OPTS:-}" ]]; then
  read -r -a _extra <<<"$CHATQ_KAFKA_JVM_OPTS"
  KAFKA_JVM_OPTS+=("${_extra[@]}")
fi

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

APT_UPDATED=
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* (no apt-get); install it yourself"
  mkdir -p "$STATE_DIR"
  local log="$STATE_DIR/apt.log"
  echo "  installing $* with apt-get (log: $log)"
  if [[ -z "$APT_UPDATED" ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 9>&- \
      || { tail -n 20 "$log" >&2; die "apt-get update failed (log: $log)"; }
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$log" 2>&1 9>&- \
    || { tail -n 20 "$log" >&2; die "apt-get install $* failed (log: $log)"; }
}

# ---------------------------------------------------------------- java / maven
java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1; }

find_java() {
  local c major
  for c in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/*/bin/java; do
    [[ -n "$c" && -x "$c" ]] || continue
    major="$(java_major "$c")"
    if [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 17)); then echo "$c"; return 0; fi
  done
  return 1
}

ensure_java() {
  if ! JAVA="$(find_java)"; then
    apt_install openjdk-17-jre-headless
    JAVA="$(find_java)" || die "no Java >= 17 found even after installing openjdk-17-jre-headless"
  fi
}

ensure_maven() {
  command -v mvn >/dev/null && return 0
  apt_install maven
  command -v mvn >/dev/null || die "mvn not found even after installing maven"
}

# ---------------------------------------------------------------- kafka
fetch_kafka_jars() {
  local pom="$LOCAL_DIR/kafka/pom.xml" sum marker="$KAFKA_JARS/.complete"
  sum="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$marker" && "$(cat "$marker")" == "$sum" ]]; then
    return 0
  fi
  ensure_maven
  local t0 tmp log
  t0="$(now)"
  mkdir -p "$(dirname "$KAFKA_JARS")"
  tmp="$KAFKA_JARS.tmp.$$"
  log="$(dirname "$KAFKA_JARS")/mvn.log"
  rm -rf "$tmp"
  echo "kafka: fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_JARS"
  if ! mvn -B -q -Dstyle.color=never -f "$pom" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$log" 2>&1 9>&-; then
    rm -rf "$tmp"
    tail -n 30 "$log" >&2
    die "kafka: maven could not fetch the jars (log: $log)"
  fi
  [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka: kafka_2.13-$KAFKA_VERSION.jar missing after fetch (log: $log)"
  rm -rf "$KAFKA_JARS"
  mv "$tmp" "$KAFKA_JARS"
  echo "$sum" >"$marker"
  echo "kafka: fetched $(find "$KAFKA_JARS" -name '*.jar' | wc -l) jars in $(since "$t0")"
}

# Waits for our Kafka process to log "Kafka Server started" and answer ApiVersions.
kafka_wait_ready() {
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "---- last lines of $KAFKA_OUT:" >&2; tail -n 15 "$KAFKA_OUT" >&2 || true
      echo "---- last lines of $KAFKA_LOG:" >&2; tail -n 25 "$KAFKA_LOG" >&2 || true
      rm -f "$KAFKA_PID" "$KAFKA_MARK"
      die "kafka: process $pid exited during start-up; see $KAFKA_LOG and $KAFKA_OUT"
    fi
    if grep -q 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null && kafka_ping; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      tail -n 25 "$KAFKA_LOG" >&2 || true
      die "kafka: not ready after ${KAFKA_START_TIMEOUT}s (pid $pid still running); see $KAFKA_LOG and $KAFKA_OUT"
    fi
    sleep 0.25
  done
}

# AppCDS (JDK 17: dynamic archive). The first start records the classes it loads
# and the JVM writes the archive when Kafka exits cleanly (stack-down); later starts
# map it, which roughly halves start-up (measured 1.7 s -> 0.9 s). The archive is
# keyed on the JVM build and the jar set; a stale or broken one is ignored by the
# JVM. CHATQ_KAFKA_CDS=0 turns this off.
kafka_cds_opts() {
  [[ "${CHATQ_KAFKA_CDS:-1}" != 0 ]] || return 0
  local dir key archive
  dir="$(dirname "$KAFKA_JARS")"
  key="$( { readlink -f "$JAVA"; "$JAVA" -version 2>&1; cat "$KAFKA_JARS/.complete"; } | sha256sum | cut -c1-12)"
  archive="$dir/kafka-cds-$key.jsa"
  if [[ -s "$archive" ]]; then
    cds=(-XX:SharedArchiveFile="$archive")
  else
    rm -f "$dir"/kafka-cds-*.jsa
    cds=(-XX:ArchiveClassesAtExit="$archive")
  fi
  cds+=(-Xlog:cds=off -Xlog:cds+dynamic=off)   # dump-time warnings about old class files
}

kafka_up() {
  if ! kafka_is_local; then
    echo "kafka: KAFKA_BROKERS=$KAFKA_BROKERS is not local, not managing Kafka"
    return 0
  fi
  local pid
  if pid="$(kafka_our_pid)"; then
    kafka_wait_ready "$pid"   # returns at once unless a start is still in progress
    echo "kafka: already running (pid $pid, started by stack-up), log: $KAFKA_LOG"
    return 0
  fi
  rm -f "$KAFKA_PID" "$KAFKA_MARK"   # stale: that process is gone
  if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
    local deadline=$((SECONDS + 10))   # a broker that is still starting gets 10 s
    while :; do
      if kafka_ping; then
        echo "kafka: already running on $KAFKA_HOST:$KAFKA_PORT (not started by stack-up)"
        return 0
      fi
      ((SECONDS < deadline)) || break
      sleep 1
    done
    ss -ltnp "sport = :$KAFKA_PORT" >&2 || true
    die "kafka: something listens on $KAFKA_HOST:$KAFKA_PORT but does not answer as Kafka"
  fi
  if port_open "$KAFKA_HOST" 9093; then
    ss -ltnp "sport = :9093" >&2 || true
    die "kafka: port 9093 (KRaft controller) is taken by another process"
  fi

  local t0
  t0="$(now)"
  ensure_java
  fetch_kafka_jars
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"
  sed "s|@DATA_DIR@|$KAFKA_DATA|" "$LOCAL_DIR/kafka/server.properties" >"$KAFKA_STATE/server.properties"
  # Keep the previous run's log for post-mortems; this run's readiness is judged
  # on a fresh file.
  [[ -f "$KAFKA_LOG" ]] && mv -f "$KAFKA_LOG" "$KAFKA_LOG.previous-run"
  rm -f "$KAFKA_LOG".[0-9]

  local log4j=(-Dkafka.logs.dir="$KAFKA_LOGS" -Dlog4j.configuration="file:$LOCAL_DIR/kafka/log4j.properties")
  if ! grep -qs "^cluster.id=$KAFKA_CLUSTER_ID\$" "$KAFKA_DATA/meta.properties"; then
    "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${log4j[@]}" -cp "$KAFKA_JARS/*" \
      kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_STATE/server.properties" \
      --ignore-formatted >"$KAFKA_LOGS/format.log" 2>&1 9>&- \
      || { cat "$KAFKA_LOGS/format.log" >&2; die "kafka: formatting $KAFKA_DATA failed (try: stack-down.sh --purge)"; }
  fi

  local cds=()
  kafka_cds_opts
  rm -f "$KAFKA_PID"
  # setsid: own session, so the broker survives this shell and Ctrl-C in it.
  # The child writes its own pid, then execs (nohup, then java keep that pid).
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner bash
  setsid bash -c 'echo $$ >"$0"; exec nohup "$@"' "$KAFKA_PID" \
    "$JAVA" "${KAFKA_JVM_OPTS[@]}" ${cds[@]+"${cds[@]}"} "${log4j[@]}" -cp "$KAFKA_JARS/*" \
    kafka.Kafka "$KAFKA_STATE/server.properties" \
    >"$KAFKA_OUT" 2>&1 </dev/null 9>&- &
  for _ in $(seq 40); do [[ -s "$KAFKA_PID" ]] && break; sleep 0.05; done
  pid="$(cat "$KAFKA_PID" 2>/dev/null)" || die "kafka: launcher did not record a pid"
  date -u +%FT%TZ >"$KAFKA_MARK"
  kafka_wait_ready "$pid"
  echo "kafka: started (pid $pid) in $(since "$t0"), log: $KAFKA_LOG"
}

# ---------------------------------------------------------------- postgres
pg_ready() { command -v pg_isready >/dev/null && pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }
pg_psql() { psql -X -h "$PG_HOST" -p "$PG_PORT" -U postgres -w -v ON_ERROR_STOP=1 -qtA "$@"; }

# Debian cluster ("<version> <name>") listening on our port, if any.
pg_cluster() {
  command -v pg_lsclusters >/dev/null || return 1
  pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2; found = 1; exit } END { exit !found }'
}

pg_up() {
  if ! pg_is_local; then
    echo "postgres: DATABASE_URL=$DATABASE_URL is not local, not managing PostgreSQL"
    return 0
  fi
  if pg_ready; then
    if [[ -f "$PG_MARK" ]]; then echo "postgres: already running (started by stack-up)"
    else echo "postgres: already running"; fi
  else
    rm -f "$PG_MARK"
    local t0 cluster how
    t0="$(now)"
    if ! command -v pg_lsclusters >/dev/null || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
      apt_install postgresql   # Debian's postinst creates (and may start) cluster <ver>/main
    fi
    if ! pg_ready; then
      if ! cluster="$(pg_cluster)"; then
        local ver
        ver="$(find /usr/lib/postgresql -maxdepth 1 -mindepth 1 -printf '%f\n' | sort -n | tail -n 1)"
        as_root pg_createcluster "$ver" main --port "$PG_PORT" >/dev/null 9>&- \
          || die "postgres: pg_createcluster $ver main failed"
        cluster="$ver main"
        echo "postgres: created cluster $ver/main"
      fi
      # shellcheck disable=SC2086 # "$cluster" is "<version> <name>"
      if as_root pg_ctlcluster $cluster start 9>&-; then
        how="pg_ctlcluster $cluster stop"
      elif as_root service postgresql start 9>&-; then
        how="service postgresql stop"
      else
        die "postgres: could not start cluster $cluster (see /var/log/postgresql/)"
      fi
    else
      how="pg_ctlcluster $(pg_cluster || echo "? main") stop"
    fi
    for _ in $(seq 60); do pg_ready && break; sleep 0.5; done
    pg_ready || die "postgres: not accepting connections on $PG_HOST:$PG_PORT after 30s (see /var/log/postgresql/)"
    mkdir -p "$(dirname "$PG_MARK")"
    echo "$how" >"$PG_MARK"
    echo "postgres: started in $(since "$t0")"
  fi

  # DATABASE_URL has no password: user postgres must get in over TCP loopback.
  if ! pg_psql -d postgres -c 'select 1' >/dev/null 2>&1; then
    pg_allow_loopback_trust
  fi
  local db created=()
  for db in chatq chatq_test; do
    if [[ "$(pg_psql -d postgres -c "select 1 from pg_database where datname = '$db'")" != 1 ]]; then
      pg_psql -d postgres -c "create database $db" >/dev/null || die "postgres: could not create database $db"
      created+=("$db")
    fi
  done
  ((${#created[@]} == 0)) || echo "postgres: created database(s) ${created[*]}"
}

# Fresh Debian installs use scram-sha-256 for 127.0.0.1. For a local dev box we add
# passwordless (trust) access for user postgres from loopback only, at the top of
# pg_hba.conf, and reload. The lines are tagged so they are easy to find and remove.
pg_allow_loopback_trust() {
  local hba
  hba="$(as_postgres psql -X -p "$PG_PORT" -qtA -c 'show hba_file' 2>/dev/null)" \
    || die "postgres: cannot log in as postgres over TCP nor via the local socket; set DATABASE_URL yourself"
  if ! grep -q '# chatq stack-up' "$hba"; then
    local tmp
    tmp="$(mktemp)"
    {
      echo "# chatq stack-up: passwordless loopback access for user postgres (local dev only)"
      echo "host    all    postgres    127.0.0.1/32    trust    # chatq stack-up"
      echo "host    all    postgres    ::1/128         trust    # chatq stack-up"
      cat "$hba"
    } >"$tmp"
    as_root sh -c "cat '$tmp' > '$hba'"
    rm -f "$tmp"
  fi
  as_postgres psql -X -p "$PG_PORT" -qtA -c 'select pg_reload_conf()' >/dev/null
  echo "postgres: added loopback trust for user postgres to $hba"
  sleep 0.2
  pg_psql -d postgres -c 'select 1' >/dev/null 2>&1 \
    || die "postgres: still cannot connect as postgres to $PG_HOST:$PG_PORT without a password"
}

# ---------------------------------------------------------------- redis
redis_ping() {
  if command -v redis-cli >/dev/null; then
    [[ "$(timeout 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
  else
    # shellcheck disable=SC2016
    timeout 3 bash -c 'exec 3<>/dev/tcp/'"$REDIS_HOST/$REDIS_PORT"' && printf "PING\r\n" >&3 && [[ "$(head -c 5 <&3)" == "+PONG" ]]' 2>/dev/null
  fi
}

redis_up() {
  if ! redis_is_local; then
    echo "redis: REDIS_URL=$REDIS_URL is not local, not managing Redis"
    return 0
  fi
  if redis_ping; then
    if [[ -f "$REDIS_MARK" ]]; then echo "redis: already running (started by stack-up)"
    else echo "redis: already running"; fi
    return 0
  fi
  rm -f "$REDIS_MARK"
  if port_open "$REDIS_HOST" "$REDIS_PORT"; then
    die "redis: something listens on $REDIS_HOST:$REDIS_PORT but does not answer PING"
  fi
  local t0
  t0="$(now)"
  command -v redis-server >/dev/null || apt_install redis-server   # may start it already
  mkdir -p "$REDIS_STATE"
  if ! redis_ping; then
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save '' --appendonly no \
      --dir "$REDIS_STATE" --pidfile "$REDIS_STATE/redis.pid" --logfile "$REDIS_STATE/redis.log" \
      </dev/null 9>&- || die "redis: redis-server failed to start (log: $REDIS_STATE/redis.log)"
  fi
  for _ in $(seq 40); do redis_ping && break; sleep 0.25; done
  redis_ping || die "redis: not answering PING after 10s (log: $REDIS_STATE/redis.log)"
  date -u +%FT%TZ >"$REDIS_MARK"
  echo "redis: started in $(since "$t0")"
}

# ---------------------------------------------------------------- tools
# kcat (librdkafka's CLI): the tests produce with it as a non-kafkajs client, and people use it to look at topics.
tools_up() {
  command -v kcat >/dev/null || apt_install kcat
  command -v kcat >/dev/null || die "kcat not found even after installing it"
}

# ---------------------------------------------------------------- main
case "${1:-}" in
  "") ;;
  -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (usage: stack-up.sh)" ;;
esac

take_lock
kafka_up
pg_up
redis_up
tools_up
echo "KAFKA_BROKERS=${KAFKA_BROKERS:-$DEFAULT_KAFKA_BROKERS}"
echo "DATABASE_URL=${DATABASE_URL:-$DEFAULT_DATABASE_URL}"
echo "REDIS_URL=${REDIS_URL:-$DEFAULT_REDIS_URL}"
