#!/usr/bin/env bash
# Start both processes of the Procfile (web and supervisor) in the foreground.
# honcho hands each process a PORT; the web process is first, so it gets ${PORT:-6000}.
set -euo pipefail
cd "$(dirname "$0")/.."
exec honcho start -p "${PORT:-6000}" web supervisor
