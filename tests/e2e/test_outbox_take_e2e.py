#!/usr/bin/env python3
"""No TAKE for an outbox that holds nothing of ours (docs/design.md, the
outbox pump): a step's next message goes straight to the SMPP session
(handed "direct"), so the slot its response frees need not look in the
outbox; only the pump's 100 ms tick does (for what peers or scripts put
there). Four simulated citizens answer 20 surveys at once; over the run,
/metrics' hailong_redis_scripts_total{script="take"} grows by no more than
the ticks (10 a second) and a tenth of the messages sent, which also checks
that the per-script counters of /metrics count.

Fails on the build where every freed SMPP slot woke the outbox pump: one
TAKE for about every third message sent, on top of the ticks (86 TAKEs
for 140 messages in 4.3 s, 43 of them ticks)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

check = harness.check
SURVEYS = 20
TAKE = 'hailong_redis_scripts_total{script="take"}'
COMMIT = 'hailong_redis_scripts_total{script="commit"}'
DIRECT = 'hailong_mt_handed_total{path="direct"}'
DONE = 'hailong_surveys_finished_total{status="completed"}'


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(4, seed=5, think="0-3")
        st.start_gateway()
        wait_for(lambda: "event=bound" in st.log_text("hailongd"), 10, "the bind")
        time.sleep(2.0)  # past the grace after a bind (GW_REBIND_GRACE_MS)
        m0 = st.metrics()
        t0 = time.monotonic()
        for i in range(SURVEYS):
            code, _ = st.trigger(harness.citizen(i % 4 + 1), "outbox-take-%d" % i)
            check(code in (200, 201, 202), f"trigger {i} answered {code}")
        wait_for(lambda: st.metrics().get(DONE, 0) - m0.get(DONE, 0) >= SURVEYS, 60, "every survey completed",
                 step=0.2)
        elapsed = time.monotonic() - t0
        m1 = st.metrics()
        exit_rc = st.stop("hailongd")
        d = {k: m1.get(k, 0) - m0.get(k, 0) for k in (TAKE, COMMIT, "hailong_mt_sent_total", DIRECT)}
        check(exit_rc == 0, f"hailongd exited {exit_rc}")
        sent = d["hailong_mt_sent_total"]
        check(sent >= SURVEYS * 3, f"only {sent} messages sent")
        check(d[COMMIT] >= SURVEYS * 2, f"the commit counter grew by {d[COMMIT]} only")
        check(d[DIRECT] >= sent / 2, f"few messages handed direct: {d}")
        bound = 10 * elapsed + 3 + sent / 10
        check(d[TAKE] <= bound, f"{d[TAKE]:.0f} TAKEs for {sent:.0f} messages in {elapsed:.1f} s "
              f"(the ticks and a tenth of the messages: {bound:.0f})")
        print(f"ok: {d[TAKE]:.0f} TAKEs in {elapsed:.1f} s for {sent:.0f} messages "
              f"({d[DIRECT]:.0f} handed direct)")


if __name__ == "__main__":
    main()
