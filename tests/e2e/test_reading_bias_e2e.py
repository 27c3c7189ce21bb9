#!/usr/bin/env python3
"""Reading bias, end to end: 2 000 virtual citizens answer in the forms people
really text (`--answer-mode written`: "ko hài lòng", "rat k hl", "2-Hài lòng",
"Dạ hài lòng ạ", "rathailong"...) with a distribution heavy in dissatisfied
answers, through the real hailongd, redis-server and the simulator. The share
of each value in the archive must be within 2 points of the simulator's
ledger (what the citizens meant), no value may lose respondents to
`abandoned`, and every archived answer must equal the citizen's. Prints
reading_bias_max_pts (make bench prints it too)."""
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = int(os.environ.get("E2E_READING_CITIZENS", "2000"))
SCALE = ("access", "procedure", "officer", "result", "feedback")


check = harness.check


def measure(st, prefix, n):
    """Per value: share in the ledger, share in the archive (completed
    surveys), respondents lost to abandoned. Returns (rows, max_pts, lost)."""
    meant = {}
    with open(st.ledger, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if e.get("question") in SCALE and e.get("value") is not None and "event" not in e:
                meant.setdefault(e["msisdn"], {})[e["question"]] = e["value"]
    with sqlite3.connect(st.db) as c:
        rows = c.execute("select survey_id, transaction_id, status from surveys where transaction_id like ?",
                         (prefix + "%",)).fetchall()
        archived, lost = [], {}
        for sid, txid, status in rows:
            m = harness.citizen(int(txid[len(prefix):]))
            if status == "abandoned":
                answered = {q for (q,) in c.execute("select question_id from answers where survey_id=?", (sid,))}
                for q in SCALE:
                    if q not in answered and q in meant.get(m, {}):
                        lost[meant[m][q]] = lost.get(meant[m][q], 0) + 1
                        break
            if status != "completed":
                continue
            archived += [v for (v,) in c.execute(
                "select value from answers where survey_id=? and question_id in (%s)" % ",".join("?" * len(SCALE)),
                (sid,) + SCALE)]
    ledger = [v for m in meant.values() for v in m.values()]
    out, worst = [], 0.0
    for v in (5, 4, 3, 2, 1):
        a = 100.0 * archived.count(v) / max(1, len(archived))
        b = 100.0 * ledger.count(v) / max(1, len(ledger))
        worst = max(worst, abs(a - b))
        out.append((v, b, a, lost.get(v, 0)))
    return out, worst, lost, len(rows)


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=23, think="5-40",
                     extra=["--answer-mode", "written", "--distribution", "5:25,4:25,3:15,2:20,1:15",
                            "--comment-share", "0.2"])
        # the bind's TPS out of the way: 2 000 surveys are some 40 000 submit_sm
        st.start_gateway(st.write_config(window=50, tps=20000))
        t0 = time.time()
        for i in range(1, N + 1):
            code, resp = st.trigger(harness.local_citizen(i), "R-%d" % i, agency="ca-test")
            check(code == 202, f"trigger {i}: {code} {resp}")
        finished = lambda: harness.completed_surveys(st, "R-%") + abandoned(st) >= N
        harness.wait_for(finished, 150, f"{N} finished surveys", step=0.5)
        elapsed = time.time() - t0
        harness.wait_thanked(st, harness.completed_surveys(st, "R-%"), timeout=30)
        st.stop_sim()
        check(st.stop("hailongd") == 0, "hailongd exit status")

        rows, worst, lost, archived = measure(st, "R-", N)
        print("value  ledger%  archive%  lost-to-abandoned")
        for v, b, a, l in rows:
            print(f"{v:5d}  {b:7.2f}  {a:8.2f}  {l:5d}")
        print(f"reading_bias_max_pts={worst:.2f} abandoned={sum(lost.values())} surveys={archived} "
              f"in {elapsed:.1f}s")
        check(archived == N, f"{archived} surveys archived, want {N}")
        check(worst <= 2.0, f"an archived share is {worst:.2f} points off the ledger")
        check(not lost, f"respondents lost to abandoned, by the value they meant: {lost}")
        # and every answer is the one the citizen meant
        harness.compare_with_ledger(st, "R-", N)
        print("ok: archive == ledger for every citizen")


def abandoned(st):
    try:
        with sqlite3.connect(st.db, timeout=5) as c:
            return c.execute("select count(*) from surveys where status='abandoned' "
                             "and transaction_id like 'R-%'").fetchone()[0]
    except sqlite3.Error:
        return 0


if __name__ == "__main__":
    main()
