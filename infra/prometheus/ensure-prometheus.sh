#!/usr/bin/env bash
# Makes `promtool` and `prometheus` available for chatq's observability checks
# (test/observability-files.test.ts). Idempotent: does nothing when both are on PATH.
# Installs the Debian package `prometheus` (promtool + server binary) otherwise. Only the
# binaries are wanted: if the package started its own daemon, it is stopped and disabled.
set -euo pipefail

if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0
fi

die() { echo "error: $*" >&2; exit 1; }
command -v apt-get >/dev/null \
  || die "promtool not found and no apt-get here: install Prometheus (promtool) yourself, e.g. from https://prometheus.io/download/"

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo -n "$@"
  else die "installing prometheus needs root (or passwordless sudo)"
  fi
}

log="${TMPDIR:-/tmp}/chatq-ensure-prometheus.log"
# Serialize: test runs on a fresh machine may call this concurrently, and apt allows one at a time.
exec 9>"${TMPDIR:-/tmp}/chatq-ensure-prometheus.lock"
flock 9
if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
  exit 0 # installed by whoever held the lock before us
fi

echo "installing prometheus (promtool) with apt-get (log: $log)" >&2
{
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
} >>"$log" 2>&1 9>&- || { tail -n 20 "$log" >&2; die "apt-get install prometheus failed (log: $log)"; }

# On a host with systemd the package starts a server on :9090; chatq only needs the binaries.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  as_root systemctl disable --now prometheus >>"$log" 2>&1 || echo "warning: could not stop the prometheus service" >&2
fi

command -v promtool >/dev/null || die "apt-get installed prometheus but promtool is not on PATH"
promtool --version 2>&1 | head -n 1 >&2
