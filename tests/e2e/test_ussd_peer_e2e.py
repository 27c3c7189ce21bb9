#!/usr/bin/env python3
"""USSD end to end against a USSD centre that is not ours: tests/peer/ussd.js
(npm `smpp`) plays the operator's USSD gateway with VENDOR op values (not
1/17/2/18), and the citizens: one answers every pushed screen; one ignores
the push and dials after the SMS invitation; one lets the push time out and
dials again; one drops after item 1 and dials again; one whose session the
network releases (vendor op 0x20) and who dials again; one dials without a
survey. Every screen must echo its_session_info, carry service_type USSD and
never be concatenated (checked by the peer). The archive must hold, with
channel `ussd`, exactly what the citizens keyed; the metrics count sessions."""
import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PEER = os.path.join(harness.ROOT, "tests", "peer")
QUESTIONS = ["access", "procedure", "officer", "result", "feedback"]
# vendor values: a gateway left at 1/17/2/18 would send its questions as final screens
OPS = {"pssr_indication": 0x01, "pssr_response": 0x12, "ussr_request": 0x11, "ussr_confirm": 0x02}
CODE = "*8088#"
PLANS = ["push", "ignore", "drop", "midway", "release"]


def main():
    if not os.path.isdir(os.path.join(PEER, "node_modules", "smpp")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEER, check=True)
    with harness.Stack() as st:
        harness.ussd_campaigns(st, [("invite_after: 10m", "invite_after: 6s")])
        st.start_redis()
        # a USSD campaign with no smpp entry that carries USSD: refused at start, with why
        try:
            st.start_gateway(st.write_config())
            raise AssertionError("hailongd started with a USSD campaign and no ussd: link")
        except RuntimeError as e:
            if "ussd.yaml:1: channel: ussd, but no smpp entry" not in str(e):
                raise AssertionError(f"unclear refusal: {e}")
        # an invitation that could reach a phone still in its session: refused
        try:
            st.start_gateway(st.write_config(extra_smsc="    ussd: {service_code: \"%s\", session_timeout: 10s}\n" % CODE))
            raise AssertionError("hailongd started with invite_after < session_timeout")
        except RuntimeError as e:
            if "invite_after (6s) is shorter than the session_timeout (10s) of smpp sim" not in str(e):
                raise AssertionError(f"unclear refusal: {e}")
        ops = ",".join(str(OPS[k]) for k in ("pssr_indication", "pssr_response", "ussr_request", "ussr_confirm"))
        citizens = {harness.citizen(i + 1): p for i, p in enumerate(PLANS)}
        none = harness.citizen(9)
        argv = ["node", os.path.join(PEER, "ussd.js"), str(st.smsc_port), "60", ops, CODE] + \
            ["%s:%s" % (m, p) for m, p in citizens.items()] + ["%s:none" % none]
        peer_out = open(os.path.join(st.dir, "peer.out"), "w+")
        peer = subprocess.Popen(argv, stdout=peer_out, stderr=open(os.path.join(st.dir, "peer.log"), "w"))
        try:
            harness.wait_for(lambda: st._port_open(st.smsc_port), 10, "node ussd centre")
            extra = ("    ussd:\n      service_code: \"%s\"\n      service_type: USSD\n"
                     "      ops: {pssr_indication: 0x01, pssr_response: 0x12, ussr_request: 0x11, ussr_confirm: 0x02}\n"
                     "      session_timeout: 5s\n" % CODE)
            st.start_gateway(st.write_config(extra_smsc=extra))
            for i, m in enumerate(citizens):
                code, body = st.trigger("0" + m[2:], "USSD-%d" % i, campaign="ussd-default")
                if code != 202:
                    raise AssertionError(f"trigger: {code} {body}")
            rc = peer.wait(timeout=90)
            if rc != 0:
                raise AssertionError("the node USSD centre failed:\n" +
                                     open(os.path.join(st.dir, "peer.log")).read()[-4000:] +
                                     "\n--- hailongd\n" + st.log_text("hailongd")[-3000:])

            def archived():
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("select count(*) from surveys where status='completed'").fetchone()[0]
            harness.wait_for(lambda: archived() == len(citizens), 20, "archive")
        finally:
            if peer.poll() is None:
                peer.kill()
        peer_out.seek(0)
        said, sms, done = {}, {}, {}
        for line in peer_out:
            e = json.loads(line)
            if "n" in e:
                # the last key for an item wins (an item keyed again after a resume)
                said.setdefault(e["msisdn"], {})[QUESTIONS[e["n"] - 1]] = 6 - int(e["key"])
            elif e.get("event") == "sms":
                sms.setdefault(e["msisdn"], []).append(e["text"])
            elif e.get("event") == "done":
                done[e["msisdn"]] = e
        with sqlite3.connect(st.db) as c:
            for i, m in enumerate(citizens):
                sid, ch, status = c.execute("select survey_id, channel, status from surveys where transaction_id=?",
                                            ("USSD-%d" % i,)).fetchone()
                if ch != "ussd" or status != "completed":
                    raise AssertionError(f"{m}: channel={ch} status={status}")
                got = {q: v for q, v in c.execute("select question_id, value from answers where survey_id=?", (sid,))}
                if got != said[m]:
                    raise AssertionError(f"{m} ({citizens[m]}): archived {got} != keyed {said[m]}")
        # exactly one invitation, to the citizen who ignored the push, naming the code
        inv = {m: t for m, t in sms.items()}
        ignore = [m for m, p in citizens.items() if p == "ignore"][0]
        if list(inv) != [ignore] or len(inv[ignore]) != 1 or CODE not in inv[ignore][0]:
            raise AssertionError(f"invitations: {inv}")
        if "khong co khao sat" not in done[none].get("final", "").lower():
            raise AssertionError(f"no-survey dial: {done[none]}")
        m = st.metrics()
        ev = lambda e: m.get('hailong_ussd_sessions_total{event="%s"}' % e, 0)  # noqa: E731
        # 5 pushes + 4 dials back (ignore, drop, midway, release) + the dial without a survey
        if ev("opened") != 10 or ev("resumed") != 4 or ev("completed") != 5 or ev("released") != 1:
            raise AssertionError(f"ussd metrics: {m}")
        if ev("timed_out") != 1 or m.get("hailong_ussd_invites_total", 0) != 1:
            raise AssertionError(f"ussd invite metrics: {m}")
        print(f"ok: {len(citizens)} USSD surveys (push, invite, drop, midway, release) completed against "
              f"node-smpp with vendor ops {OPS}; one invite; metrics opened={ev('opened')} resumed={ev('resumed')}")


if __name__ == "__main__":
    main()
