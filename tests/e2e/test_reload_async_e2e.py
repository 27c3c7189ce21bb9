#!/usr/bin/env python3
"""A reload does not stop the event loop (docs/design.md, "Still on the
synchronous connection"): a re-bound entry's PUTBACK of what its old
session never sent, the sweep of its sending list, and a removed entry's
hand-over of its outbox and held messages go on the asynchronous connection.
Through a relay that holds every Redis reply 600 ms, a SIGHUP re-binds b
(its settings changed) while its session has messages queued and in flight,
and removes d (an SMSC never reached) whose outbox holds more than one
batch (200) of messages and whose held zset holds two; /healthz, answered by
the loop without Redis, is asked every 20 ms throughout:

- no answer takes 0.3 s (the reload's round trips on the synchronous
  connection held the loop 0.6 s each: about a dozen of them here);
- every message of b and d is delivered exactly once (nothing lost with
  the old session, nothing sent twice by the sweep), d's held messages are
  in sim's held zset with their release time, and no list is left behind;
- an unreadable record in hl:archive is kept in hl:archive:bad once (its
  RPUSH and the DEL of our list of the batch in one script).

Fails if a reload's Redis command waits on the loop again, or if the late
replies make the sweep or the hand-over lose or repeat a message."""
import json
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, wait_for  # noqa: E402
from test_lease_async_e2e import healthz_latencies  # noqa: E402

check = harness.check
DELAY = 0.6
N_B, N_D = 30, 260


def entry(to, tag):
    return json.dumps({"to": to, "text": "reload async " + tag, "enc": 0, "u": tag}, separators=(",", ":"))


def main():
    with harness.Stack() as st:
        st.start_redis()
        relay = harness.SlowRedis(st.redis_port, 0.0)
        stop = threading.Event()
        lat = []
        try:
            st.start_sim(3, seed=5, extra=["--no-reply-share", "1.0"])
            d_port = harness.free_port()  # nothing listens there: d never binds

            def write(b_tps, with_d):
                extra = harness.smsc_entry("b", st.smsc_port, b_tps, ["849198"])
                if with_d:
                    extra += harness.smsc_entry("d", d_port, 100, ["849199"])
                return relay.config(st, extra_smsc=extra)

            st.start_gateway(write(5, True))
            log = lambda: st.log_text("hailongd")  # noqa: E731
            bound = lambda peer: len(re.findall(r"peer=%s event=bound " % peer, log()))  # noqa: E731
            wait_for(lambda: bound("sim") == 1 and bound("b") == 1, 10, "sim and b bound")
            to_b = ["849198%05d" % k for k in range(N_B)]
            to_d = ["849199%05d" % k for k in range(N_D)]
            st.redis("RPUSH", "hl:outbox:d", *[entry(t, "d%d" % k) for k, t in enumerate(to_d)])
            held = ['%020d|%s' % (k + 1, entry("8491990999%d" % k, "h%d" % k)) for k in range(2)]
            release = str(int(time.time()) + 86400)
            for h in held:
                st.redis("ZADD", "hl:held:d", release, h)
            # b sends 5 a second: at the SIGHUP its session has some in
            # flight and a window's worth queued, never written to the SMSC
            st.redis("RPUSH", "hl:outbox:b", *[entry(t, "b%d" % k) for k, t in enumerate(to_b)])
            wait_for(lambda: inbox(st, to_b[3]), 10, "b sending")
            relay.delay = DELAY
            time.sleep(DELAY + 0.2)  # the replies in the pipe now are late too
            probe = threading.Thread(target=healthz_latencies, args=(st, stop, lat), daemon=True)
            probe.start()
            time.sleep(0.3)
            write(300, False)
            n0 = log().count("event=config ")
            st.procs["hailongd"].send_signal(signal.SIGHUP)
            wait_for(lambda: log().count("event=config ") > n0, 30, "the reload")
            wait_for(lambda: "peer=b event=rebind " in log() and bound("b") == 2, 20, "b bound again")
            wait_for(lambda: "peer=d event=smsc_retired" in log(), 30, "d retired")
            wait_for(lambda: all(inbox(st, t) for t in to_b[-3:] + to_d[-3:]), 60, "the last messages delivered",
                     step=0.2)
            # an unreadable record in the archive's line: kept in
            # hl:archive:bad (once), then our list of the batch cleared
            st.redis("RPUSH", "hl:archive", "not a record {")
            wait_for(lambda: st.redis("LLEN", "hl:archive:bad") != "0", 10, "the record kept in hl:archive:bad")
            time.sleep(2 * DELAY + 0.5)  # a copy on its way would be in by now
            stop.set()
            probe.join(6)
            got_b = {t: len(inbox(st, t)) for t in to_b}
            got_d = {t: len(inbox(st, t)) for t in to_d}
            m = re.search(r"peer=d event=smsc_retired moved=(\d+) held_moved=(\d+)", log())
            putback = re.search(r"peer=b event=putback_unsent n=([1-9]\d*)", log())
            left = {k: st.redis("LLEN", k) for k in ("hl:outbox:d", "hl:outbox:b", "hl:outbox:sim")}
            left.update({k: st.redis("LLEN", k) for k in st.redis("KEYS", "hl:sending:*").split()})
            left.update({k: st.redis("LLEN", k) for k in st.redis("KEYS", "hl:archiving:*").split()})
            bad = st.redis("LRANGE", "hl:archive:bad", 0, -1)
            zheld = [st.redis("ZSCORE", "hl:held:sim", h) for h in held]
            dheld = st.redis("EXISTS", "hl:held:d")
            relay.delay = 0.0
            exit_rc = st.stop("hailongd")  # (under ASan: a report makes it non-zero)
        finally:
            stop.set()
            st.stop_all()
            relay.close()
        worst = max(lat, default=(0, 0))[0]
        check(exit_rc == 0, f"hailongd exited {exit_rc}")
        check(len(lat) > 100, f"only {len(lat)} /healthz answers sampled")
        check(worst < 0.3, f"/healthz took {worst:.2f} s during the reload: the loop waited for Redis")
        check(putback, "b's old session had nothing queued at the SIGHUP: the PUTBACK was not exercised")
        bad_b = {t: n for t, n in got_b.items() if n != 1}
        bad_d = {t: n for t, n in got_d.items() if n != 1}
        check(not bad_b, f"b's messages not delivered exactly once: {sorted(bad_b.items())[:8]}")
        check(not bad_d, f"d's messages not delivered exactly once: {sorted(bad_d.items())[:8]}")
        check(m and int(m.group(1)) == N_D and int(m.group(2)) == 2, f"d's hand-over counted {m and m.groups()}")
        check(zheld == [release, release] and dheld == "0", f"d's held messages not in sim's: {zheld} {dheld}")
        check(all(v == "0" for v in left.values()), f"lists left: {left}")
        check(bad == "not a record {", f"hl:archive:bad holds {bad!r}, want the unreadable record once")
        print(f"ok: every Redis reply {DELAY * 1000:.0f} ms late, a reload re-bound b ({putback.group(1)} unsent "
              f"put back) and removed d ({N_D} + 2 held handed over), an unreadable archive record kept: /healthz answered "
              f"within {worst * 1000:.0f} ms ({len(lat)} asked); each of the {N_B + N_D} messages delivered once")


if __name__ == "__main__":
    main()
