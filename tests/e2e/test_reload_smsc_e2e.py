#!/usr/bin/env python3
"""SIGHUP reloads the SMSC entries and their routes (issue 13), with surveys
running across the reloads (citizens of the simulator answering): a route
added applies to the next message without any re-bind; an entry whose
settings changed drains and binds again while the unchanged one keeps its
session; a broken file is refused with file:line, the running sessions
untouched; new entries bind; removed entries drain and hand their messages
over: a survey running through one goes on through the default entry, a
first item waiting in the outbox of one that never bound goes out through
the default entry, a message quiet hours hold for it is held for that one;
a removed name added again binds. The archive equals what the citizens
answered: nothing lost on the way. Then a removal that
SIGTERM cuts short is finished on the way out; and one while Redis is away
hands the messages over once it is back."""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import citizen, compare_with_ledger, completed_surveys, wait_for  # noqa: E402


check = harness.check



def main():
    with harness.Stack(workdir=os.environ.get("E2E_KEEP")) as st:
        st.start_redis()
        st.start_sim(5, think="700-1000")

        def write(tps=400, routes=("84910000002",), extra="", b=True):
            entry_b = harness.smsc_entry("b", st.smsc_port, tps, routes) if b else ""
            return st.write_config(extra_smsc=entry_b + extra)

        path = write()
        st.start_gateway(path)
        log = lambda: st.log_text("hailongd")  # noqa: E731
        bound = lambda peer: len(re.findall(r"peer=%s event=bound " % peer, log()))  # noqa: E731
        wait_for(lambda: bound("sim") == 1 and bound("b") == 1, 10, "both entries bound")

        def hup(marker):
            n = log().count(marker)
            st.procs["hailongd"].send_signal(signal.SIGHUP)
            wait_for(lambda: log().count(marker) > n, 5, f"{marker} after SIGHUP")

        for i in (1, 2):
            check(st.trigger(citizen(i), "RS-%d" % i)[0] == 202, f"trigger {i}")
        wait_for(lambda: "peer=b event=submit" in log() and "peer=sim event=submit" in log(), 10, "first items")
        check(re.search(r"peer=b event=submit \S+ to=84910\*\*\*002", log()), "citizen 2 not sent through b")
        # 1. a route added to b: no re-bind, the next survey for that number goes through b
        path = write(routes=("84910000002", "84910000003"))
        hup("event=config ")
        check(bound("sim") == 1 and bound("b") == 1 and "rebind" not in log(), "a route change re-bound a session")
        check(st.trigger(citizen(3), "RS-3")[0] == 202, "trigger 3")
        wait_for(lambda: re.search(r"peer=b event=submit \S+ to=84910\*\*\*003", log()), 10, "citizen 3 through b")
        # 2. b's settings change: b drains and binds again, sim keeps its session
        path = write(tps=300, routes=("84910000002", "84910000003"))
        hup("event=config ")
        wait_for(lambda: "peer=b event=rebind " in log() and bound("b") == 2, 15, "b bound again")
        check(bound("sim") == 1, "the unchanged entry was re-bound")
        check(re.search(r"peer=b event=rebind_start", log()) and "peer=sim event=rebind" not in log(), "rebind log")
        # 3. a broken file: refused with file:line; nothing re-bound
        with open(path) as f:
            good = f.read()
        with open(path, "w") as f:
            f.write(good.replace("    tps: 300\n", "    tps: 300000000\n", 1))
        hup("event=config_refused")
        line = [l for l in log().splitlines() if "event=config_refused" in l][-1]
        check(re.search(re.escape(os.path.basename(path)) + r":\d+: smpp b: tps", line), f"no file:line: {line}")
        # 4. new entries bind: c, and d whose SMSC is not there (its first item waits in its outbox)
        extra = harness.smsc_entry("c", st.smsc_port, 100, ["84919"])
        extra += harness.smsc_entry("d", harness.free_port(), 100, ["84910000004"])
        routes_b = ("84910000002", "84910000003", "84910000005")
        path = write(tps=300, routes=routes_b, extra=extra)
        hup("event=config ")
        wait_for(lambda: bound("c") == 1, 10, "c bound")
        m = st.metrics()
        check(m.get('hailong_smsc_bound{smsc="c"}') == 1 and m.get("hailong_sessions_bound") == 3, f"metrics: {m}")
        check(st.trigger(citizen(4), "RS-4")[0] == 202, "trigger 4")
        wait_for(lambda: st.redis("LLEN", "hl:outbox:d") == "1", 10, "citizen 4's first item waiting for d")
        # and a message quiet hours hold for d until tomorrow (as COMMIT writes one: "seq|entry")
        held = '%020d|{"to":"84910000004","text":"held","enc":0}' % 7
        release = str(int(time.time()) + 86400)
        check(st.redis("ZADD", "hl:held:d", release, held) == "1", "held message")
        # 5. b and d removed while b has a submit_sm in flight (its response 2.5 s late: still
        # in flight at the SIGHUP on a slow machine) and d an item waiting: b drains (the
        # response comes, then unbind), their messages go to sim
        harness.sim_post(st, "/faults", {"resp_delay_ms": 2500})
        check(st.trigger(citizen(5), "RS-5")[0] == 202, "trigger 5")
        wait_for(lambda: re.search(r"peer=b event=submit \S+ to=84910\*\*\*005", log()), 10, "citizen 5 through b")
        entry_c = extra.split("  - name: d")[0]
        path = write(extra=entry_c, b=False)
        hup("event=config ")
        harness.sim_post(st, "/faults", {"reset": True})
        check(re.search(r"peer=b event=shutdown state=3 inflight=[1-9]", log()), "b had nothing in flight")
        wait_for(lambda: "peer=b event=smsc_retired" in log() and "peer=d event=smsc_retired" in log(), 15,
                 "b and d retired")
        check(re.search(r"peer=d event=smsc_retired moved=1 held_moved=1 ", log()), "d's messages not handed over")
        check(st.redis("ZSCORE", "hl:held:sim", held) == release and st.redis("EXISTS", "hl:held:d") == "0",
              "d's held message not in sim's, with its release time")
        check(st.redis("LLEN", "hl:outbox:d") == "0" and st.redis("LLEN", "hl:outbox:b") == "0", "outboxes left")
        wait_for(lambda: re.search(r"peer=sim event=submit \S+ to=84910\*\*\*004", log()), 10, "citizen 4 via sim")
        m = st.metrics()
        check(m.get("hailong_sessions_bound") == 2 and 'hailong_smsc_bound{smsc="b"}' not in m and
              'hailong_outbox_depth{smsc="d"}' not in m and m.get('hailong_smsc_bound{smsc="c"}') == 1,
              f"metrics after removal: {m}")
        check(bound("sim") == 1 and bound("c") == 1, "a removal touched the other sessions")
        # 6. b added again: binds (in a retired slot)
        path = write(tps=300, routes=("84910000099",), extra=entry_c)
        hup("event=config ")
        wait_for(lambda: bound("b") == 3, 10, "b bound again after its removal")
        # everything finished, exactly as the citizens answered
        wait_for(lambda: completed_surveys(st, "RS-%") == 5, 40, "5 surveys completed", step=0.2)
        harness.wait_thanked(st, 5)
        compare_with_ledger(st, "RS-", 5)
        # 7. b removed again with a submit_sm in flight, and SIGTERM during its drain: the
        # drain finishes it, the hand-over is done on the way out, exit 0
        harness.sim_post(st, "/faults", {"resp_delay_ms": 2500})  # (in flight at SIGTERM, on a slow machine too)
        check(st.trigger("84910000099", "RZ-1")[0] == 202, "trigger through b")
        wait_for(lambda: re.search(r"peer=b event=submit \S+ to=84910\*\*\*099", log()), 10, "submit through b")
        write(extra=entry_c, b=False)
        hup("event=smsc_remove_start")
        st.procs["hailongd"].send_signal(signal.SIGTERM)
        check(st.stop("hailongd") == 0, "hailongd did not exit 0:\n" + log()[-3000:])
        tail = log().split("event=drain ")[-1]
        check("peer=b event=smsc_retired" in tail and "peer=b event=smsc_removed" not in tail, f"stop: {tail}")
        print("ok: SIGHUP: routes without re-bind, a changed entry re-bound while the other kept its session,"
              " a broken file refused, new entries bound, removed entries drained and handed their messages"
              " over, a removed name bound again; the archive equals the ledger; a removal cut by SIGTERM finished")


def removal_while_redis_away():
    """An entry removed while Redis is away: its session goes, its waiting
    item is handed over once Redis is back (retried each second)."""
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(4, think="100-200")
        entry_d = harness.smsc_entry("d", harness.free_port(), 100, ["84910000004"])
        st.start_gateway(st.write_config(extra_smsc=entry_d))
        log = lambda: st.log_text("hailongd")  # noqa: E731
        check(st.trigger(citizen(4), "RA-4")[0] == 202, "trigger")
        wait_for(lambda: st.redis("LLEN", "hl:outbox:d") == "1", 10, "the first item waiting for d")
        st.stop("redis")
        st.write_config()
        st.procs["hailongd"].send_signal(signal.SIGHUP)
        wait_for(lambda: "peer=d event=smsc_removed" in log(), 5, "d's session gone")
        time.sleep(1.3)  # a retry came and went
        check("peer=d event=smsc_retired" not in log(), "retired while Redis was away")
        st.start_redis()  # same port, same AOF
        wait_for(lambda: re.search(r"peer=d event=smsc_retired moved=1 ", log()), 10, "handed over once Redis is back")
        wait_for(lambda: completed_surveys(st, "RA-%") == 1, 30, "the survey completed through sim", step=0.2)
        print("ok: an entry removed while Redis was away handed its messages over once it came back")


if __name__ == "__main__":
    main()
    removal_while_redis_away()
