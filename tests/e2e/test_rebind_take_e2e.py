#!/usr/bin/env python3
"""A reload's sweep gives back at once what no session holds, but not an
entry a TAKE sent after its LRANGE may be moving into a session
(docs/design.md, the sweep's two-phase rule). Through a relay that holds
every Redis reply 1.8 s (under the 2 s deadline of the asynchronous
connection), a SIGHUP re-binds b while a TAKE of b's outbox is on its way:

- that TAKE's reply finds the session replaced: its messages go back to the
  outbox (PUTBACK, sent after the sweep's LRANGE, which listed them);
- the new session binds, and 1.5 s later (the grace after a bind) a TAKE
  moves them into our sending list again, before the LRANGE's reply comes;
- the sweep must not give them back then: they are on their way to the new
  session, and a GIVEBACK would put a copy in the outbox to be sent again.

Every message of b is delivered exactly once. Fails on the build whose
reload sweep gave back at once whatever a TAKE on its way held."""
import json
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, wait_for  # noqa: E402

check = harness.check
DELAY = 1.8
N_B = 40


def entry(to, tag):
    return json.dumps({"to": to, "text": "rebind take " + tag, "enc": 0, "u": tag}, separators=(",", ":"))


def main():
    with harness.Stack() as st:
        st.start_redis()
        relay = harness.SlowRedis(st.redis_port, 0.0)
        try:
            st.start_sim(3, seed=7, extra=["--no-reply-share", "1.0"])

            def write(tps):
                return relay.config(st, extra_smsc=harness.smsc_entry("b", st.smsc_port, tps, ["849198"], window=2))

            st.start_gateway(write(4))
            log = lambda: st.log_text("hailongd")  # noqa: E731
            bound = lambda peer: len(re.findall(r"peer=%s event=bound " % peer, log()))  # noqa: E731
            wait_for(lambda: bound("sim") == 1 and bound("b") == 1, 10, "sim and b bound")
            to_b = ["849198%05d" % k for k in range(N_B)]
            st.redis("RPUSH", "hl:outbox:b", *[entry(t, "b%d" % k) for k, t in enumerate(to_b)])
            wait_for(lambda: inbox(st, to_b[1]), 10, "b sending")
            relay.delay = DELAY
            time.sleep(DELAY + 0.5)  # late replies now, and b's next TAKE on its way
            write(5)
            n0 = log().count("event=config ")
            st.procs["hailongd"].send_signal(signal.SIGHUP)
            wait_for(lambda: log().count("event=config ") > n0, 30, "the reload")
            wait_for(lambda: "peer=b event=rebind " in log() and bound("b") == 2, 20, "b bound again")
            wait_for(lambda: all(inbox(st, t) for t in to_b), 90, "every message of b delivered", step=0.3)
            time.sleep(2 * DELAY + 1.0)  # a copy on its way would be in by now
            got = {t: len(inbox(st, t)) for t in to_b}
            given = log().count("sending_entry_held_by_no_session")
            drops = log().count("redis_async_drop")  # a reply past the 2 s deadline (a loaded machine)
            left = {k: st.redis("LLEN", k) for k in ["hl:outbox:b"] + st.redis("KEYS", "hl:sending:*").split()}
            relay.delay = 0.0
            exit_rc = st.stop("hailongd")
        finally:
            st.stop_all()
            relay.close()
        twice = {t: n for t, n in got.items() if n != 1}
        check(exit_rc == 0, f"hailongd exited {exit_rc}")
        check(not twice, f"b's messages not delivered exactly once ({given} given back by a sweep, {drops} "
                         f"connections dropped): {sorted(twice.items())[:8]}")
        check(all(v == "0" for v in left.values()), f"lists left: {left} ({drops} connections dropped)")
        print(f"ok: every Redis reply {DELAY * 1000:.0f} ms late, b re-bound with a TAKE on its way: each of its "
              f"{N_B} messages delivered once ({given} entries given back by a sweep)")


if __name__ == "__main__":
    main()
