#!/usr/bin/env python3
"""A step that meets a full window waits in its session's queue, not in the
outbox (gw_direct_smsc, esme_room): with a window of 10, every
submit_sm_resp 30 ms late and citizens answering within 200-400 ms, steps
come in bursts that fill the window now and then, and messages are handed
"queued" (hailong_mt_handed_total{path="queued"}). At first the SMSC
delivers three replies in ten twice: a copy that comes while the next item
still waits in the queue answers nothing (the item has not left). Those messages
are ours as in-flight ones are: the SMSC drops the link while they wait
(the session sends them after the rebind), then hailongd is killed with
SIGKILL while they wait (the next one puts them back with REAP and sends
them). Every survey still completes once, and the archive equals what the
simulated citizens answered (an answer to an item in flight at the kill
may need the reminder, set to 4 s here)."""
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import compare_with_ledger, completed_surveys, sim_post, wait_for  # noqa: E402

N = int(os.environ.get("E2E_CITIZENS", "30"))
WINDOW = 10

check = harness.check


def handed(st):
    m = st.metrics()
    return {p: int(m.get('hailong_mt_handed_total{path="%s"}' % p, 0)) for p in ("direct", "queued", "outbox")}


def main():
    # the default campaign with a reminder 4 s after an item: an item in flight
    # at the kill -9 is put back with its fate unknown, and the citizen's
    # answer to it may then be refused (docs/design.md, "uq": it also reads as
    # an answer to the item before); the reminder asks again, and the
    # citizen answers it as before
    camp = harness.default_campaign_reminding("4s")
    try:
        run(camp)
    finally:
        shutil.rmtree(camp, ignore_errors=True)


def run(camp):
    with harness.Stack(campaigns=camp) as st:
        st.start_redis()
        st.start_sim(2 * N, seed=7, think="200-400")
        cfg = st.write_config(window=WINDOW, tps=1000)
        st.start_gateway(cfg)
        # first N citizens: copies of three replies in ten
        sim_post(st, "/faults", {"resp_delay_ms": 30, "dup_deliver_share": 0.3})
        for i in range(1, N + 1):
            code, body = st.trigger(harness.citizen(i), "WQ-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        wait_for(lambda: completed_surveys(st, "WQ-%") >= N, 60, f"the first {N} surveys", step=0.1)
        h1 = handed(st)
        check(h1["queued"] > 0 and h1["direct"] > 0, f"nothing handed behind a full window: {h1}")
        early = int(st.metrics().get("hailong_mo_before_item_total", 0))
        # the next N: the link drops, then a kill -9, while messages wait
        sim_post(st, "/faults", {"dup_deliver_share": 0})
        for i in range(N + 1, 2 * N + 1):
            code, body = st.trigger(harness.citizen(i), "WQ-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        wait_for(lambda: handed(st)["queued"] > h1["queued"], 30, "a message handed behind a full window",
                 step=0.02)
        sim_post(st, "/faults", {"disconnect_every_s": 1})
        wait_for(lambda: "event=disconnected" in st.log_text("hailongd"), 10, "the link to drop", step=0.05)
        sim_post(st, "/faults", {"disconnect_every_s": 0})
        wait_for(lambda: st.log_text("hailongd").count("event=bound") >= 2, 15, "the rebind", step=0.05)
        wait_for(lambda: handed(st)["queued"] > h1["queued"] + 1, 30, "messages behind a full window again",
                 step=0.02)
        before = completed_surveys(st, "WQ-%")
        check(before < 2 * N, f"all {2 * N} surveys finished before the kill: the test proves nothing")
        h2 = handed(st)
        os.killpg(st.procs["hailongd"].pid, signal.SIGKILL)
        st.procs.pop("hailongd").wait()
        sim_post(st, "/faults", {"reset": True})
        st.start_gateway(cfg)
        wait_for(lambda: completed_surveys(st, "WQ-%") >= 2 * N, 90, f"{2 * N} surveys after the restart", step=0.2)
        harness.wait_thanked(st, 2 * N)
        h3 = handed(st)
        st.stop_sim()
        st.stop("hailongd")
        compare_with_ledger(st, "WQ-", 2 * N)
        print(f"ok: window {WINDOW}, responses 30 ms late: {N} surveys with copies of replies ({early} replies that came "
              f"before their item left ignored), handed {h1}; then a link drop and a kill -9 with messages waiting "
              f"(handed {h2} before, {h3} after the restart): {before}/{2 * N} done before the kill, all after; "
              f"the archive equals the ledger")


if __name__ == "__main__":
    main()
