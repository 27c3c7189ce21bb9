#!/usr/bin/env python3
"""Failures that must lose nothing: hailongd killed with SIGKILL in the middle
of 100 surveys and started again (an answer to an item whose fate the kill
left unknown may need the reminder, set to 4 s there); Redis stopped for a
few seconds and started again (triggers get 503 meanwhile, replies are
refused with ESME_RX_T_APPN and delivered again). Every survey still
completes once and the archive equals the simulator's ledger."""
import os
import shutil
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = 100


check = harness.check


def test_kill9():
    # the default campaign with a reminder 4 s after an item: an item handed
    # to the SMSC whose response the kill left unrecorded goes back in line,
    # and a reply to it that the item before could take too (any key 1-5
    # after a scale question) is not taken (the uq rule, gw_mo_judge); the
    # simulated citizen ignores the copy sent again and answers the reminder.
    # With the default 2 h reminder such a survey stays open past the test
    # (18 of 100 with hailongd slowed down; the more often, the busier the machine).
    camp = harness.default_campaign_reminding("4s")
    try:
        kill9(camp)
    finally:
        shutil.rmtree(camp, ignore_errors=True)


def kill9(camp):
    with harness.Stack(campaigns=camp) as st:
        st.start_redis()
        st.start_sim(N, seed=3, think="100-600")
        cfg = st.write_config()
        st.start_gateway(cfg)
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "K-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        time.sleep(1.0)
        before = harness.completed_surveys(st)
        check(before < N, "everything finished before the kill: the test proves nothing")
        os.killpg(st.procs["hailongd"].pid, signal.SIGKILL)
        st.procs.pop("hailongd").wait()
        time.sleep(1.0)  # the simulator notices, citizens keep answering into the void
        t0 = time.monotonic()
        st.start_gateway(cfg)
        ready_s = time.monotonic() - t0
        # the lease found is a dead predecessor's (same instance, its pid gone):
        # taken back at once, not after watching it for 4.5 s
        check("taken over at once" in st.log_text("hailongd"), "the dead predecessor's lease was not recognised")
        # (watching it first would alone take 4.5 s: a slow machine's start
        # must not be taken for that)
        check(ready_s < 4.0, f"restart to ready took {ready_s:.1f} s")
        print(f"restart after kill -9: ready (HTTP, Redis, SMSC bound) in {ready_s:.2f} s")
        harness.wait_for(lambda: harness.completed_surveys(st) >= N, 90, f"{N} surveys after the restart", step=0.3)
        harness.wait_thanked(st, N)
        m = st.metrics()
        st.stop_sim()
        st.stop("hailongd")
        harness.compare_with_ledger(st, "K-", N)
        # a last answer stored before the kill and delivered again after it is
        # acknowledged quietly: no citizen is told they have no survey running
        check(m.get("hailong_no_survey_answers_total", 0) == 0, f"'no survey' notices after the restart: {m}")
        print(f"ok kill -9: {before}/{N} archived before the kill, all {N} after the restart")


def test_redis_outage():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=5, think="100-500", extra=["--receipt-delay-ms", "500-2500"])
        st.start_gateway()
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "R-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        time.sleep(1.0)
        st.stop("redis")
        code, body = st.trigger("0912345678", "R-during")
        check(code == 503, f"trigger while redis is down: {code} {body}")
        code, _ = st.http("GET", "/readyz")
        check(code == 503, f"readyz while redis is down: {code}")
        time.sleep(3.0)
        check(st.procs["hailongd"].poll() is None, "hailongd died with redis")
        st.start_redis()  # same port, same AOF directory
        harness.wait_for(lambda: harness.completed_surveys(st) >= N, 90, f"{N} surveys after redis came back", step=0.3)
        harness.wait_thanked(st, N)
        def receipts_in():
            sent = st.metrics().get("hailong_mt_sent_total", 0)
            with sqlite3.connect(st.db, timeout=5) as c:
                return c.execute("select count(*) from deliveries").fetchone()[0] >= sent * 0.99
        try:  # the last receipts come up to 2.5 s late, and again after a refusal
            harness.wait_for(receipts_in, 30, "the receipts", step=0.5)
        except TimeoutError:
            pass  # checked below, with the figures
        m = st.metrics()
        st.stop_sim()
        st.stop("hailongd")
        harness.compare_with_ledger(st, "R-", N)
        # receipts that came while Redis was away were refused (ESME_RX_T_APPN)
        # and sent again by the SMSC: every message accepted has its final state
        sent = int(m.get("hailong_mt_sent_total", 0))
        with sqlite3.connect(st.db) as c:
            recorded = c.execute("select count(*) from deliveries").fetchone()[0]
        print(f"deliveries: {recorded} recorded for {sent} messages accepted")
        check(recorded >= sent * 0.99, f"receipts lost in the outage: {recorded} recorded for {sent} messages")
        check(m.get("hailong_mo_retry_later_total", 0) > 0 or m.get("hailong_redis_errors_total", 0) > 0,
              f"no sign of the outage in the metrics: {m}")
        print(f"ok redis outage: {N} surveys complete; retried MOs={m.get('hailong_mo_retry_later_total')}")


if __name__ == "__main__":
    test_kill9()
    test_redis_outage()
