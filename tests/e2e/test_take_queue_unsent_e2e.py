#!/usr/bin/env python3
"""An item TAKE moved from the outbox into the session's queue has not left
while it waits there for a slot of the window, though TAKE raised its survey's
"sq": a reply of its citizen that comes meanwhile answers nothing (it was
typed before the item reached them: a copy of the answer before, or a word
sent before the question). With a window of 1 and the responses held 2 s
(the SMSC's pace not known yet, so the queue takes 64 parts: esme_room), the
first items of ten surveys triggered during the bind's grace all go through
the outbox into the session's queue, and wait there for seconds (the last
for some 30 s, until the test lets the responses go); the last survey's
citizen sends "1" while its first item still waits: the reply is counted in hailong_mo_before_item_total, and the
survey still stands at its first item, unanswered, once that item left.
Then a clean stop and a reload that re-binds the session, each while items
wait in the queue: those never left, so they go back to the outbox with
"sq" as it was and without "uq" (which would let a later reply answer an
item the citizen never saw), and each is delivered once."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import sim_post, wait_for  # noqa: E402

check = harness.check
N = 10


def queued(st, seed, base, prefix):
    """A gateway (window 1) whose responses are held 2 s, and N surveys
    triggered for numbers nobody answers for, until the last one's first
    item is taken into the session's queue (TAKE raised its sq to 0) and has
    not left. Returns (the config, the numbers, the last one's hash key)."""
    st.start_redis()
    st.start_sim(1, seed=seed)  # citizen 1 only: the surveys go to numbers nobody answers for
    cfg = st.write_config(window=1, tps=500)
    st.start_gateway(cfg)
    sim_post(st, "/faults", {"resp_delay_ms": 2000})  # one part on the wire at a time, every 2 s
    nums = [harness.citizen(base + i) for i in range(1, N + 1)]
    for i, n in enumerate(nums):
        code, body = st.trigger(n, "%s-%d" % (prefix, i))
        check(code == 202, f"trigger {i}: {code} {body}")
    key = "hl:c:" + nums[-1]
    wait_for(lambda: st.redis("HGET", key, "sq") == "0", 20, "the last survey's first item taken")
    check(not harness.inbox(st, nums[-1]), "the last survey's first item left already: the test proves nothing")
    return cfg, nums, key


def delivered_once(st, nums, after):
    wait_for(lambda: all(harness.inbox(st, n) for n in nums), 60, "every first item " + after)
    time.sleep(1.0)
    twice = [n for n in nums if len(harness.inbox(st, n)) != 1]
    check(not twice, f"first items not delivered exactly once: {twice}")


def main():
    with harness.Stack() as st:
        _, nums, key = queued(st, 3, 100, "TQ")
        last = nums[-1]
        sending = [e for k in st.redis("KEYS", "hl:sending:sim:*").split() for e in st.redis("LRANGE", k, 0, -1).splitlines()
                   if '"to":"%s"' % last in e]
        check(sending and all('"p":' not in e for e in sending),
              f"the last survey's first item was not taken by a TAKE: {sending}")
        early = st.metrics().get("hailong_mo_before_item_total", 0)
        harness.mo(st, last, "1")
        wait_for(lambda: st.metrics().get("hailong_mo_before_item_total", 0) > early, 10, "the reply read")
        check(not harness.inbox(st, last), "the last survey's first item left before its reply was read")
        sim_post(st, "/faults", {"reset": True})
        wait_for(lambda: len(harness.inbox(st, last)) >= 1, 60, "the last survey's first item to leave")
        time.sleep(1.0)  # (the reply's step, had it been taken, is written by now)
        late = st.metrics().get("hailong_mo_before_item_total", 0)
        q, ans = st.redis("HGET", key, "q"), st.redis("HGET", key, "a:access")
        check(q == "0" and ans == "",
              f"a reply that came before its item left was taken for an answer: q={q!r} a:access={ans!r}")
        check(late > early, "a reply that came while its item waited in the session's queue was not counted")
        print(f"ok: {N} first items through the outbox into the session's queue behind a window of 1; a reply "
              f"that came while its item waited there answered nothing")


def stop_while_queued():
    """A clean stop while items wait in the queue: they never left, so they
    go back to the outbox with sq as it was, not noted as items that may
    have reached the citizen ("uq", which lets a later reply answer them);
    the next gateway sends each once."""
    with harness.Stack() as st:
        cfg, nums, key = queued(st, 4, 200, "TS")
        last = nums[-1]
        st.stop("hailongd")
        uq, sq = st.redis("HGET", key, "uq"), st.redis("HGET", key, "sq")
        check(uq == "" and sq == "", f"an item that never left was put back as one that may have: uq={uq!r} sq={sq!r}")
        check(any('"to":"%s"' % last in e for e in st.redis("LRANGE", "hl:outbox:sim", 0, -1).splitlines()),
              "the item is not back in the outbox")
        sim_post(st, "/faults", {"reset": True})
        st.start_gateway(cfg)
        delivered_once(st, nums, "after the restart")
        print(f"ok: a clean stop with {N} first items queued put the unsent ones back with sq as it was (no uq); "
              f"each delivered once after the restart")


def reload_while_queued():
    """A reload that re-binds the session (its window changed) while items
    wait in its queue: they go back to the outbox as they never left (no
    "uq"), and the new session sends each once."""
    with harness.Stack() as st:
        _, nums, key = queued(st, 6, 300, "TR")
        last = nums[-1]
        st.write_config(window=2, tps=500)
        st.procs["hailongd"].send_signal(signal.SIGHUP)
        wait_for(lambda: "event=rebind " in st.log_text("hailongd"), 20, "the re-bind")
        check(not harness.inbox(st, last), "the last survey's first item left before the re-bind: proves nothing")
        uq = st.redis("HGET", key, "uq")
        check(uq == "", f"an item that never left was given back as one that may have: uq={uq!r}")
        sim_post(st, "/faults", {"reset": True})
        delivered_once(st, nums, "after the re-bind")
        uq = st.redis("HGET", key, "uq")
        check(uq == "", f"uq={uq!r} after the re-bind")
        print(f"ok: a re-bind with {N} first items queued gave the unsent ones back with sq as it was (no uq); "
              f"each delivered once by the new session")


if __name__ == "__main__":
    main()
    stop_while_queued()
    reload_while_queued()
