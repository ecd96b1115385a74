#!/usr/bin/env bash
# callrouter's one entry point on a fresh Debian 12 (or Ubuntu) machine, as root.
#   ./dev.sh test    lint, type checks and every test (unit, integration, end to end)
#   ./dev.sh demo    the demo: Asterisk + PostgreSQL + router + sipp callers, then a report
#   ./dev.sh bench   the router against app_queue on the same Asterisk (about 35 minutes)
#   ./dev.sh up|down the dev stack alone (Asterisk, PostgreSQL) for hacking
# Each installs what it needs first (Debian packages, a Python venv, the cached
# Asterisk root); repeated runs reuse all of it.
set -euo pipefail
cd "$(dirname "$0")"

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have make || need+=(make)
have debootstrap || need+=(debootstrap)
have sipp || need+=(sip-tester)
have sox || need+=(sox)
have espeak-ng || need+=(espeak-ng)
have promtool || need+=(prometheus)       # the operations tests run a real Prometheus
have chromium || need+=(chromium)         # the KPI report's HTML is opened in headless Chromium
have systemd-analyze || need+=(systemd)   # the packaging tests verify deploy/'s unit file with it
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
# The venv's Python: Debian's own /usr/bin/python3 (the one a fresh Debian 12 machine has,
# built with PGO and LTO: a simulated day runs about 15% faster on it than on an
# unoptimised build), not whichever python3 comes first in PATH (a pyenv shim, say).
# CALLROUTER_PYTHON=... picks another.
py="${CALLROUTER_PYTHON:-}"
if [ -n "$py" ]; then
  have "$py" || { echo "[dev] CALLROUTER_PYTHON=$py: no such program" >&2; exit 1; }
elif [ -x /usr/bin/python3 ] || ! have python3; then
  py=/usr/bin/python3
else
  py=python3
fi
have "$py" || need+=(python3)
if have "$py" && ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then need+=(python3-venv); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "[dev] installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "[dev] Python 3.11 or newer is required (found $("$py" -V) at $py)" >&2; exit 1; }

# The venv, rebuilt only when the locked requirements or the interpreter change.
stamp=".venv/.lock-$( { cat requirements.lock pyproject.toml; "$py" -c 'import sys; print(sys.executable, sys.version)'; } | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[dev] preparing .venv ($("$py" -V) at $py)" >&2
  rm -rf .venv
  "$py" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi

case "${1:-}" in
  test) exec make check ;;
  demo) exec make demo ;;
  bench) exec make bench ;;
  up) exec .venv/bin/python -m devstack up ;;
  down) exec .venv/bin/python -m devstack down ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
