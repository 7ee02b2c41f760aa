#!/usr/bin/env bash
# Stops what stack-up.sh started (and nothing else): Kafka, and PostgreSQL /
# Redis only if they were not already running when stack-up.sh ran.
#   --purge   also delete Kafka's data dir (all topics and offsets start fresh)
set -euo pipefail

# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PURGE=
for arg in "$@"; do
  case "$arg" in
    --purge) PURGE=1 ;;
    -h | --help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (usage: stack-down.sh [--purge])" ;;
  esac
done

kafka_down() {
  local pid
  if [[ ! -f "$KAFKA_MARK" ]]; then
    if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
      echo "kafka: running, but not started by stack-up; leaving it"
    else
      echo "kafka: not running"
    fi
    return 0
  fi
  if pid="$(kafka_our_pid)"; then
    local t0=$SECONDS
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((SECONDS - t0 < 30)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      local jsa
      jsa="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's/^-XX:ArchiveClassesAtExit=//p')"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      [[ -z "$jsa" ]] || rm -f "$jsa"   # possibly half-written class-data archive
      echo "kafka: did not stop within 30s of SIGTERM; killed (pid $pid)"
    else
      echo "kafka: stopped (pid $pid) in $((SECONDS - t0))s"
    fi
  else
    echo "kafka: already stopped"
  fi
  rm -f "$KAFKA_MARK" "$KAFKA_PID"
}

kafka_purge() {
  [[ -n "$PURGE" ]] || return 0
  if kafka_our_pid >/dev/null; then
    die "kafka: still running, not purging $KAFKA_DATA"
  fi
  # A broker using our config whose pid file was lost?
  local f
  for f in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF "kafka.Kafka $KAFKA_STATE/server.properties"; then
      die "kafka: a broker using $KAFKA_STATE is still running (${f//[!0-9]/}), not purging $KAFKA_DATA"
    fi
  done
  rm -rf "$KAFKA_DATA"
  echo "kafka: purged $KAFKA_DATA"
}

pg_down() {
  if [[ ! -f "$PG_MARK" ]]; then
    echo "postgres: not started by stack-up; leaving it"
    return 0
  fi
  local how
  how="$(cat "$PG_MARK")"
  # shellcheck disable=SC2086 # "$how" is a command line we wrote ourselves
  if as_root $how 9>&-; then
    echo "postgres: stopped ($how)"
  else
    echo "postgres: '$how' failed; it may already be stopped"
  fi
  rm -f "$PG_MARK"
}

redis_down() {
  if [[ ! -f "$REDIS_MARK" ]]; then
    echo "redis: not started by stack-up; leaving it"
    return 0
  fi
  if command -v redis-cli >/dev/null \
      && [[ "$(timeout 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; then
    timeout 10 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 40); do port_open "$REDIS_HOST" "$REDIS_PORT" || break; sleep 0.25; done
    if port_open "$REDIS_HOST" "$REDIS_PORT"; then
      echo "redis: still answering after 'shutdown nosave'"
    else
      echo "redis: stopped"
    fi
  else
    echo "redis: already stopped"
  fi
  rm -f "$REDIS_MARK"
}

take_lock
kafka_down
kafka_purge
pg_down
redis_down
