#!/usr/bin/env python3
"""A population file (hailong-sim --population) with an answer distribution per
question, against the real hailongd and redis-server: 150 citizens, `officer`
always answered 1 (Rất không hài lòng), `result` only 5 or 1, the other scale
questions by the file's default distribution, and `--answer-mode labels` after
the file overriding its `answer_mode: mixed`. The archive must show exactly
that, and equal the simulator's ledger. A file naming a question the campaign
does not have, or a bad weight, stops the simulator at start with file:line."""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = int(os.environ.get("E2E_CITIZENS", "150"))

POPULATION = """# written by tests/e2e/test_population_e2e.py
answer_mode: mixed
shares: {invalid: 0.05, typo: 0.1, ucs2: 0.2, comment: 0.4}
distribution: "5:20,4:20,3:20,2:20,1:20"
questions:
  officer: {1: 100}
  result: "5:50,1:50"
"""


check = harness.check


def bad_files(st):
    """Mistakes are reported with file:line and exit status 1, before listening."""
    cases = [
        ("questions:\n  officer: {1: 100}\n  nope: \"1:1\"\n", ":3: questions: 'nope' is not a question"),
        ("questions:\n  officer: {1: 50, 9: 50}\n", ":2: questions.officer: 9 is not a value"),
        ("questions:\n  officer: \"1:10,2:-1\"\n", ":2: questions.officer: the weight of 2 is negative"),
        ("questions:\n  officer: {1: 0}\n", ":2: questions.officer: every weight is 0"),
        ("answer_mode: keys\nhair: long\n", ":2: population: unknown key 'hair'"),
    ]
    for i, (text, want) in enumerate(cases):
        path = os.path.join(st.dir, "bad-%d.yaml" % i)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        p = subprocess.run([os.path.join(harness.BIN, "hailong-sim"), "--listen", "127.0.0.1:0",
                            "--system-id", "hailong", "--password", "secret",
                            "--campaign", os.path.join(st.campaigns, "default.yaml"),
                            "--citizens", "1", "--ledger", os.path.join(st.dir, "bad.jsonl"),
                            "--population", path], capture_output=True, text=True, timeout=10)
        check(p.returncode == 1, f"case {i}: exit {p.returncode}, stderr {p.stderr!r}")
        check(path + want in p.stderr, f"case {i}: stderr {p.stderr!r}, want {path + want!r}")


def main():
    with harness.Stack() as st:
        bad_files(st)
        pop = os.path.join(st.dir, "population.yaml")
        with open(pop, "w", encoding="utf-8") as f:
            f.write(POPULATION)
        st.start_redis()
        # a flag after --population overrides the file: labels, not the file's mixed
        st.start_sim(N, seed=11, think="5-60", extra=["--population", pop, "--answer-mode", "labels"])
        st.start_gateway()
        t0 = time.time()
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "P-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        harness.wait_for(lambda: harness.completed_surveys(st) >= N, 90, f"{N} completed surveys", step=0.3)
        elapsed = time.time() - t0
        harness.wait_thanked(st, N)
        st.stop_sim()
        check(st.stop("hailongd") == 0, "hailongd exit status")

        ledger = harness.compare_with_ledger(st, "P-", N)
        with sqlite3.connect(st.db) as c:
            values = {}
            for q, v in c.execute("select question_id, value from answers where survey_id in "
                                  "(select survey_id from surveys where transaction_id like 'P-%')"):
                values.setdefault(q, []).append(v)
        officer = values.get("officer", [])
        check(len(officer) == N, f"{len(officer)} answers to officer archived, want {N}")
        check(set(officer) == {1}, f"officer answered other than 1: {sorted(set(officer))}")
        result = values.get("result", [])
        check(set(result) == {1, 5}, f"result values {sorted(set(result))}, want 1 and 5 only")
        for q in ("access", "procedure", "feedback"):
            seen = set(values.get(q, []))
            check(len(seen) >= 4, f"{q}: only {sorted(seen)} archived (the default distribution is flat)")
        led_officer = [e["value"] for m in ledger.values() for q, e in m.items() if q == "officer"]
        check(len(led_officer) == N and set(led_officer) == {1}, "the ledger disagrees on officer")
        keys = [e["reply"] for m in ledger.values() for e in m.values()
                if e.get("value") is not None and len(e["reply"].strip(" .,!()'")) <= 1]
        check(not keys, f"--answer-mode labels after the file did not win: replies {keys[:5]}")
        print(f"ok: {N} surveys in {elapsed:.1f}s; officer all 1, result "
              f"{result.count(5)}x5/{result.count(1)}x1, access {sorted(set(values['access']))}; "
              f"archive == ledger")


if __name__ == "__main__":
    main()
