#!/usr/bin/env python3
"""A citizen's USSD answers and SMS replies are read in the order they came,
each answered only once what it asks for is stored, while Redis is held busy
(a script that spins 1.2 s) as they arrive, so that every one of them waits
for Redis at the same time.

Each citizen has a USSD survey whose first screen is on their phone. In the
same breath, A answers the screen ("2") and texts STOP by SMS: read in that
order the answer is stored, then the opt-out ends the survey, and the archive
holds the answer. B does the same the other way round (STOP, then "2"): the
survey ends with no answer, and the late answer is acknowledged without the
"no survey" screen. Read out of order, A's archive would hold no answer and
B's one. C only answers: the next screen must come, echoing its session.
Every MO is acknowledged (none refused for a retry)."""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CODE = "*8088#"
check = harness.check


def archived(st, txid):
    with sqlite3.connect(st.db, timeout=5) as c:
        row = c.execute("select survey_id, status from surveys where transaction_id = ?", (txid,)).fetchone()
        if not row:
            return None
        answers = dict(c.execute("select question_id, value from answers where survey_id = ?", (row[0],)))
        return row[1], answers


def main():
    with harness.Stack() as st:
        ussd = harness.ussd_campaigns(st)
        st.start_redis()
        st.start_sim(0, extra=("--campaign", ussd, "--ussd", CODE))
        st.start_gateway(st.write_config(extra_smsc="    ussd: {service_code: \"%s\"}\n" % CODE))
        # the control API says what "sms" wants
        try:
            harness.sim_post(st, "/mo", {"from": harness.citizen(1), "text": "x", "sms": "yes"})
            raise AssertionError("sim /mo accepted sms: \"yes\"")
        except harness.urllib.error.HTTPError as e:
            check(e.code == 400 and b"sms: true|false" in e.read(), f"sim /mo sms: \"yes\": {e.code}")
        a, b, c = harness.citizen(201), harness.citizen(202), harness.citizen(203)
        for m, tx in ((a, "UO-A"), (b, "UO-B"), (c, "UO-C")):
            code, body = st.trigger("0" + m[2:], tx, campaign="ussd-default")
            check(code == 202, f"trigger {tx}: {code} {body}")
        for m in (a, b, c):
            harness.wait_for(lambda m=m: len(harness.inbox(st, m)) >= 1, 10, f"the first screen to {m}")
        time.sleep(0.3)  # the screens' TAKE is stored: the answers answer them
        # and each pushed screen's session (written in a batch 100 ms after it)
        harness.wait_for(lambda: all(st.redis("ZSCORE", "hl:ussd:sessions", m) for m in (a, b, c)), 10,
                         "the three USSD sessions stored")
        busy = harness.BusyRedis(st, 1.2)
        t0 = time.time()
        harness.mo(st, a, "2")  # the open session: the answer to the screen (ussr_confirm)
        harness.sim_post(st, "/mo", {"from": a, "text": "STOP", "sms": True})
        harness.sim_post(st, "/mo", {"from": b, "text": "STOP", "sms": True})
        harness.mo(st, b, "2")
        harness.mo(st, c, "2")
        t1 = time.time()
        busy_from, busy_to = busy.done()
        # every MO sent while Redis was busy, the last with 0.2 s to spare
        # for the simulator to deliver it and hailongd to send its command
        check(busy_from <= t0 and t1 <= busy_to - 0.2,
              f"the MOs were not all sent while Redis was busy ({t0 - busy_from:.3f} s to "
              f"{t1 - busy_from:.3f} s into a {busy_to - busy_from:.3f} s hold): the test proves nothing")
        harness.wait_for(lambda: archived(st, "UO-A") is not None and archived(st, "UO-B") is not None, 10,
                         "A and B archived")
        harness.wait_for(lambda: len(harness.inbox(st, c)) >= 2, 10, "C's second screen")
        # A's and B's "stopped" screens leave through the outbox while the
        # archive pump writes their rows: wait for both (see ussd_bad_echo below)
        harness.wait_for(lambda: harness.sim_get(st, "/stats").get("ussd_bad_echo", 0) >= 2, 10,
                         "A's and B's stopped screens")
        time.sleep(0.5)
        got_a, got_b = archived(st, "UO-A"), archived(st, "UO-B")
        check(got_a == ("opted_out", {"access": 4}),
              f"A answered then texted STOP: archived {got_a} (read out of order?)")
        check(got_b == ("opted_out", {}), f"B texted STOP then answered: archived {got_b} (read out of order?)")
        check(archived(st, "UO-C") is None, "C's survey ended after one answer")
        check("2/5" in harness.inbox(st, c)[1], f"C's second screen: {harness.inbox(st, c)[1:]}")
        for m in (a, b):
            late = [t for t in harness.inbox(st, m) if "khong co khao sat" in t.lower()]
            check(not late, f"{m} got the no-survey screen: {late}")
        # (A's and B's "stopped" screens answer an SMS: they carry no session
        # to echo, and the simulator, whose session is still open, counts them)
        stats = harness.sim_get(st, "/stats")
        check(stats.get("ussd_bad_echo") == 2, f"a screen did not echo its session: {stats}")
        m = st.metrics()
        check(m.get("hailong_mo_retry_later_total", 0) == 0, f"an MO was refused for a retry: {m}")
        print("ok: a USSD answer and an SMS STOP of the same citizen, sent in the same breath while Redis "
              "was busy, read in the order they came (both orders); the next screen echoed its session")


if __name__ == "__main__":
    main()
