#!/usr/bin/env python3
"""A step that meets a full window waits in its session's queue, not in the
outbox (gw_direct_smsc, esme_room): with a window of 10, every
submit_sm_resp 30 ms late and citizens answering within 200-400 ms, steps
come in bursts that fill the window now and then, and messages are handed
"queued" (hailong_mt_handed_total{path="queued"}). Those messages
are ours as in-flight ones are: the SMSC drops the link while they wait
(the session sends them after the rebind), then hailongd is killed with
SIGKILL while they wait (the next one puts them back with REAP and sends
them). Every survey still completes once, and the archive equals what the
simulated citizens answered: nothing lost, nothing asked twice."""
import os
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
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=7, think="200-400")
        cfg = st.write_config(window=WINDOW, tps=1000)
        st.start_gateway(cfg)
        sim_post(st, "/faults", {"resp_delay_ms": 30})
        for i in range(1, N + 1):
            code, body = st.trigger(harness.citizen(i), "WQ-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        # a step that met a full window waited in the session's queue
        wait_for(lambda: handed(st)["queued"] > 0, 30, "a message handed behind a full window", step=0.05)
        # the SMSC drops the link while messages wait: sent after the rebind
        sim_post(st, "/faults", {"disconnect_every_s": 1})
        wait_for(lambda: "event=disconnected" in st.log_text("hailongd"), 10, "the link to drop", step=0.05)
        sim_post(st, "/faults", {"disconnect_every_s": 0})
        wait_for(lambda: st.log_text("hailongd").count("event=bound") >= 2, 15, "the rebind", step=0.05)
        q = handed(st)["queued"]
        wait_for(lambda: handed(st)["queued"] > q, 30, "more messages handed behind a full window", step=0.02)
        before = completed_surveys(st, "WQ-%")
        check(before < N, f"all {N} surveys finished before the kill: the test proves nothing")
        h = handed(st)
        os.killpg(st.procs["hailongd"].pid, signal.SIGKILL)
        st.procs.pop("hailongd").wait()
        sim_post(st, "/faults", {"reset": True})
        st.start_gateway(cfg)
        wait_for(lambda: completed_surveys(st, "WQ-%") >= N, 90, f"{N} surveys after the restart", step=0.2)
        harness.wait_thanked(st, N)
        h2 = handed(st)
        st.stop_sim()
        st.stop("hailongd")
        compare_with_ledger(st, "WQ-", N)
        check(h["queued"] > 0 and h["direct"] > 0, f"handed before the kill: {h}")
        print(f"ok: window {WINDOW}, responses 30 ms late: handed before the kill {h}, after the restart {h2}; "
              f"a link drop and a kill -9 with messages waiting: "
              f"{before}/{N} done before the kill, all {N} after, the archive equals the ledger")


if __name__ == "__main__":
    main()
