#!/usr/bin/env python3
"""End to end against an SMSC that is not ours: a Node.js script using the npm
package `smpp` plays the SMSC and the citizens; every survey completes and the
archive holds exactly what the citizens answered (the answers to question 2
carry 40 vendor TLVs each)."""
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PEER = os.path.join(harness.ROOT, "tests", "peer")
QUESTIONS = ["access", "procedure", "officer", "result", "feedback", "comment"]


def main():
    if not os.path.isdir(os.path.join(PEER, "node_modules", "smpp")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEER, check=True)
    citizens = [harness.citizen(i) for i in range(1, 6)]
    with harness.Stack() as st:
        st.start_redis()
        peer_out = open(os.path.join(st.dir, "peer.out"), "w+")
        peer = subprocess.Popen(["node", os.path.join(PEER, "smsc.js"), str(st.smsc_port), "60"] + citizens,
                                stdout=peer_out, stderr=open(os.path.join(st.dir, "peer.log"), "w"))
        try:
            harness.wait_for(lambda: st._port_open(st.smsc_port), 10, "node smsc")
            st.start_gateway()
            for i, m in enumerate(citizens):
                code, body = st.trigger("0" + m[2:], "NODE-%d" % i)
                if code != 202:
                    raise AssertionError(f"trigger: {code} {body}")
            rc = peer.wait(timeout=90)
            if rc != 0:
                raise AssertionError("the node SMSC saw unfinished surveys:\n" +
                                     open(os.path.join(st.dir, "peer.log")).read())

            def archived():
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("select count(*) from surveys where status='completed'").fetchone()[0]
            harness.wait_for(lambda: archived() == len(citizens), 20, "archive")
        finally:
            if peer.poll() is None:
                peer.kill()
        peer_out.seek(0)
        said = {}
        for line in peer_out:
            e = json.loads(line)
            if "n" in e:
                said.setdefault(e["msisdn"], {})[QUESTIONS[e["n"] - 1]] = e
        with sqlite3.connect(st.db) as c:
            for i, m in enumerate(citizens):
                sid = c.execute("select survey_id from surveys where transaction_id=?", ("NODE-%d" % i,)).fetchone()[0]
                got = {q: (v, t) for q, v, t in c.execute(
                    "select question_id, value, text from answers where survey_id=?", (sid,))}
                want = said[m]
                if set(got) != set(want):
                    raise AssertionError(f"{m}: archived {sorted(got)} != answered {sorted(want)}")
                for q, e in want.items():
                    exp = (e["value"], None) if "value" in e else (None, e["text"])
                    if got[q] != exp:
                        raise AssertionError(f"{m} {q}: archived {got[q]} != {exp}")
        peer_log = open(os.path.join(st.dir, "peer.log")).read()
        if "deliver_sm answered 194" in peer_log:  # ESME_RINVTLVLEN
            raise AssertionError("a reply with 40 vendor TLVs was refused:\n" + peer_log)
        log = st.log_text("hailongd")
        if "ESME_RTHROTTLED" not in log:
            raise AssertionError("the generic_nack ESME_RTHROTTLED was not seen in the gateway's log")
        m = st.metrics()
        if m.get('hailong_receipts_total{state="delivered"}', 0) < 1:
            raise AssertionError(f"no delivery receipt recognised: {m}")
        print(f"ok: {len(citizens)} surveys completed against node-smpp; receipts={m}")


if __name__ == "__main__":
    main()
