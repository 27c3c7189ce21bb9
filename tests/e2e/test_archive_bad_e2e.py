#!/usr/bin/env python3
"""An unreadable record in the archive's line is kept in hl:archive:bad
once, also when the reply that says so is lost (docs/design.md, "A reply
lost ... never sent again"). Through a relay that holds every Redis reply
600 ms, an unreadable record is pushed to hl:archive; once Redis has
run the command that keeps it (hl:archive:bad holds it), and before its
reply comes, every connection is cut, then Redis is reached again:

- the record is in hl:archive:bad once: the batch, taken again from our
  list and written again, does not push it a second time (its RPUSH and
  the DEL of our list of the batch run together, in one script);
- nothing is left in our list of the batch, nor in the archive's line.

Fails on the build that sent the RPUSH and, on its reply, the DEL: with
that reply lost the batch stayed in our list and its record was pushed
again."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

check = harness.check
DELAY = 0.6
BAD = "not a record {"


def main():
    with harness.Stack() as st:
        st.start_redis()
        relay = harness.SlowRedis(st.redis_port, DELAY)
        try:
            st.start_sim(0)
            st.start_gateway(relay.config(st))
            wait_for(lambda: "event=bound" in st.log_text("hailongd"), 10, "the bind")
            wait_for(lambda: st.redis("SCARD", "hl:instances") == "1", 10, "the gateway registered")
            st.redis("RPUSH", "hl:archive", BAD)
            # its push has run in Redis, its reply is held in the relay: cut
            wait_for(lambda: st.redis("LLEN", "hl:archive:bad") != "0", 10, "the record pushed to hl:archive:bad",
                     step=0.02)
            relay.cut()
            time.sleep(0.3)
            relay.cut(False)
            wait_for(lambda: st.redis("LLEN", "hl:archive") == "0" and not any(
                st.redis("LLEN", k) != "0" for k in st.redis("KEYS", "hl:archiving:*").split()), 20,
                "the archive's line and our list of the batch empty", step=0.2)
            time.sleep(3 * DELAY + 1.0)  # a second batch written meanwhile would have pushed it by now
            bad = st.redis("LRANGE", "hl:archive:bad", 0, -1)
            relay.delay = 0.0
            exit_rc = st.stop("hailongd")
        finally:
            st.stop_all()
            relay.close()
        check(exit_rc == 0, f"hailongd exited {exit_rc}")
        check(bad == BAD, f"hl:archive:bad holds {bad!r}, want the unreadable record once")
        print("ok: an unreadable archive record kept in hl:archive:bad once, its reply lost with the connection")


if __name__ == "__main__":
    main()
