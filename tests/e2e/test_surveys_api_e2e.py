#!/usr/bin/env python3
"""The operator's API (issue 13): GET /v1/surveys/{id} shows a running survey
(status, current item, times) and then its archived end; GET
/v1/surveys?transaction_id= finds it; both never show the number nor its
hash; a token sees only its agencies (403), an unknown id or transaction is
404, a bad query 400, no token 401, another method 405."""
import json
import re
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, mo, msisdn_hash, wait_for  # noqa: E402


check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0, think="5")
        st.start_gateway()
        a, b = "84914000001", "84914000002"

        def get(path, token=harness.TOKEN):
            code, text = st.http("GET", path, token=token)
            check(a not in text and b not in text, f"{path}: a number in {text}")
            check(msisdn_hash(a) not in text and msisdn_hash(b) not in text, f"{path}: a hash in {text}")
            return code, json.loads(text)

        code, body = st.trigger(a, "TX-A", agency="ca-vinhphuc")
        check(code == 202, f"trigger A: {code} {body}")
        sa = body["survey_id"]
        code, body = st.trigger(b, "TX-B", agency="tp-hanoi")
        check(code == 202, f"trigger B: {code} {body}")
        sb = body["survey_id"]
        wait_for(lambda: len(inbox(st, a)) >= 1, 10, "A's first question")
        code, s = get("/v1/surveys/" + sa)
        check(code == 200, f"GET A: {code} {s}")
        check(s["running"] is True and s["status"] == "active" and s["item"] == 1, f"A running: {s}")
        check(s["campaign"] == "default" and s["transaction_id"] == "TX-A" and s["agency"] == "ca-vinhphuc", f"A: {s}")
        check(s["question"] and s["items"] >= 1 and s["triggered_at"].endswith("Z") and s["started_at"], f"A: {s}")
        check(s["finished_at"] is None, f"A finished: {s}")
        # the police token sees its agency only
        code, s = get("/v1/surveys/" + sa, token="police-token")
        check(code == 200 and s["survey_id"] == sa, f"police GET A: {code} {s}")
        code, s = get("/v1/surveys/" + sb, token="police-token")
        check(code == 403, f"police GET B: {code} {s}")
        code, s = get("/v1/surveys?transaction_id=TX-B", token="police-token")
        check(code == 403, f"police find B: {code} {s}")
        code, s = get("/v1/surveys/" + sb)
        check(code == 200 and s["agency"] == "tp-hanoi", f"GET B: {code} {s}")
        # by transaction
        code, s = get("/v1/surveys?transaction_id=TX-A")
        check(code == 200 and [x["survey_id"] for x in s["surveys"]] == [sa], f"find A: {code} {s}")
        code, s = get("/v1/surveys?transaction_id=TX-A&campaign=default")
        check(code == 200 and len(s["surveys"]) == 1, f"find A in default: {code} {s}")
        code, s = get("/v1/surveys?transaction_id=TX-A&campaign=nope")
        check(code == 404, f"find A in another campaign: {code} {s}")
        # errors
        check(get("/v1/surveys/0123456789abcdef")[0] == 404, "unknown id")
        check(get("/v1/surveys/../../etc")[0] == 404, "odd id")
        check(get("/v1/surveys?transaction_id=NO-SUCH")[0] == 404, "unknown transaction")
        code, s = get("/v1/surveys?transaction_id=TX-A&msisdn=1")
        check(code == 400 and s.get("field") == "msisdn", f"unknown parameter: {code} {s}")
        check(get("/v1/surveys")[0] == 400, "no transaction_id")
        check(get("/v1/surveys/" + sa, token="wrong")[0] == 401, "bad token")
        code, _ = st.http("POST", "/v1/surveys/" + sa, {})
        check(code == 405, f"POST: {code}")
        # A ends (HUY): archived, and shown from the archive
        mo(st, a, "HUY")

        def archived():
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("select 1 from surveys where survey_id=?", (sa,)).fetchone()
            except sqlite3.Error:
                return None
        wait_for(archived, 10, "A archived")
        code, s = get("/v1/surveys/" + sa)
        check(code == 200 and s["running"] is False and s["status"] == "opted_out", f"A archived: {code} {s}")
        check(s["finished_at"] and s["transaction_id"] == "TX-A", f"A archived: {s}")
        code, s = get("/v1/surveys?transaction_id=TX-A")
        check(code == 200 and len(s["surveys"]) == 1 and s["surveys"][0]["status"] == "opted_out", f"find A: {s}")
        # B answers: the next question goes out; the metrics an on-call person reads
        wait_for(lambda: len(inbox(st, b)) >= 1, 10, "B's first question")
        # its answer's next question waits 1 s for its response: the window in use counts its parts
        # (its response 2.5 s late: the window is read in flight even on a slow machine)
        harness.sim_post(st, "/faults", {"resp_delay_ms": 2500})
        submits = lambda: re.findall(r"event=submit tag=\d+ to=84914\*\*\*002 parts=(\d+)",  # noqa: E731
                                     st.log_text("hailongd"))
        n = len(submits())
        mo(st, b, "4")
        wait_for(lambda: len(submits()) > n, 5, "B's second question handed over")
        parts = int(submits()[-1])
        w = st.metrics().get('hailong_smsc_window_in_use{smsc="sim"}')
        check(parts >= 2 and w == parts, f"window in use {w} for a message of {parts} parts in flight")
        harness.sim_post(st, "/faults", {"reset": True})
        wait_for(lambda: st.metrics().get('hailong_smsc_window_in_use{smsc="sim"}') == 0, 10, "its response")
        wait_for(lambda: len(inbox(st, b)) >= 2, 10, "B's second question")
        code, s = get("/v1/surveys/" + sb)
        check(code == 200 and s["item"] == 2, f"B at its second item: {s}")
        wait_for(lambda: st.metrics().get("hailong_reply_to_next_question_seconds_count", 0) >= 1, 5,
                 "reply -> next question observed")
        m = st.metrics()
        check(m.get("hailong_submit_response_seconds_count", 0) >= 4, f"submit latency: {m}")
        check(m['hailong_submit_response_seconds_bucket{le="+Inf"}'] == m["hailong_submit_response_seconds_count"],
              "+Inf bucket != count")
        check(m['hailong_submit_response_seconds_bucket{le="30"}'] >= m['hailong_submit_response_seconds_bucket{le="0.005"}'],
              "buckets not cumulative")
        check(m.get("hailong_reply_to_next_question_seconds_sum", 99) < 5, f"reply latency sum: {m}")
        check(m.get("hailong_queue_depth") == 0 and m.get('hailong_outbox_depth{smsc="sim"}') == 0, f"depths: {m}")
        check(m.get('hailong_held_depth{smsc="sim"}') == 0 and m.get("hailong_sessions_bound") == 1, f"gauges: {m}")
        check(m.get('hailong_smsc_window{smsc="sim"}') == 10 and 'hailong_smsc_window_in_use{smsc="sim"}' in m, f"{m}")
        check(m.get("hailong_surveys_with_timer", 0) >= 1 and m.get("hailong_redis_up") == 1, f"gauges: {m}")
        check(m.get("hailong_optouts") == 1, f"A's opt-out: {m}")
        # while the outbox waits (no SMSC), its depth shows
        st.stop_sim()
        wait_for(lambda: st.metrics().get("hailong_sessions_bound") == 0, 10, "session down")
        for i in range(3):
            check(st.trigger("8491400010%d" % i, "TX-Q%d" % i)[0] == 202, "trigger while the SMSC is away")
        wait_for(lambda: st.metrics().get('hailong_outbox_depth{smsc="sim"}', 0) == 3, 10, "outbox depth 3")
        print("ok: GET /v1/surveys/{id} and ?transaction_id= for running and archived surveys, scoped by agency;"
              " gauges and latency histograms in /metrics")


if __name__ == "__main__":
    main()
