#!/usr/bin/env python3
"""The sweep of our sending list (the lease tick's, gw_lease.c, docs/design.md step 4),
tested directly: at each lease tick (every 2 s) an entry of
hl:sending:{smsc}:{inst} that no session holds goes back to the outbox only
when the tick before saw it unheld too and no TAKE sent before that tick is
still on its way.

- orphan: an entry written into our sending list by hand, as a process that
  died half-way through a hand-over leaves it, held by no one. The first
  tick after it only notes it (it is still listed half a second after that
  tick); the second gives it back, and it is delivered exactly once, within
  two ticks. Fails if the sweep gives back at once, or never.
- window: first items held in the SMSC window across several ticks
  (submit_sm_resp 5 s late) are never given back and reach each citizen
  once. Fails if the sweep takes an entry in flight for an unheld one.
- take: 300 first items leave by TAKE (window 4, 120 messages a second)
  through a relay that holds
  every Redis reply 25 ms: a TAKE has moved its entries into our sending
  list long before its reply hands them to the session, so nearly every
  lease tick's sweep finds such entries held by no session. Given back at
  once, they go out twice (the TAKE's copy, and the outbox's); each citizen
  must get the first item exactly once, and nothing may be given back.
  (Without the relay a TAKE's reply is read within a loop pass or two and
  the sweep rarely meets one.)

Run one part with `test_sweep_sending_e2e.py orphan|window|take`; with none,
orphan and window run side by side, then take."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, sim_post, wait_for  # noqa: E402

check = harness.check
GIVEBACK_LOG = re.compile(r"held.by.no.session")  # the sweep's line for each entry it gives back


def given_back(st):
    return len(GIVEBACK_LOG.findall(st.log_text("hailongd")))


def instance(st):
    ids = st.redis("SMEMBERS", "hl:instances").split()
    check(len(ids) == 1, f"one instance registered, got {ids}")
    return ids[0]


def renewals(st, inst):
    """The lease's renewal count (its value is pid:renewals:where): one more
    at every lease tick, just before that tick's sweep."""
    v = st.redis("GET", "hl:inst:" + inst).split(":")
    return int(v[1]) if len(v) > 2 and v[1].isdigit() else -1


def next_tick(st, inst, after, timeout=5):
    return wait_for(lambda: (lambda r: r if r > after else 0)(renewals(st, inst)), timeout,
                    f"the lease tick after renewal {after}", step=0.01)


def listed(st, key, entry):
    return entry in st.redis("LRANGE", key, 0, -1).split("\n")


def start(st, citizens, window=10, seed=3):
    st.start_redis()
    st.start_sim(citizens, seed=seed, extra=["--no-reply-share", "1.0"])
    st.start_gateway(st.write_config(window=window))
    wait_for(lambda: "event=bound" in st.log_text("hailongd"), 10, "the bind")
    time.sleep(2.0)  # past the grace after a bind (GW_REBIND_GRACE_MS)


def orphan():
    with harness.Stack() as st:
        start(st, 3)
        inst = instance(st)
        k_send = "hl:sending:sim:" + inst
        to = "84919990001"  # no citizen of the simulator: nothing but this entry goes there
        entry = json.dumps({"to": to, "text": "orphan entry of a hand-over cut half-way", "enc": 0,
                            "u": "sweep-orphan-1"}, separators=(",", ":"))
        # write it just after a tick's sweep, so that the next tick is the
        # first to see it (the renewal is written before the sweep)
        for _ in range(5):
            r0 = next_tick(st, inst, renewals(st, inst))
            time.sleep(0.3)
            st.redis("RPUSH", k_send, entry)
            if renewals(st, inst) == r0:
                break
            st.redis("LREM", k_send, 0, entry)  # a tick came in between: again
        else:
            raise AssertionError("could not place the entry between two ticks")
        t0 = time.time()
        r1 = next_tick(st, inst, r0)
        time.sleep(0.5)
        check(renewals(st, inst) == r1, "a tick came too soon to tell the first sweep from the second")
        check(listed(st, k_send, entry),
              "the first tick that saw the orphan gave it back at once (the rule is: unheld at two ticks in a row)")
        check(inbox(st, to) == [], f"the orphan left before its second tick: {inbox(st, to)}")
        r2 = next_tick(st, inst, r1)
        wait_for(lambda: inbox(st, to), 2, "the orphan delivered after its second tick", step=0.02)
        took = time.time() - t0
        # the simulator lists a message when its submit_sm comes; our list
        # drops it when the submit_sm_resp is read and SENT is written
        wait_for(lambda: not listed(st, k_send, entry), 2,
                 "the orphan out of our sending list after it was sent", step=0.02)
        next_tick(st, inst, next_tick(st, inst, r2))  # two more ticks: nothing gives it back again
        time.sleep(0.3)
        got = inbox(st, to)
        check(len(got) == 1, f"the orphan was delivered {len(got)} times: {got}")
        check(given_back(st) == 1, f"given back {given_back(st)} times, want once")
        for k in (k_send, "hl:outbox:sim"):
            check(int(st.redis("LLEN", k) or 0) == 0, f"{k} not empty at the end")
        print(f"ok: orphan still listed after the first tick, given back at the second and delivered once "
              f"{took:.1f} s after it was written")


def window():
    n = 12
    with harness.Stack() as st:
        start(st, n, window=10)
        inst = instance(st)
        k_send = "hl:sending:sim:" + inst
        sim_post(st, "/faults", {"resp_delay_ms": 5000})
        for i in range(1, n + 1):
            code, body = st.trigger(harness.citizen(i), "SW-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        # a first item is two parts: five fill the window of 10
        wait_for(lambda: int(st.redis("LLEN", k_send) or 0) >= 4, 10, "first items in the window")
        r = renewals(st, inst)
        high = 0
        for _ in range(3):  # three sweeps while the window holds them
            r = next_tick(st, inst, r, timeout=6)
            time.sleep(0.2)
            high = max(high, int(st.redis("LLEN", k_send) or 0))
        sim_post(st, "/faults", {"reset": True})
        wait_for(lambda: all(inbox(st, harness.citizen(i)) for i in range(1, n + 1)), 30, "every first item")
        wait_for(lambda: int(st.redis("LLEN", k_send) or 0) == 0, 15, "the sending list emptied")
        next_tick(st, inst, next_tick(st, inst, renewals(st, inst)))
        time.sleep(0.3)
        twice = [(i, len(inbox(st, harness.citizen(i)))) for i in range(1, n + 1)
                 if len(inbox(st, harness.citizen(i))) != 1]
        check(not twice, f"citizens who got the first item more or less than once: {twice[:5]}")
        gave = given_back(st)
        check(gave == 0, f"{gave} entries held in the window were given back to the outbox")
        check(int(st.redis("LLEN", "hl:outbox:sim") or 0) == 0, "outbox not empty at the end")
        print(f"ok: {n} first items, up to {high} listed and held by the window over three sweeps "
              f"(responses 5 s late): none given back, each delivered once")


def take():
    n = int(os.environ.get("E2E_CITIZENS", "300"))
    delay = 0.025
    with harness.Stack() as st:
        st.start_redis()
        relay = harness.SlowRedis(st.redis_port, delay)
        try:
            st.start_sim(n, seed=5, extra=["--no-reply-share", "1.0"])
            # 120 messages a second (a first item is two parts): TAKEs keep
            # coming, one as each slot frees, for several lease ticks
            st.start_gateway(relay.config(st, window=4, tps=120))
            wait_for(lambda: "event=bound" in st.log_text("hailongd"), 10, "the bind")
            time.sleep(2.0)
            inst = instance(st)
            t0 = time.time()
            for b in range(0, n, 100):
                batch = [{"campaign": "default", "msisdn": harness.citizen(i), "transaction_id": "ST-%d" % i,
                          "agency": "ca-vinhphuc"} for i in range(b + 1, min(n, b + 100) + 1)]
                code, body = st.http("POST", "/v1/triggers", batch)
                check(code in (200, 202, 207), f"triggers {b + 1}..: {code} {body[:200]}")
            wait_for(lambda: all(inbox(st, harness.citizen(i)) for i in range(1, n + 1)), 120,
                     "every first item", step=0.3)
            took = time.time() - t0
            k_send = "hl:sending:sim:" + inst
            wait_for(lambda: int(st.redis("LLEN", k_send) or 0) == 0, 15, "the sending list emptied")
            next_tick(st, inst, next_tick(st, inst, renewals(st, inst), timeout=8), timeout=8)
            time.sleep(0.5)
            m = st.metrics()
            twice = [(i, len(inbox(st, harness.citizen(i)))) for i in range(1, n + 1)
                     if len(inbox(st, harness.citizen(i))) != 1]
        finally:
            st.stop_all()
            relay.close()
        gave = given_back(st)
        outbox = int(m.get('hailong_mt_handed_total{path="outbox"}', 0))
        check(not twice, f"citizens who got the first item more or less than once: {twice[:5]} "
                         f"({gave} entries given back)")
        check(gave == 0, f"{gave} entries a TAKE had moved were given back to the outbox")
        check(outbox >= n // 2, f"only {outbox} of {n} first items went through TAKE: the test proves little")
        check(took > 6, f"{n} first items in {took:.1f} s: fewer than three lease ticks under TAKE")
        print(f"ok: {n} first items, every Redis reply {delay * 1000:.0f} ms late, {outbox} by TAKE over "
              f"{took:.1f} s of lease ticks: none given back, each delivered once")


PARTS = {"orphan": orphan, "window": window, "take": take}

if __name__ == "__main__":
    if sys.argv[1:]:
        for name in sys.argv[1:]:
            PARTS[name]()
    else:
        # orphan and window (a few citizens each, mostly waiting for lease
        # ticks) side by side, then take alone
        harness.run_parts(__file__, ("orphan", "window"), ("take",))
