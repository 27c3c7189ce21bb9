#!/usr/bin/env python3
"""A reply that makes a re-prompt (an invalid answer), delivered twice by the
SMSC in one breath (a duplicated deliver_sm) while the first copy's COMMIT
is on its way, is stored once: one re-prompt, the invalid answer counted
once (with max_invalid 2, counted twice the next invalid reply would end
the survey abandoned). Redis is held busy (a script that spins 0.6 s) while
both copies arrive, so that the second waits behind the first's COMMIT."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0)
        st.start_gateway()
        a = harness.citizen(201)
        code, body = st.trigger("0" + a[2:], "DUP-1")
        check(code == 202, f"trigger: {code} {body}")
        harness.wait_for(lambda: len(harness.inbox(st, a)) >= 1, 10, "the first item")
        busy = subprocess.Popen(["redis-cli", "-p", str(st.redis_port), "EVAL",
                                 "local t = redis.call('TIME') local e = t[1] * 1e6 + t[2] + 600000 "
                                 "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= e return 1", "0"],
                                stdout=subprocess.DEVNULL)
        time.sleep(0.1)
        harness.mo(st, a, "abc xyz")
        harness.mo(st, a, "abc xyz")  # the same deliver_sm again
        busy.wait(timeout=10)
        harness.wait_for(lambda: len(harness.inbox(st, a)) >= 2, 10, "the re-prompt")
        time.sleep(1.5)
        box = harness.inbox(st, a)
        check(len(box) == 2, f"{len(box) - 1} re-prompts for one invalid reply delivered twice: {box[1:]}")
        inv = subprocess.run(["redis-cli", "-p", str(st.redis_port), "HGET", "hl:c:" + a, "i"],
                             capture_output=True).stdout.decode("latin-1").strip()
        check(inv == "1", f"invalid answers counted: {inv!r}, want 1")
        # a second, different invalid reply is asked again, not abandoned
        harness.mo(st, a, "khong biet")
        harness.wait_for(lambda: len(harness.inbox(st, a)) >= 3, 10, "the second re-prompt")
        print("ok: an invalid reply delivered twice while its COMMIT was on its way makes one re-prompt and "
              "counts once")


if __name__ == "__main__":
    main()
