#!/usr/bin/env python3
"""SIGHUP reloads the SMSC entries and their routes (issue 13), with surveys
running across the reloads (citizens of the simulator answering): a route
added applies to the next message without any re-bind; an entry whose
settings changed drains and binds again while the unchanged one keeps its
session; a new entry binds; a broken file is refused with file:line and a
removed entry is refused, the running sessions untouched. At the end the
archive equals what the citizens answered: nothing lost on the way."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import citizen, compare_with_ledger, completed_surveys, wait_for  # noqa: E402


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


ENTRY_B = """  - name: b
    host: 127.0.0.1
    port: {port}
    system_id: hailong
    password: secret
    source_addr: "8088"
    window: 10
    tps: {tps}
    routes: [{routes}]
"""


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(3, think="700-1000")

        def write(tps=400, routes='"84910000002"', extra=""):
            return st.write_config(extra_smsc=ENTRY_B.format(port=st.smsc_port, tps=tps, routes=routes) + extra)

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
        path = write(routes='"84910000002", "84910000003"')
        hup("event=config ")
        check(bound("sim") == 1 and bound("b") == 1 and "rebind" not in log(), "a route change re-bound a session")
        check(st.trigger(citizen(3), "RS-3")[0] == 202, "trigger 3")
        wait_for(lambda: re.search(r"peer=b event=submit \S+ to=84910\*\*\*003", log()), 10, "citizen 3 through b")
        # 2. b's settings change: b drains and binds again, sim keeps its session
        path = write(tps=300, routes='"84910000002", "84910000003"')
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
        # 4. an entry removed: refused, the sessions stay
        with open(path, "w") as f:
            f.write(good.split("  - name: b")[0] + "redis:" + good.split("redis:", 1)[1])
        hup("event=config_refused")
        line = [l for l in log().splitlines() if "event=config_refused" in l][-1]
        check("smpp b: an entry cannot be removed" in line, f"removal: {line}")
        check(bound("sim") == 1 and bound("b") == 2, "a refused reload touched the sessions")
        # 5. a new entry binds
        extra = ENTRY_B.format(port=st.smsc_port, tps=100, routes='"84919"').replace("name: b", "name: c")
        path = write(tps=300, routes='"84910000002", "84910000003"', extra=extra)
        hup("event=config ")
        wait_for(lambda: bound("c") == 1, 10, "c bound")
        m = st.metrics()
        check(m.get('hailong_smsc_bound{smsc="c"}') == 1 and m.get("hailong_sessions_bound") == 3, f"metrics: {m}")
        # everything finished, exactly as the citizens answered
        wait_for(lambda: completed_surveys(st, "RS-%") == 3, 40, "3 surveys completed", step=0.2)
        harness.wait_thanked(st, 3)
        compare_with_ledger(st, "RS-", 3)
        print("ok: SIGHUP: routes without re-bind, a changed entry re-bound while the other kept its session,"
              " a new entry bound; broken and removing files refused; the archive equals the ledger")


if __name__ == "__main__":
    main()
