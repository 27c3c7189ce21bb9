#!/usr/bin/env python3
"""The lease outlives a slow Redis (docs/design.md, "Several gateways on one
Redis"). With `redis.lease: 5s` and every Redis reply held 1.8 s by a
relay (under the gateway's 2 s reply timeout), a lease tick whose sweep
gives an entry back (its renewal, then the sweep's LRANGE, then its
GIVEBACK, each behind the reply before) lasts more than 5 s. Orphan
entries are written into our sending list every 1.5 s, so that every tick
has one to give back. Ticks never overlap, so if only ticks renewed, the
lease would run out between two of them and the peers could reap a
gateway that is alive. While a tick is on its way, the 2 s timer sends a
renewal of its own:

- the lease key never disappears (its PTTL, read every 50 ms straight from
  Redis, stays above 0 for 14 s);
- the gateway never finds its lease lost (no "ran out" in its log);
- renewals go on at the timer's pace (its count, in the lease's value,
  grows by at least 5 in those 14 s);
- the orphans are still given back and delivered, each once.

Fails on the build whose timer skipped every renewal while a tick ran: the
lease ran out between two ticks (gone for about a second each time)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, wait_for  # noqa: E402
from test_sweep_sending_e2e import instance, renewals  # noqa: E402

check = harness.check
DELAY = 1.8
WATCH = 14.0


def main():
    with harness.Stack() as st:
        st.start_redis()
        relay = harness.SlowRedis(st.redis_port, 0.0)
        try:
            st.start_sim(3, seed=7, extra=["--no-reply-share", "1.0"])
            cfg = relay.config(st)
            with open(cfg) as f:
                text = f.read()
            with open(cfg, "w") as f:
                f.write(text.replace("\nredis:\n", "\nredis:\n  lease: 5s\n", 1))
            st.start_gateway(cfg)
            wait_for(lambda: st.redis("SCARD", "hl:instances") == "1", 10, "the gateway registered")
            inst = instance(st)
            key = "hl:inst:" + inst
            k_send = "hl:sending:sim:" + inst
            r0 = renewals(st, inst)
            relay.delay = DELAY
            low, gone_at, t0 = 10 ** 9, None, time.monotonic()
            orphans, pushed_at = [], -10.0
            while time.monotonic() - t0 < WATCH:
                if time.monotonic() - t0 - pushed_at >= 1.5:
                    to = "8491999%04d" % (len(orphans) + 1)  # no citizen of the simulator
                    orphans.append(to)
                    st.redis("RPUSH", k_send, json.dumps({"to": to, "text": "orphan entry, Redis slow", "enc": 0,
                                                          "u": "lease-slow-%d" % len(orphans)},
                                                         separators=(",", ":")))
                    pushed_at = time.monotonic() - t0
                p = int(st.redis("PTTL", key))
                low = min(low, p)
                if p < 0 and gone_at is None:
                    gone_at = time.monotonic() - t0
                time.sleep(0.05)
            r1 = renewals(st, inst)
            relay.delay = 0.0
            wait_for(lambda: all(inbox(st, to) for to in orphans), 20, "every orphan given back and delivered",
                     step=0.2)
            time.sleep(2.5)  # one more tick: nothing given back twice
            got = {to: len(inbox(st, to)) for to in orphans}
            log = st.log_text("hailongd")
            exit_rc = st.stop("hailongd")
        finally:
            st.stop_all()
            relay.close()
        check(exit_rc == 0, f"hailongd exited {exit_rc}")
        check(gone_at is None, f"the lease ran out {gone_at:.1f} s after Redis slowed down (lowest PTTL {low} ms)"
              if gone_at is not None else "")
        check("ran out" not in log, "the gateway found its lease lost")
        check(r1 - r0 >= 5, f"{r1 - r0} renewals in {WATCH:.0f} s (the timer runs every 2 s)")
        check(all(n == 1 for n in got.values()), f"orphans delivered other than once: {got}")
        print(f"ok: with every reply {DELAY:.1f} s late and a 5 s lease, the lease never ran out "
              f"(lowest PTTL {low} ms, {r1 - r0} renewals in {WATCH:.0f} s)")


if __name__ == "__main__":
    main()
