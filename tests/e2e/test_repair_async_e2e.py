#!/usr/bin/env python3
"""The rare repairs do not stop the event loop (docs/design.md, "Still on
the synchronous connection"): a survey ended before its first item (a start
suppressed outside its campaign's window, or because the citizen was
surveyed too recently) and an item the SMSC refused for good (LOAD, then the
COMMIT that archives the survey failed) go on the asynchronous connection,
and so does an office's trigger sent in a long (concatenated) SMS.
Through a relay that holds every Redis reply 600 ms, /healthz, answered by
the loop without Redis, is asked every 20 ms throughout:

- no answer takes 0.3 s (each of these COMMITs, and the LOAD, held the loop
  0.6 s on the synchronous connection);
- each survey is archived as before: suppressed "outside window",
  suppressed "resurvey", failed "vendor 0x401", and nothing is left on our
  starting list; the office's long trigger starts its survey and is
  answered once.

Fails if one of them waits on the loop again, or is lost with its reply
late."""
import os
import re
import shutil
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, mo, wait_for  # noqa: E402
from test_lease_async_e2e import healthz_latencies  # noqa: E402
from test_lifecycle_e2e import campaign, write  # noqa: E402

check = harness.check
DELAY = 0.6
OFFICE = "0912999888"
LONG_TX = "HS-" + "7" * 90


def main():
    tmp = harness.tempfile.mkdtemp(prefix="hailong-camp-")
    shutil.copy(os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), tmp)
    write(os.path.join(tmp, "win.yaml"),
          campaign("win", "reminder_after: 0\nexpire_after: 60s\nwindow: {start: 2020-01-01, end: 2020-01-31}\n"))
    write(os.path.join(tmp, "again.yaml"),
          campaign("again", "resurvey_after: 30d\nreminder_after: 0\nexpire_after: 60s\n", nq=1))
    with harness.Stack(campaigns=tmp) as st:
        st.start_redis()
        relay = harness.SlowRedis(st.redis_port, DELAY)
        stop = threading.Event()
        lat = []
        try:
            st.start_sim(0, think="5")
            cfg = relay.config(st)
            with open(cfg, "a") as f:
                f.write(f"sms_triggers:\n  - {{number: \"{OFFICE}\", agency: ca-vinhphuc-pc08, campaign: default}}\n")
            st.start_gateway(cfg)
            wait_for(lambda: "event=bound" in st.log_text("hailongd"), 10, "the bind")
            n = {k: "849130000%02d" % i for i, k in enumerate("AFI", start=1)}

            def trig(who, camp, tx):
                code, body = st.trigger(n[who], tx, campaign=camp)
                check(code == 202, f"trigger {who} {camp}: {code} {body}")
                return body["survey_id"]

            def status(sid):
                try:
                    with sqlite3.connect(st.db, timeout=5) as c:
                        return c.execute("select status, reason from surveys where survey_id=?", (sid,)).fetchone()
                except sqlite3.Error:
                    return None

            # A answers its one item: its next survey of that campaign is too soon
            a1 = trig("A", "again", "RA-1")
            wait_for(lambda: any("AGAIN  cau 1" in t for t in inbox(st, n["A"])), 15, "A's item")
            mo(st, n["A"], "co")
            wait_for(lambda: status(a1) is not None, 15, "A's first survey archived", step=0.2)
            probe = threading.Thread(target=healthz_latencies, args=(st, stop, lat), daemon=True)
            probe.start()
            time.sleep(0.3)
            ids = {"F": trig("F", "win", "RF-1"), "A2": trig("A", "again", "RA-2")}
            wait_for(lambda: all(status(ids[k]) for k in ("F", "A2")), 20, "the suppressed starts archived", step=0.2)
            # the SMSC refuses every item for good
            harness.sim_post(st, "/faults", {"vendor_share": 1, "vendor_status": 0x401})
            ids["I"] = trig("I", "default", "RI-1")
            wait_for(lambda: status(ids["I"]) is not None, 20, "I archived", step=0.2)
            harness.sim_post(st, "/faults", {"reset": True})
            # an office's trigger in a long (two-part) SMS
            office = "84" + OFFICE[1:]
            harness.sim_post(st, "/mo", {"from": office, "text": "KS 0913000009 %s %s" % (LONG_TX, "p" * 100)})
            wait_for(lambda: any(LONG_TX in t for t in inbox(st, office)), 20, "the answer to the office")
            wait_for(lambda: inbox(st, "84913000009"), 20, "the first item of the office's trigger")
            time.sleep(2 * DELAY)
            stop.set()
            probe.join(6)
            inst = st.redis("SMEMBERS", "hl:instances").split()
            starting = {i: st.redis("LLEN", "hl:starting:" + i) for i in inst}
            got = {k: status(v) for k, v in ids.items()}
            answers = inbox(st, office)
            joined = re.search(r'parts=2 msg="concatenated message complete"', st.log_text("hailongd"))
            queued = st.redis("LRANGE", "hl:queue", 0, -1).split() + sum(
                (st.redis("LRANGE", "hl:starting:" + i, 0, -1).split() for i in inst), [])
            running = st.redis("HEXISTS", "hl:c:84913000009", "a")
            relay.delay = 0.0
            exit_rc = st.stop("hailongd")  # (under ASan: a report makes it non-zero)
        finally:
            stop.set()
            st.stop_all()
            relay.close()
    shutil.rmtree(tmp, ignore_errors=True)
    worst = max(lat, default=(0, 0))[0]
    check(exit_rc == 0, f"hailongd exited {exit_rc}")
    check(len(lat) > 50, f"only {len(lat)} /healthz answers sampled")
    check(worst < 0.3, f"/healthz took {worst:.2f} s: the loop waited for Redis")
    check(got["F"] == ("suppressed", "outside window"), f"F: {got['F']}")
    check(got["A2"] == ("suppressed", "resurvey"), f"A2: {got['A2']}")
    check(got["I"] == ("failed", "vendor 0x401"), f"I: {got['I']}")
    check(starting and all(v == "0" for v in starting.values()), f"our starting list holds {starting}")
    check(joined, "the office's trigger did not come in two parts")
    check(len(answers) == 1 and answers[0].startswith("Da nhan: ho so " + LONG_TX),
          f"the office's long trigger answered {answers}")
    check(running == "1" and not queued, f"the long trigger's survey not started: {running} {queued}")
    print(f"ok: every Redis reply {DELAY * 1000:.0f} ms late: two starts suppressed (outside window, resurvey) "
          f"and an item refused by the SMSC (failed) archived as before, an office's two-part trigger stored and answered; /healthz answered within "
          f"{worst * 1000:.0f} ms ({len(lat)} asked)")


if __name__ == "__main__":
    main()
