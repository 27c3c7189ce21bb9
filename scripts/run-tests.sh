#!/usr/bin/env bash
# Runs every test: the cmocka unit programs (plain and under ASan+UBSan), then
# the end-to-end tests. Ends with "N passed, N failed"; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0
failures=()
log_dir=build/test-logs
mkdir -p "$log_dir"
rm -f "$log_dir"/*.rc

run_unit() { # $1 = program, $2 = label
  "$1" >"$log_dir/$2.log" 2>&1
  echo $? >"$log_dir/$2.rc"
  tally_unit "$2"
}

tally_unit() { # $1 = label: its log and exit status, written by run_unit or run_units_2
  local out="$log_dir/$1.log"
  local rc
  rc=$(cat "$log_dir/$1.rc" 2>/dev/null || echo 1)
  local p f
  p=$(grep -aoE '^\[  PASSED  \] [0-9]+' "$out" | awk '{s+=$4} END {print s+0}')
  f=$(grep -aoE '^\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or sanitizer report
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -ne 0 ]; then failures+=("$1 (see $out)"); echo "FAIL $1"; grep -a -E 'FAILED|ERROR|error|Sanitizer' "$out" | head -20; else echo "ok   $1 ($p)"; fi
}

# Unit programs two at a time (the slowest first: they mostly wait on
# timers), then their results in order. $1 = label prefix, then programs.
run_units_2() {
  local pre=$1 t
  shift
  for t in "$@"; do echo "$t"; done |
    xargs -P2 -I{} sh -c 'b=$(basename "$1"); "$1" >"$2/$3$b.log" 2>&1; echo $? >"$2/$3$b.rc"' _ {} "$log_dir" "$pre"
  for t in "$@"; do tally_unit "$pre$(basename "$t")"; done
}

# The sanitizer and fuzzing builds (two jobs) go on while the plain unit
# tests run: those mostly wait on timers and sockets. Each build's status is
# read where its tests begin.
san_units=$(for t in build/bin/tests/test_*; do echo "build-san/bin/tests/$(basename "$t")"; done)
(
  make -j2 --no-print-directory -s SANITIZE=1 $san_units >"$log_dir/build-san.log" 2>&1
  echo $? >"$log_dir/build-san.rc"
  make -j2 --no-print-directory -s SANITIZE=1 build-san/bin/hailongd build-san/bin/hailong-sim build-san/bin/hailong \
    >"$log_dir/build-san-bin.log" 2>&1
  echo $? >"$log_dir/build-san-bin.rc"
  make -j2 --no-print-directory -s fuzz-build >"$log_dir/build-fuzz.log" 2>&1
  echo $? >"$log_dir/build-fuzz.rc"
) &
builds=$!

echo "== unit tests"
for t in build/bin/tests/test_*; do run_unit "$t" "$(basename "$t")"; done

wait "$builds"
built() { [ "$(cat "$log_dir/$1.rc" 2>/dev/null)" = 0 ]; }

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
if built build-san; then
  ASAN_OPTIONS=detect_leaks=1 run_units_2 san- build-san/bin/tests/test_esme build-san/bin/tests/test_store \
    $(ls build-san/bin/tests/test_* | grep -v -e '/test_esme$' -e '/test_store$')
else
  failed=$((failed + 1)); failures+=("sanitizer build (see $log_dir/build-san.log)"); echo "FAIL sanitizer build"
fi

run_e2e() { # $1 = label, then the command (environment first, if any)
  local name=$1 start out
  shift
  out="$log_dir/$name.log"
  start=$(date +%s)
  if env "$@" >"$out" 2>&1; then
    passed=$((passed + 1)); echo "ok   $name ($(( $(date +%s) - start ))s)"
  else
    failed=$((failed + 1)); failures+=("$name (see $out)")
    echo "FAIL $name"; tail -30 "$out"
  fi
}

# A test run in the background: $log_dir/$2.rc holds "status seconds", $2.log
# its output. $1 = label, $3 = said after the seconds.
tally_bg() {
  local rc secs
  read -r rc secs <"$log_dir/$2.rc" || rc=1
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1)); echo "ok   $1 (${secs}s${3-})"
  else
    failed=$((failed + 1)); failures+=("$1 (see $log_dir/$2.log)")
    echo "FAIL $1"; tail -30 "$log_dir/$2.log"
  fi
}

# Tests that mostly wait (on a Redis whose every reply is held, to check
# that the loop does not wait with it; on the simulator's timers) run in a
# lane of their own beside the others: the two lanes pick different ports
# (harness.free_port, E2E_PORT_LANE).
side_lane="test_repair_async_e2e.py test_reload_async_e2e.py test_lease_async_e2e.py test_archive_bad_e2e.py test_api_async_e2e.py test_lease_slow_e2e.py test_sim_smpp_conformance.py test_esme_raw_e2e.py test_ussd_timeout_e2e.py test_drain_e2e.py test_report_inspect_e2e.py"
(
  for name in $side_lane; do
    s=$(date +%s)
    E2E_PORT_LANE=1 timeout 300 "tests/e2e/$name" >"$log_dir/$name.log" 2>&1
    echo "$? $(( $(date +%s) - s ))" >"$log_dir/$name.rc"
  done
) &
side=$!

echo "== end-to-end tests"
for t in tests/e2e/test_*; do
  case " $side_lane " in *" $(basename "$t") "*) continue ;; esac
  [ -x "$t" ] && run_e2e "$(basename "$t")" E2E_PORT_LANE=0 timeout 300 "$t"
done
wait "$side"
for name in $side_lane; do tally_bg "$name" "$name" ", beside the others"; done

echo "== end-to-end tests with the binaries under AddressSanitizer + UndefinedBehaviorSanitizer"
if built build-san-bin; then
  for t in tests/e2e/test_survey_e2e.py tests/e2e/test_lifecycle_e2e.py tests/e2e/test_sim_behaviour.py \
           tests/e2e/test_mo_parts_e2e.py tests/e2e/test_audit_e2e.py; do
    run_e2e "san-$(basename "$t")" HAILONG_BIN=build-san/bin ASAN_OPTIONS=detect_leaks=1 E2E_CITIZENS=60 \
      timeout 300 "$t"
  done
  # requests left waiting for Redis by their clients, and by a stop
  run_e2e "san-test_api_async_e2e.py" HAILONG_BIN=build-san/bin ASAN_OPTIONS=detect_leaks=1 \
    timeout 300 tests/e2e/test_api_async_e2e.py
else
  failed=$((failed + 1)); failures+=("sanitizer build of the binaries (see $log_dir/build-san-bin.log)"); echo "FAIL sanitizer binaries"
fi

echo "== fuzzing, a few seconds per target (make fuzz runs them for longer)"
if built build-fuzz; then
  # two targets at a time (each fuzzer is one process on one core)
  names=$(for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); echo "${n#fuzz_}"; done)
  echo "$names" | xargs -P2 -I{} sh -c 's=$(date +%s); FUZZ_SECONDS="$2" scripts/fuzz.sh "$1" >"$3/fuzz-$1.log" 2>&1;
    echo "$? $(( $(date +%s) - s ))" >"$3/fuzz-$1.rc"' _ {} "${FUZZ_SECONDS:-5}" "$log_dir"
  for name in $names; do tally_bg "fuzz-$name" "fuzz-$name"; done
else
  failed=$((failed + 1)); failures+=("fuzz build (see $log_dir/build-fuzz.log)"); echo "FAIL fuzz build"
fi

if ((${#failures[@]})); then printf 'failed: %s\n' "${failures[@]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
