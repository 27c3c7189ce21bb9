#!/usr/bin/env python3
"""One citizen, three triggers: the second and third wait behind the first
(one survey at a time). The citizen opts out during the first: the others are
archived `suppressed` ("opted out") one after the other, none is left
waiting, and nothing more is sent to the citizen."""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(3, seed=9, extra=["--no-reply-share", "1.0"])
        st.start_gateway()
        who = harness.citizen(1)
        for tx in ("W-1", "W-2", "W-3"):
            code, body = st.trigger(harness.local_citizen(1), tx)
            check(code == 202, f"trigger {tx}: {code} {body}")
        harness.wait_for(lambda: len(harness.inbox(st, who)) >= 1, 10, "the first item")
        # W-2 and W-3 join the waiting list when the pump tries to start them,
        # not when their triggers are answered
        harness.wait_for(lambda: st.redis("LLEN", "hl:wait:" + who) == "2", 10,
                         "two surveys waiting behind the first")
        harness.mo(st, who, "HUY")

        def rows():
            with sqlite3.connect(st.db, timeout=5) as c:
                return dict(c.execute("select transaction_id, status || '/' || coalesce(reason, '') "
                                      "from surveys").fetchall())
        harness.wait_for(lambda: len(rows()) == 3, 20, "three archived surveys", step=0.2)
        r = rows()
        check(r["W-1"].startswith("opted_out"), f"W-1: {r}")
        check(r["W-2"] == "suppressed/opted out" and r["W-3"] == "suppressed/opted out", f"W-2, W-3: {r}")
        check(st.redis("EXISTS", "hl:wait:" + who) == "0" and st.redis("HEXISTS", "hl:c:" + who, "a") == "0",
              "the citizen is left held")
        # the confirmation goes out through the outbox while the archive pump
        # writes the three rows: either may come first
        harness.wait_for(lambda: len(harness.inbox(st, who)) >= 2, 10, "the opt-out confirmation")
        time.sleep(0.5)
        box = harness.inbox(st, who)
        check(len(box) == 2, f"the first item and the confirmation only: {box}")
        print(f"ok: {r}")


if __name__ == "__main__":
    main()
