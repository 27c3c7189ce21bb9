#!/usr/bin/env bash
# make bench: hailongd + hailong-sim + a real redis-server on loopback (scripts/bench.py).
# Its last line is one JSON object with the figures; BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/bench.py "$@"
