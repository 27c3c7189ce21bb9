#!/usr/bin/env python3
"""End to end: delivery receipts sent BEFORE their submit_sm_resp (the
simulator's fault early_receipt_share), on a transceiver and on a
transmitter+receiver pair. Every message must get exactly one delivery
record in the archive, named by the message id on_sent gave (no receipt
passed on as "not a recent id", none dropped)."""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = int(os.environ.get("E2E_EARLY_CITIZENS", "30"))


check = harness.check


def run(bind, share, delay_ms, seed):
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=seed, think="5-40",
                     extra=["--receipt-delay-ms", "0-300",
                            "--fault", "early_receipt_share=%s" % share,
                            "--fault", "resp_delay_ms=%d" % delay_ms])
        cfg = st.write_config()
        with open(cfg, encoding="utf-8") as f:
            text = f.read().replace("bind: transceiver", "bind: " + bind)
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(text)
        st.start_gateway(cfg)
        t0 = time.time()
        for i in range(1, N + 1):
            code, body = st.trigger("091%07d" % i, "ER-%05d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        harness.wait_thanked(st, N, timeout=40)

        def settled():
            sent = int(st.metrics().get("hailong_mt_sent_total", 0))
            with sqlite3.connect(st.db, timeout=5) as c:
                n = c.execute("select count(*) from deliveries").fetchone()[0]
            return sent > 0 and n >= sent and sent
        harness.wait_for(settled, 15, "a delivery record per message", step=0.2)
        stats = st.stop_sim()
        m = st.metrics()
        check(st.stop("hailongd") == 0, "hailongd exit status")
        sent = int(m.get("hailong_mt_sent_total", 0))
        with sqlite3.connect(st.db) as c:
            rows = c.execute("select message_id, count(*) from deliveries group by message_id").fetchall()
            states = dict(c.execute("select state, count(*) from deliveries group by state").fetchall())
        log = st.log_text("hailongd")
        early = stats.get("receipts_early", 0) if stats else 0
        check(early > sent * float(share) * 0.5, f"only {early} early receipts for {sent} messages")
        check(len(rows) == sent, f"{len(rows)} messages with a delivery record, {sent} sent ({bind})")
        check(all(n == 1 for _, n in rows), f"a message recorded twice ({bind})")
        check(set(states) == {"delivered"}, f"delivery states {states}")
        check("not a recent id" not in log, f"a receipt passed on with an unknown id ({bind})")
        check("receipt_dropped" not in log, f"a receipt dropped ({bind})")
        print(f"ok: {bind}: {sent} messages, {early} receipts before their response, "
              f"one delivery record each, in {time.time() - t0:.1f}s")


def main():
    run("transceiver", "1.0", 0, 21)
    run("transmitter+receiver", "0.6", 150, 22)


if __name__ == "__main__":
    main()
