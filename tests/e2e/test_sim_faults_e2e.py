#!/usr/bin/env python3
"""The gateway against a misbehaving SMSC (the simulator's faults): throttling
and queue-full answers at a given share, responses delayed, responses never
sent (the response timer fires and the part is sent again), and the
connection dropped every few seconds. Every survey still completes and the
archive equals what the citizens answered."""
import json
import os
import sqlite3
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = int(os.environ.get("E2E_CITIZENS", "16"))


check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=31, think="5-60", extra=[
            "--fault", "throttle_share=0.03", "--fault", "qfull_share=0.03",
            "--fault", "resp_delay_ms=30", "--fault", "drop_resp_share=0.01",
            "--fault", "disconnect_every_s=8"])
        cfg = st.write_config()
        text = open(cfg).read().replace("    tps: 500\n", """    tps: 500
    response_timeout_s: 2
    retry:
      ESME_RMSGQFUL: {tries: 10, delay: 200ms}
      ESME_RTHROTTLED: {tries: 20, delay: 200ms}
      timeout: {tries: 10, delay: 200ms}
""", 1)
        open(cfg, "w").write(text)
        st.start_gateway(cfg)
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "FLT-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")

        def done():
            with sqlite3.connect(st.db, timeout=5) as c:
                return c.execute("select count(*) from surveys where status='completed'").fetchone()[0]
        harness.wait_for(lambda: done() == N, 150, f"{N} surveys through the faults", step=0.5)
        stats = st.stop_sim()
        st.stop("hailongd")
        log = st.log_text("hailongd")
        check("ESME_RTHROTTLED" in log and "ESME_RMSGQFUL" in log, "throttling and queue-full were not met")
        check(stats["disconnects"] > 0 and stats["faults"] > 0, f"faults not exercised: {stats}")

        answers = {}
        with open(st.ledger, encoding="utf-8") as f:
            for line in f:
                e = json.loads(line)
                if "question" in e and not e.get("skip"):
                    answers.setdefault(e["msisdn"], {})[e["question"]] = e
        with sqlite3.connect(st.db) as c:
            for sid, txid in c.execute("select survey_id, transaction_id from surveys").fetchall():
                m = harness.citizen(int(txid.split("-")[1]))
                got = {q: (v, t) for q, v, t in c.execute(
                    "select question_id, value, text from answers where survey_id=?", (sid,))}
                want = answers.get(m, {})
                check(set(got) == set(want), f"{txid}: archived {sorted(got)} != ledger {sorted(want)}")
                for q, e in want.items():
                    ok = got[q][0] == e["value"] if e.get("value") is not None else \
                        unicodedata.normalize("NFC", got[q][1] or "") == unicodedata.normalize("NFC", e["text"])
                    check(ok, f"{txid} {q}: archived {got[q]} != ledger {e}")
        print(f"ok: {N} surveys through throttling, queue-full, slow and lost responses and "
              f"{stats['disconnects']} disconnects; sim={stats['faults']} faults")


if __name__ == "__main__":
    main()
