#!/usr/bin/env python3
"""The lease tick and the opt-outs' check do not stop the event loop
(docs/design.md, "Several gateways on one Redis"): the tick's renewal, REAP,
RECLAIM and the sweep of our sending and starting lists go on the
asynchronous connection, as a chain of replies, and so do the opt-outs'
marker check (every 5 s) and restore. Through a relay that holds every Redis
reply 350 ms (as a distant or loaded Redis answers), hailongd runs several
lease ticks while /healthz, answered by the loop without Redis, is asked
every 20 ms:

- no answer takes 0.3 s (a tick waiting for its four round trips on the
  loop, as it did on the synchronous connection, stopped it 3 s; the
  opt-outs' EXISTS there stopped it 0.35 s every 5 s);
- the lease is renewed every tick all the same (its TTL never falls below
  the lease less a tick and the delays), and never found lost;
- the sweep still does its work with its replies late: an entry written
  into our sending list by hand (a hand-over cut half-way) is given back to
  the outbox once and delivered once;
- a renewal that cannot be written (the lease key made a list: WRONGTYPE)
  ends its tick, as when the tick ran in place: a second such entry is not
  swept over two ticks; once the key is gone the next renewal finds the
  lease lost (and takes back what peers may have put back).

- at the start, nothing is taken into our own lists (a queued id, by the
  first POP) before our first renewal's reply has put us in hl:instances:
  a crash before that would leave those lists to no peer.

Fails if a tick blocks the loop, if the chain stalls (no renewal), if the
late replies make the sweep give back twice or never, or if our lists fill
before we are registered."""
import json
import os
import re
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, wait_for  # noqa: E402
from test_sweep_sending_e2e import given_back, instance, listed, renewals  # noqa: E402

check = harness.check
DELAY = 0.35


def healthz_latencies(st, stop, out):
    url = "http://127.0.0.1:%d/healthz" % st.http_port
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
            out.append((time.monotonic() - t0, t0))
        except OSError:
            out.append((5.0, t0))
        time.sleep(0.02)


# one atomic look (a script): read apart, the set and the lists could fall
# on either side of our SADD and the POP right behind it
UNREGISTERED = r"""
local member = {}
for _, i in ipairs(redis.call('SMEMBERS', 'hl:instances')) do member[i] = true end
local out = {}
for _, pat in ipairs({'hl:starting:*', 'hl:sending:*'}) do
  for _, k in ipairs(redis.call('KEYS', pat)) do
    if not member[string.match(k, ':([^:]+)$')] and redis.call('LLEN', k) > 0 then out[#out + 1] = k end
  end
end
return out
"""


def unregistered_holdings(st, stop, out):
    """Polls Redis until stop is set: a starting or sending list of an
    instance that hl:instances does not name, holding something."""
    t0 = time.time()
    while not stop.is_set() and time.time() - t0 < 30:
        try:
            for k in st.redis("EVAL", UNREGISTERED, "0").split():
                out.append((round(time.time() - t0, 3), k))
        except Exception:  # noqa: BLE001 (a poll missed: the next one counts)
            pass
        time.sleep(0.01)


def main():
    with harness.Stack() as st:
        st.start_redis()
        relay = harness.SlowRedis(st.redis_port, DELAY)
        stop = threading.Event()
        try:
            st.start_sim(3, seed=7, extra=["--no-reply-share", "1.0"])
            # a queued id with no survey behind it: the first POP moves it
            # into our starting list, which must never hold anything before
            # we are in hl:instances (a crash then would leave it to no peer)
            st.redis("RPUSH", "hl:queue", "0000000000ghost1")
            early, reg_stop = [], threading.Event()
            reg = threading.Thread(target=unregistered_holdings, args=(st, reg_stop, early), daemon=True)
            reg.start()
            st.start_gateway(relay.config(st, window=10))
            wait_for(lambda: "event=bound" in st.log_text("hailongd"), 10, "the bind")
            wait_for(lambda: st.redis("LLEN", "hl:queue") == "0", 10, "the queued id taken")
            time.sleep(4 * DELAY)  # its POP's reply, and the drop that follows
            reg_stop.set()
            reg.join(5)
            check(not early, f"our lists held something before we were in hl:instances: {early[:3]}")
            inst = instance(st)
            k_send = "hl:sending:sim:" + inst
            lease_s = 15  # redis.lease (harness default)
            to = "84919990002"  # no citizen of the simulator
            entry = json.dumps({"to": to, "text": "orphan entry, its sweep's replies late", "enc": 0,
                                "u": "lease-async-1"}, separators=(",", ":"))
            lat = []
            probe = threading.Thread(target=healthz_latencies, args=(st, stop, lat), daemon=True)
            probe.start()
            r0 = renewals(st, inst)
            st.redis("RPUSH", k_send, entry)
            ttl_low = lease_s
            t0 = time.time()
            while time.time() - t0 < 7.0 and not inbox(st, to):
                ttl_low = min(ttl_low, int(st.redis("TTL", "hl:inst:" + inst) or -2))
                time.sleep(0.1)
            wait_for(lambda: inbox(st, to), 4, "the orphan given back and delivered", step=0.05)
            wait_for(lambda: not listed(st, k_send, entry), 3, "the orphan off our sending list", step=0.05)
            r1 = wait_for(lambda: (lambda r: r if r >= r0 + 2 else 0)(renewals(st, inst)), 5,
                          "two lease ticks", step=0.05)
            stop.set()
            probe.join(6)
            m = st.metrics()
            got = inbox(st, to)
            # a renewal that cannot be written ends its tick: nothing more
            # (the lease key made a list: SET ... GET answers WRONGTYPE)
            k_lease = "hl:inst:" + inst
            refused = lambda: len(re.findall(r"lease.tick errors=\d+ err=\"[^\"]*WRONGTYPE",  # noqa: E731
                                             st.log_text("hailongd")))
            st.redis("DEL", k_lease)
            st.redis("RPUSH", k_lease, "not a lease")
            n0 = refused()
            to2 = "84919990003"
            entry2 = json.dumps({"to": to2, "text": "orphan entry, no renewal", "enc": 0, "u": "lease-async-2"},
                                separators=(",", ":"))
            st.redis("RPUSH", k_send, entry2)
            wait_for(lambda: refused() >= n0 + 2, 8, "two renewals refused", step=0.05)
            time.sleep(2 * DELAY + 0.3)  # a GIVEBACK the second tick sent would be back
            kept2 = listed(st, k_send, entry2) and not inbox(st, to2)
            st.redis("LREM", k_send, 0, entry2)
            st.redis("DEL", k_lease)
            wait_for(lambda: "ran out while redis was away" in st.log_text("hailongd"), 5,
                     "the next renewal to find the lease gone", step=0.05)
        finally:
            stop.set()
            st.stop_all()
            relay.close()
        worst = max(lat, default=(0, 0))[0]
        check(len(lat) > 50, f"only {len(lat)} /healthz answers sampled")
        check(worst < 0.3, f"/healthz took {worst:.2f} s while lease ticks ran: the loop waited for Redis")
        check(ttl_low >= lease_s - 2 - 4 * DELAY - 1,
              f"the lease TTL fell to {ttl_low} s (lease {lease_s} s): it was not renewed every tick")
        check(int(m.get("hailong_lease_lost_total", 0)) == 0, "the lease was found lost")
        check(len(got) == 1, f"the orphan was delivered {len(got)} times: {got}")
        check(given_back(st) == 1, f"the orphan given back {given_back(st)} times, want once")
        check(kept2, "with its renewal refused, a tick went on and swept our sending list")
        print(f"ok: every Redis reply {DELAY * 1000:.0f} ms late, {r1 - r0} lease ticks: /healthz answered "
              f"within {worst * 1000:.0f} ms ({len(lat)} asked), lease TTL never below {ttl_low} s, the orphan "
              f"given back and delivered once; with the renewal refused, nothing swept")


if __name__ == "__main__":
    main()
