#!/usr/bin/env bash
# Runs every libFuzzer target (build-fuzz/fuzz_*) for FUZZ_SECONDS each, from
# the seeds in tests/fuzz/seeds/NAME, keeping the corpus in build-fuzz/corpus.
# Exits non-zero at the first crash (the reproducer is left in build-fuzz/).
# Arguments name the targets to run (smpp reply campaign record); none = all.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-300}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in build-fuzz/fuzz_*; do [ -x "$bin" ] && targets+=("${bin#build-fuzz/fuzz_}"); done
fi
for name in "${targets[@]}"; do
  bin=build-fuzz/fuzz_$name
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  [ -d "tests/fuzz/seeds/$name" ] && cp -n tests/fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  log=build-fuzz/$name.log
  rc=0
  "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
         -artifact_prefix=build-fuzz/"$name"- -print_final_stats=1 "$corpus" >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $rc); see $log"
    tail -40 "$log"
    exit 1
  fi
done
