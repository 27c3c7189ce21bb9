#!/usr/bin/env python3
"""Several SMSC connections with routing by MSISDN prefix: two simulators,
one with a route for the prefix 8491000000 (citizens 1-9), the other the
default route. Every survey goes out and comes back through its own SMSC."""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = 20


check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=21, think="5-40")
        # a second SMSC: the same population, its own port, ledger and control API
        port_b, ctl_b = harness.free_port(), harness.free_port()
        ledger_b = os.path.join(st.dir, "ledger-b.jsonl")
        st._spawn("sim-b", [os.path.join(harness.BIN, "hailong-sim"), "--listen", "127.0.0.1:%d" % port_b,
                            "--system-id", "hailong", "--password", "secret",
                            "--campaign", os.path.join(st.campaigns, "default.yaml"), "--citizens", str(N),
                            "--ledger", ledger_b, "--seed", "22", "--think-ms", "5-40",
                            "--control", "127.0.0.1:%d" % ctl_b])
        harness.wait_for(lambda: st._port_open(port_b), 10, "the second simulator")
        extra = f"""    routes: ["8491000000"]
  - name: other
    host: 127.0.0.1
    port: {port_b}
    system_id: hailong
    password: secret
    source_addr: "8088"
    window: 10
    tps: 500
"""
        st.start_gateway(st.write_config(extra_smsc=extra))
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "RT-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")

        def done():
            with sqlite3.connect(st.db, timeout=5) as c:
                return c.execute("select count(*) from surveys where status='completed'").fetchone()[0]
        harness.wait_for(lambda: done() == N, 60, f"{N} surveys", step=0.3)

        def by_smsc():
            with sqlite3.connect(st.db, timeout=5) as c:
                return dict(c.execute("select smsc, count(distinct survey_id) from deliveries "
                                      "where survey_id is not null group by smsc").fetchall())
        # receipts come as from handsets, up to seconds after the response
        try:
            harness.wait_for(lambda: by_smsc().get("sim") == 9 and by_smsc().get("other") == N - 9, 15,
                             "a receipt through each SMSC", step=0.2)
        except TimeoutError:
            pass  # checked below
        a = st.stop_sim()
        st.stop("sim-b")

        def completed(path):
            with open(path, encoding="utf-8") as f:
                return {json.loads(l)["msisdn"] for l in f if '"completed"' in l}
        via_a, via_b = completed(st.ledger), completed(ledger_b)
        check(via_a == {harness.citizen(i) for i in range(1, 10)}, f"routed to 'sim': {sorted(via_a)}")
        check(via_b == {harness.citizen(i) for i in range(10, N + 1)}, f"default route: {sorted(via_b)}")
        smscs = by_smsc()
        check(smscs.get("sim") == 9 and smscs.get("other") == N - 9, f"deliveries by SMSC: {smscs}")
        print(f"ok: {len(via_a)} surveys through the routed SMSC, {len(via_b)} through the default one; {a['completed']}")


if __name__ == "__main__":
    main()
