#!/usr/bin/env python3
"""A short `make bench` (scripts/bench.py --short): a few seconds; checks that the
summary's last line is one JSON object with every figure, and that the figures are
sane (not fast: this runs on any machine, beside other tests)."""
import json
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def main():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "bench.py"), "--short"],
                       capture_output=True, text=True, timeout=240, cwd=ROOT)
    print(r.stdout[-3000:], r.stderr[-3000:])
    if r.returncode != 0:
        raise AssertionError(f"bench --short exited {r.returncode}")
    last = r.stdout.strip().splitlines()[-1]
    s = json.loads(last)
    for k in ["steps_per_s", "latency_p50_ms", "latency_p99_ms", "redis_bytes_per_survey",
              "archive_rows_per_s", "report_1m_s", "report_1m_s_by_agency_month", "reading_bias_max_pts"]:
        if not isinstance(s.get(k), (int, float)):
            raise AssertionError(f"{k} missing or not a number: {s.get(k)!r}")
    sat, half = s["saturation"], s["half_rate"]
    checks = [
        (s["steps_per_s"] > 10, "steps_per_s"),
        (sat["all_ended"] and sat["surveys_completed"] == sat["triggers_new"] > 0, "saturation run ended"),
        (sat["errors"] == 0 and half["errors"] == 0, "load errors"),
        (sat["steps"] == 6 * sat["surveys_completed"], "six steps per survey of the default campaign"),
        (0 < s["latency_p50_ms"] <= s["latency_p99_ms"] <= s["latency_max_ms"] < 10000, "latency order"),
        (half["latency_ms"]["n"] == half["steps"], "one latency sample per step"),
        (100 < s["redis_bytes_per_survey"] < 100000, "redis bytes per survey"),
        (s["archive_rows_per_s"] > 100, "archive rows/s"),
        (0 < s["report_1m_s"] < 3600, "report time"),
        (s["machine"]["nproc"] >= 1, "machine"),
        (0 <= s["reading_bias_max_pts"] <= 2 and s["reading_abandoned"] == 0, "reading bias"),
    ]
    u = s["ussd"]
    checks += [
        (s["ussd_answers_per_s"] > 10, "ussd answers/s"),
        (u["saturation"]["all_ended"] and u["half_rate"]["all_ended"], "ussd runs ended"),
        (u["saturation"]["steps"] == 5 * u["saturation"]["surveys_completed"] > 0, "five answers per USSD survey"),
        (u["half_rate"]["latency_ms"]["n"] == u["half_rate"]["steps"], "ussd: one latency sample per answer"),
        (0 < s["ussd_latency_p50_ms"] <= s["ussd_latency_p99_ms"] < 10000, "ussd latency order"),
        (u["sessions"]["opened"] == u["sessions"]["completed"] and u["sessions"]["timed_out"] == 0,
         "ussd sessions: every push completed, none timed out"),
    ]
    if "sim_steps_per_s" in s:
        checks.append((s["sim_steps_per_s"] > 10, "sim alone"))
    if "relay" in s:  # node present: hailongd under the neutral load generator
        rl, rh = s["relay"], s["relay_half"]
        checks += [
            (s["relay_steps_per_s"] > 10 and rl["trigger_errors"] == 0, "relay steps/s"),
            (rh["latency_ms"]["n"] == rh["steps"] > 0, "relay: one latency sample per step"),
            (0 < s["relay_latency_p50_ms"] <= s["relay_latency_p99_ms"] < 10000, "relay latency order"),
            (0 < s["redis_commands_per_step"] <= s["redis_ops_per_step"], "redis commands per step"),
        ]
    if "kannel" in s:
        checks += [(s["kannel_relay_steps_per_s"] > 10, "kannel relay steps/s"),
                   (s["vs_kannel"] > 0, "vs_kannel")]
    bad = [what for ok, what in checks if not ok]
    if bad:
        raise AssertionError("insane bench summary: " + ", ".join(bad) + "\n" + last)
    print("ok: bench summary " + ", ".join(f"{k}={s[k]}" for k in
                                           ["steps_per_s", "latency_p50_ms", "latency_p99_ms",
                                            "redis_bytes_per_survey", "archive_rows_per_s", "report_1m_s"]))


if __name__ == "__main__":
    main()
