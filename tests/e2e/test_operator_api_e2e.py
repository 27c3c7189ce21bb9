#!/usr/bin/env python3
"""The operator's API (issue 13): POST /v1/surveys/{id}/cancel and POST
/v1/optouts, with a real redis-server, the
simulator and hailongd: a running survey is ended and archived `cancelled`
with the token's name; the citizen gets no further question, even when they
answer; a survey waiting behind another is cancelled without touching the
running one; a token of another agency gets 404; an unknown id 404; a
finished survey 409 naming its status; GET without POST 405.
POST /v1/optouts: the opt-out is in Redis and in the archive with source
api, the citizen's running survey ends opted_out with no more questions,
their next trigger is suppressed; again = 200 not new; bad input 400."""
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, mo, wait_for  # noqa: E402


check = harness.check


def row(st, sid):
    try:
        with sqlite3.connect(st.db, timeout=5) as c:
            return c.execute("select status, reason, cancelled_by from surveys where survey_id=?", (sid,)).fetchone()
    except sqlite3.Error:
        return None


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0, think="5")
        st.start_gateway()
        a, b = "84915000001", "84915000002"

        def cancel(sid, token=harness.TOKEN):
            code, text = st.http("POST", "/v1/surveys/%s/cancel" % sid, {}, token=token)
            return code, json.loads(text)

        code, body = st.trigger(a, "TX-C1", agency="ca-vinhphuc")
        check(code == 202, f"trigger A: {code} {body}")
        sa = body["survey_id"]
        code, body = st.trigger(b, "TX-C2", agency="tp-hanoi")
        check(code == 202, f"trigger B: {code} {body}")
        sb = body["survey_id"]
        wait_for(lambda: len(inbox(st, a)) >= 1 and len(inbox(st, b)) >= 1, 10, "the first questions")
        # a token of another agency: as if it did not exist
        code, s = cancel(sb, token="police-token")
        check(code == 404, f"police cancels B (tp-hanoi): {code} {s}")
        check(st.http("GET", "/v1/surveys/" + sb)[0] == 200, "B still there")
        check(cancel("0123456789abcdef")[0] == 404, "unknown id")
        check(cancel("../etc")[0] == 404, "odd id")
        check(cancel(sa, token="wrong")[0] == 401, "bad token")
        check(st.http("GET", "/v1/surveys/%s/cancel" % sa)[0] == 405, "GET on cancel")
        # the police token cancels its own survey
        code, s = cancel(sa, token="police-token")
        check(code == 200 and s == {"survey_id": sa, "status": "cancelled", "cancelled_by": "only-police"},
              f"cancel A: {code} {s}")
        wait_for(lambda: row(st, sa), 10, "A archived")
        check(row(st, sa) == ("cancelled", "cancelled through the API", "only-police"), f"A's row: {row(st, sa)}")
        code, text = st.http("GET", "/v1/surveys/" + sa)
        s = json.loads(text)
        check(code == 200 and s["running"] is False and s["status"] == "cancelled"
              and s["cancelled_by"] == "only-police", f"GET A: {code} {s}")
        # the citizen answers anyway: no next question, no notice
        n = len(inbox(st, a))
        mo(st, a, "1")
        time.sleep(1.5)
        check(len(inbox(st, a)) == n, f"A got more after the cancel: {inbox(st, a)[n:]}")
        # cancelling it again, or a finished survey: 409 with its status
        code, s = cancel(sa)
        check(code == 409 and s.get("status") == "cancelled" and "already finished" in s["error"], f"again: {code} {s}")
        mo(st, b, "HUY")
        wait_for(lambda: row(st, sb), 10, "B archived")
        code, s = cancel(sb)
        check(code == 409 and s["status"] == "opted_out", f"cancel of an opted-out survey: {code} {s}")
        # a survey waiting behind the citizen's running one: cancelled alone
        c = "84915000003"
        code, body = st.trigger(c, "TX-C3")
        sc1 = body["survey_id"]
        wait_for(lambda: len(inbox(st, c)) >= 1, 10, "C's first question")
        code, body = st.trigger(c, "TX-C4")
        sc2 = body["survey_id"]
        wait_for(lambda: json.loads(st.http("GET", "/v1/surveys/" + sc2)[1]).get("status") == "waiting", 10,
                 "C's second survey waiting")
        code, s = cancel(sc2)
        check(code == 200, f"cancel the waiting one: {code} {s}")
        wait_for(lambda: row(st, sc2), 10, "C's waiting survey archived")
        check(row(st, sc2)[0] == "cancelled" and row(st, sc2)[2] == "e2e", f"C2: {row(st, sc2)}")
        n = len(inbox(st, c))
        mo(st, c, "1")
        wait_for(lambda: len(inbox(st, c)) > n, 10, "C's running survey goes on")
        s = json.loads(st.http("GET", "/v1/surveys/" + sc1)[1])
        check(s["running"] is True and s["item"] == 2, f"C1 after the cancel of C2: {s}")
        m = st.metrics()
        check(m.get('hailong_surveys_finished_total{status="cancelled"}') == 2, f"metrics: {m}")
        # POST /v1/optouts: the citizen C (survey C1 running) opts out through a one-stop office
        def optout(body, token=harness.TOKEN):
            code, text = st.http("POST", "/v1/optouts", body, token=token)
            return code, json.loads(text)
        check(optout({"msisdn": "0915000003"}, token="wrong")[0] == 401, "opt-out without a valid token")
        for bad in ({"msisdn": "12345"}, {"msisdn": 915000003}, {}, {"msisdn": "0915000003", "x": 1}, []):
            code, s = optout(bad)
            check(code == 400, f"bad opt-out {bad}: {code} {s}")
        check(st.http("GET", "/v1/optouts")[0] == 405, "GET /v1/optouts")
        n = len(inbox(st, c))
        code, s = optout({"msisdn": "+84 915 000 003"})
        check(code == 201 and s == {"optout": True, "new": True, "survey_ended": sc1}, f"opt-out C: {code} {s}")
        hc = harness.msisdn_hash(c)
        check(st.redis("SISMEMBER", "hl:optout", hc) == "1", "not in hl:optout")

        def optrow():
            try:
                with sqlite3.connect(st.db, timeout=5) as con:
                    return con.execute("select source from optouts where msisdn_hash=?", (hc,)).fetchone()
            except sqlite3.Error:
                return None
        wait_for(optrow, 10, "the opt-out archived")
        check(optrow() == ("api",), f"optouts row: {optrow()}")
        wait_for(lambda: row(st, sc1), 10, "C1 archived")
        check(row(st, sc1)[:2] == ("opted_out", "opted out through the API"), f"C1: {row(st, sc1)}")
        mo(st, c, "2")
        time.sleep(1)
        check(len(inbox(st, c)) == n, f"C got more after the opt-out: {inbox(st, c)[n:]}")
        code, s = optout({"msisdn": "0915000003"})
        check(code == 200 and s == {"optout": True, "new": False, "survey_ended": None}, f"again: {code} {s}")
        code, body = st.trigger(c, "TX-C5")
        check(code == 202, f"trigger after the opt-out: {code}")
        wait_for(lambda: row(st, body["survey_id"]), 10, "C5 archived")
        check(row(st, body["survey_id"])[0] == "suppressed", f"C5: {row(st, body['survey_id'])}")
        check(len(inbox(st, c)) == n, "C surveyed after opting out")
        # hailong_surveys_running: exactly the surveys in Redis (queued, waiting, active)
        for i in range(4):
            check(st.trigger("8491500010%d" % i, "TX-R%d" % i)[0] == 202, "trigger R")

        def hashes():
            """Surveys not started (hl:s:{id}) and running ones (in the citizen's hash, field c)."""
            out = subprocess.run(["redis-cli", "-p", str(st.redis_port), "--scan", "--pattern", "hl:s:*"],
                                 capture_output=True, text=True, timeout=10).stdout.split()
            cit = subprocess.run(["redis-cli", "-p", str(st.redis_port), "--scan", "--pattern", "hl:c:*"],
                                 capture_output=True, text=True, timeout=10).stdout.split()
            return len(out) + sum(st.redis("HEXISTS", k, "c") == "1" for k in cit)
        # counted once the R surveys have started (their first items out): a
        # survey that moves from hl:s:{id} to its citizen's hash between the
        # two scans above is counted twice
        wait_for(lambda: all(inbox(st, "8491500010%d" % i) for i in range(4)), 10, "the R surveys started")
        want = hashes()
        check(want >= 4, f"{want} surveys in Redis")
        check(st.metrics().get("hailong_surveys_running") == want, f"running: {st.metrics()} want {want}")
        # built again from the hashes where it is missing (an older version, a flushed Redis)
        st.redis("SET", "hl:nrunning", "999")
        st.redis("DEL", "hl:nrunning:ok")
        check(st.metrics().get("hailong_surveys_running") == want, "not rebuilt")
        code, s = cancel(json.loads(st.http("GET", "/v1/surveys?transaction_id=TX-R0")[1])["surveys"][0]["survey_id"])
        check(code == 200, f"cancel R0: {code}")
        check(st.metrics().get("hailong_surveys_running") == want - 1, "a cancel not counted")
        print("ok: a running and a waiting survey cancelled and archived with who; no more questions;"
              " 404 for another agency or an unknown id, 409 for a finished one; an opt-out through the API"
              " ends the running survey, is archived with source api, and suppresses the next")


if __name__ == "__main__":
    main()
