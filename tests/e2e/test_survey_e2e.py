#!/usr/bin/env python3
"""End to end: redis-server, hailong-sim with 200 virtual citizens, hailongd,
200 triggers. The SQLite archive must equal the simulator's ledger exactly,
and the HTTP API's error answers are checked."""
import hashlib
import json
import os
import sqlite3
import sys
import time
import unicodedata

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = int(os.environ.get("E2E_CITIZENS", "200"))


check = harness.check


def msisdn_hash(msisdn):
    key = hashlib.blake2b(harness.HASH_KEY.encode(), digest_size=32).digest()
    return hashlib.blake2b(msisdn.encode(), key=key, digest_size=32).hexdigest()


def api_errors(st):
    code, body = st.trigger("0241234567", "BAD-1")
    check(code == 400 and body.get("field") == "msisdn", f"landline: {code} {body}")
    code, body = st.trigger("not a phone", "BAD-2")
    check(code == 400 and body.get("field") == "msisdn", f"garbage phone: {code} {body}")
    code, body = st.trigger("0912345678", "BAD-3", campaign="no-such-campaign")
    check(code == 404 and body.get("field") == "campaign", f"unknown campaign: {code} {body}")
    code, _ = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "0912345678",
                                               "transaction_id": "BAD-4", "agency": "x"}, token=None)
    check(code == 401, f"missing token: {code}")
    code, _ = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "0912345678",
                                               "transaction_id": "BAD-5", "agency": "x"}, token="wrong")
    check(code == 401, f"wrong token: {code}")
    code, body = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "0912345678",
                                                  "transaction_id": "BAD-6", "agency": "so-tuphap"},
                         token="police-token")
    check(code == 403, f"agency not allowed: {code} {body}")
    code, body = st.http("POST", "/v1/triggers", raw=b'{"campaign": "default", ')
    check(code == 400 and "body" in body, f"truncated JSON: {code} {body}")
    code, body = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "0912345678"})
    check(code == 400 and json.loads(body).get("field") == "transaction_id", f"missing field: {code} {body}")
    code, body = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": 912345678,
                                                  "transaction_id": "BAD-7", "agency": "x"})
    check(code == 400 and json.loads(body).get("field") == "msisdn", f"number as int: {code} {body}")
    code, body = st.trigger("0912345678", "BAD-8", colour="red")
    check(code == 400 and body.get("field") == "colour", f"unknown field: {code} {body}")
    code, body = st.trigger("0912345678", "BAD-9", completed_at="yesterday")
    check(code == 400 and body.get("field") == "completed_at", f"bad time: {code} {body}")
    code, _ = st.http("GET", "/v1/triggers")
    check(code == 405, f"GET on triggers: {code}")
    code, _ = st.http("GET", "/nope")
    check(code == 404, f"unknown path: {code}")
    code, text = st.http("GET", "/healthz")
    check(code == 200, f"healthz: {code}")


def logs_check(st, ids):
    """hailongd's log: logfmt on every line, never a whole phone number, and
    one survey's path by its id: each item handed over (tag= leads to the
    submit_sm and its response), then its end."""
    import re
    text = st.log_text("hailongd")
    kv = r'[A-Za-z0-9_.-]+=("([^"\\]|\\.)*"|[^" ]*)'
    bad = [l for l in text.splitlines()
           if not re.fullmatch(r"ts=\d{4}-\d\d-\d\dT[\d:.]+Z level=(debug|info|warn|error)( %s)*" % kv, l)]
    check(not bad, f"{len(bad)} lines not logfmt, first: {bad[:3]}")
    whole = re.findall(r"(?<![0-9*])(?:84|0)9\d{8}(?![0-9])", text)
    check(not whole, f"unmasked numbers in the log: {whole[:5]}")
    path = [l for l in text.splitlines() if "survey=" + ids[1] + " " in l + " "]
    items = [l for l in path if "event=item " in l]
    check(len(items) >= 2 and "item=0 " in items[0] and "event=survey_finished" in path[-1], f"path: {path}")
    tag = re.search(r"tag=(\d+)", items[0]).group(1)
    check(re.search(r"event=submit tag=%s to=84910\*\*\*001 " % tag, text), f"item tag {tag} not followed")


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=7, think="5-60",
                     extra=["--answer-mode", "mixed", "--invalid-share", "0.1", "--comment-share", "0.5"])
        st.start_gateway()
        api_errors(st)

        ids = {}
        t0 = time.time()
        forms = ["0{}", "84{}", "+84{}", "+84 {}"]
        for i in range(1, N + 1):
            local = "91%07d" % i
            phone = forms[i % len(forms)].format(local)
            code, body = st.trigger(phone, "HS-%05d" % i, procedure="cap-ho-chieu",
                                    completed_at="2026-11-21T09:30:00+07:00")
            check(code == 202 and body.get("status") == "queued", f"trigger {i}: {code} {body}")
            ids[i] = body["survey_id"]
        # idempotent: the same transaction again gives the same survey, 200
        code, body = st.trigger("0910000001", "HS-00001")
        check(code == 200 and body["survey_id"] == ids[1], f"duplicate: {code} {body}")
        # a batch: one new, one duplicate, one bad
        code, text = st.http("POST", "/v1/triggers", [
            {"campaign": "default", "msisdn": "0912999999", "transaction_id": "BATCH-1", "agency": "a"},
            {"campaign": "default", "msisdn": "0910000002", "transaction_id": "HS-00002", "agency": "a"},
            {"campaign": "default", "msisdn": "123", "transaction_id": "BATCH-3", "agency": "a"}])
        res = json.loads(text)["results"]
        check(code == 200 and [r["code"] for r in res] == [202, 200, 400], f"batch: {code} {text}")
        check(res[1]["survey_id"] == ids[2], "batch duplicate id")
        # the same new transaction twice in one batch (both go to Redis in
        # one write): stored once, the second is its duplicate
        code, text = st.http("POST", "/v1/triggers", [
            {"campaign": "default", "msisdn": "0912999998", "transaction_id": "BATCH-4", "agency": "a"},
            {"campaign": "default", "msisdn": "0912999998", "transaction_id": "BATCH-4", "agency": "a"}])
        res = json.loads(text)["results"]
        check(code == 200 and [r["code"] for r in res] == [202, 200] and res[0]["survey_id"] == res[1]["survey_id"]
              and [r["index"] for r in res] == [0, 1], f"batch, same transaction twice: {code} {text}")

        def archived():
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("select count(*) from surveys where transaction_id like 'HS-%'").fetchone()[0]
            except sqlite3.Error:
                return 0
        harness.wait_for(lambda: archived() >= N, 120, f"{N} archived surveys", step=0.3)
        elapsed = time.time() - t0
        harness.wait_thanked(st, N)
        # the simulator sends receipts as handsets do, up to seconds after the
        # response: let the last ones come before it stops
        # (a thanks may be in the citizen's inbox before its submit_sm_resp is
        # counted: nothing in the window, nothing in the outbox first)
        def settled():
            m = st.metrics()
            return m.get('hailong_smsc_window_in_use{smsc="sim"}') == 0 and m.get('hailong_outbox_depth{smsc="sim"}') == 0
        harness.wait_for(settled, 15, "no message in flight", step=0.2)
        # (the messages sent so far are read at each step: the responses to
        # the last thanks may come after the simulator saw them, e.g. 100 ms
        # later with early_receipt_share, and their receipts seconds later)
        def delivered_now():
            sent_now = int(st.metrics().get("hailong_mt_sent_total", 0))
            with sqlite3.connect(st.db, timeout=5) as c:
                return c.execute("select count(*) from deliveries").fetchone()[0] >= sent_now
        try:
            harness.wait_for(delivered_now, 15, "the last receipts", step=0.2)
        except TimeoutError:
            pass  # the figures are checked below
        stats = st.stop_sim()
        m = st.metrics()
        check(st.stop("hailongd") == 0, "hailongd exit status")
        # most replies take one round trip (the survey as last committed, then
        # COMMIT); the ledger check below shows none of them read wrong
        fast, mos = int(m.get("hailong_mo_one_round_trip_total", 0)), int(m.get("hailong_mo_total", 0))
        check(fast > mos // 4, f"replies on the one-round-trip path: {fast} of {mos}")

        # ---- the ledger: what every citizen actually answered ----
        ledger = {}
        completed = set()
        with open(st.ledger, encoding="utf-8") as f:
            for line in f:
                e = json.loads(line)
                if e.get("event") == "completed":
                    completed.add(e["msisdn"])
                elif "question" in e and not e.get("skip"):
                    ledger.setdefault(e["msisdn"], {})[e["question"]] = e
        with sqlite3.connect(st.db) as c:
            rows = c.execute("select survey_id, transaction_id, msisdn_hash, status, agency, procedure, "
                             "channel, triggered_at, finished_at from surveys where transaction_id like 'HS-%'").fetchall()
            answers = {}
            for sid, qid, value, text in c.execute("select survey_id, question_id, value, text from answers"):
                answers.setdefault(sid, {})[qid] = (value, text)
        for suffix in ("", "-wal"):
            if os.path.exists(st.db + suffix):
                with open(st.db + suffix, "rb") as f:
                    check(b"8491000" not in f.read(), "a raw phone number in the archive file")
        check(len(rows) == N, f"{len(rows)} surveys archived, want {N}")
        check(len(completed) == N, f"the simulator saw {len(completed)} thanks, want {N}")
        mismatches = 0
        for sid, txid, mh, status, agency, proc, channel, trig, fin in rows:
            i = int(txid[3:])
            msisdn = harness.citizen(i)
            check(sid == ids[i], f"{txid}: survey id {sid} != {ids[i]}")
            check(mh == msisdn_hash(msisdn), f"{txid}: msisdn_hash is not the keyed BLAKE2b")
            check(status == "completed", f"{txid}: status {status}")
            check(agency == "ca-vinhphuc" and proc == "cap-ho-chieu" and channel == "sms", f"{txid}: meta")
            check(trig.endswith("Z") and fin.endswith("Z") and fin >= trig, f"{txid}: times {trig} {fin}")
            want = ledger.get(msisdn, {})
            got = answers.get(sid, {})
            if set(want) != set(got):
                mismatches += 1
                print(f"{txid}: questions archived {sorted(got)} != answered {sorted(want)}")
                continue
            for q, e in want.items():
                value, text = got[q]
                if e.get("value") is not None:
                    ok = value == e["value"]
                else:
                    ok = unicodedata.normalize("NFC", text or "") == unicodedata.normalize("NFC", e["text"])
                if not ok:
                    mismatches += 1
                    print(f"{txid} {q}: archived {(value, text)} != ledger {e}")
        check(mismatches == 0, f"{mismatches} differences between archive and ledger")
        # every message's final state, from its delivery receipt, once per
        # message (the simulator sends receipts seconds after the responses;
        # a receipt before its response can be rehearsed with the fault
        # early_receipt_share)
        sent = int(m.get("hailong_mt_sent_total", 0))

        def deliveries():
            with sqlite3.connect(st.db, timeout=5) as c:
                return c.execute("select count(*) from deliveries").fetchone()[0]
        try:
            harness.wait_for(lambda: deliveries() >= sent, 10, "a delivery record per message", step=0.2)
        except TimeoutError:
            pass  # the figures are checked below
        with sqlite3.connect(st.db) as c:
            states = dict(c.execute("select state, count(*) from deliveries group by state").fetchall())
            first_items = c.execute("select count(distinct survey_id) from deliveries where item = 0 and "
                                    "survey_id in (select survey_id from surveys where transaction_id like 'HS-%')").fetchone()[0]
        check(set(states) == {"delivered"}, f"delivery states {states}")
        check(states["delivered"] == sent, f"{states['delivered']} delivery records for {sent} messages")
        check(first_items == N, f"first items delivered for {first_items} surveys, want {N}")
        check(m.get('hailong_receipts_total{state="delivered"}', 0) <= sent, "receipts counted more than once")
        logs_check(st, ids)
        nanswers = sum(len(v) for v in ledger.values())
        print(f"ok: {N} surveys, {nanswers} answers identical to the ledger in {elapsed:.1f}s; "
              f"sim={stats}; mo={m.get('hailong_mo_total')} mt={m.get('hailong_mt_sent_total')}")


if __name__ == "__main__":
    main()
