#!/usr/bin/env python3
"""Virtual citizens with a population mix and an SMSC with faults, against the real
hailongd and redis-server: opt-outs (HUY), several answers in one message, typos,
labels with and without diacritics or in upper case, UCS-2 replies; throttling,
generic_nack, delayed responses, malformed PDUs, lost and late receipts,
switched at start and at run time through the control API. Every survey must end,
and the archive must hold what the ledger says each citizen answered. Then a tester's
terminal phone (`hailong-sim phone`) answers one survey by hand."""
import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = 40


check = harness.check


def control(st, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (st.control_port, path), data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def read_ledger(path):
    answers, events = {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if "event" in e:
                events.setdefault(e["msisdn"], []).append(e["event"])
            elif not e.get("skip"):
                answers.setdefault(e["msisdn"], {})[e["question"]] = e
    return answers, events


def phone_session(st):
    """A tester answers one survey by typing into `hailong-sim phone`."""
    code, body = st.trigger("0912345678", "PHONE-1")
    check(code == 202, f"trigger for the phone: {code} {body}")
    p = subprocess.Popen([os.path.join(harness.BIN, "hailong-sim"), "phone", "0912345678", "--control",
                          "127.0.0.1:%d" % st.control_port, "--interval-ms", "50", "--linger-ms", "1500"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    seen, typed = [], 0
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in p.stdout], daemon=True).start()
    answers = ["1", "hai long", "RẤT HÀI LÒNG", "3", "b", "Cảm ơn cán bộ"]
    deadline = time.time() + 40
    try:
        while time.time() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(line.rstrip("\n"))
            if not line.startswith(">> ") and "Câu " in line and typed < len(answers):
                p.stdin.write(answers[typed] + "\n")
                p.stdin.flush()
                typed += 1
            if "trân trọng cảm ơn" in line:
                p.stdin.close()
                break
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    check(typed == 6, "the phone saw 6 questions:\n" + "\n".join(seen))
    check(any(l.startswith(">> hai long") for l in seen), "the phone echoes what was sent")
    harness.wait_for(lambda: archived(st.db, "PHONE-1") is not None, 20, "the phone's survey archived")
    with sqlite3.connect(st.db) as c:
        sid, status = c.execute("select survey_id, status from surveys where transaction_id='PHONE-1'").fetchone()
        got = dict(c.execute("select question_id, coalesce(value, text) from answers where survey_id=?", (sid,)))
    check(status == "completed", f"phone survey status {status}")
    check(got == {"access": 5, "procedure": 4, "officer": 5, "result": 3, "feedback": 4,
                  "comment": "Cảm ơn cán bộ"}, f"phone answers {got}")


def archived(db, txid):
    try:
        with sqlite3.connect(db, timeout=5) as c:
            row = c.execute("select status from surveys where transaction_id=?", (txid,)).fetchone()
            return row[0] if row else None
    except sqlite3.Error:
        return None


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=11, think="5-40", extra=[
            "--answer-mode", "mixed", "--comment-share", "0.5", "--optout-share", "0.1",
            "--multi-share", "0.3", "--typo-share", "0.3", "--ucs2-share", "0.3",
            "--time-factor", "0.5", "--think-dist", "exp",
            "--receipt-outcomes", "DELIVRD:90,UNDELIV:10", "--receipt-delay-ms", "0-50",
            # few throttles: hailongd halves its TPS for 10 s on each (as it should)
            "--fault", "throttle_every=300", "--fault", "nack_share=0.003",
            "--fault", "receipt_loss_share=0.2", "--fault", "receipt_late_ms=30"])
        st.start_gateway()
        faults = control(st, "GET", "/faults")
        check(faults["throttle_every"] == 300 and faults["receipt_late_ms"] == 30, f"faults at start {faults}")
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "MIX-%03d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
            if i == N // 3:
                # at run time: delayed responses, malformed PDUs, duplicated deliver_sm
                # (a duplicate of an answer must not become the answer to the next item)
                f = control(st, "POST", "/faults", {"resp_delay_ms": 20, "malformed_share": 0.05,
                                                     "vendor_status": "0x401", "dup_deliver_share": 0.1})
                check(f["resp_delay_ms"] == 20 and f["vendor_status"] == 0x401, f"faults {f}")
        try:
            control(st, "POST", "/faults", {"no_such_fault": 1})
            check(False, "an unknown fault was accepted")
        except urllib.error.HTTPError as e:
            check(e.code == 400, f"unknown fault: {e.code}")

        def ended():
            with sqlite3.connect(st.db, timeout=5) as c:
                return c.execute("select count(*) from surveys where transaction_id like 'MIX-%'").fetchone()[0]
        harness.wait_for(lambda: ended() >= N, 120, f"{N} surveys archived", step=0.3)
        control(st, "POST", "/faults", {"reset": True})
        phone_session(st)
        time.sleep(0.3)
        metrics = st.metrics()
        stats = st.stop_sim()
        check(st.stop("hailongd") == 0, "hailongd exit status")

        answers, events = read_ledger(st.ledger)
        with sqlite3.connect(st.db) as c:
            rows = c.execute("select survey_id, transaction_id, status from surveys where transaction_id like 'MIX-%'").fetchall()
            got = {}
            for sid, qid, value, text in c.execute("select survey_id, question_id, value, text from answers"):
                got.setdefault(sid, {})[qid] = (value, text)
        bad = 0
        statuses = {}
        for sid, txid, status in rows:
            msisdn = harness.citizen(int(txid[4:]))
            ev = events.get(msisdn, [])
            statuses[status] = statuses.get(status, 0) + 1
            want_status = "opted_out" if "opted_out" in ev else "completed"
            if status != want_status:
                bad += 1
                print(f"{txid}: status {status}, ledger events {ev}")
            want = answers.get(msisdn, {})
            have = got.get(sid, {})
            if set(want) != set(have):
                bad += 1
                print(f"{txid}: archived {sorted(have)} != ledger {sorted(want)} ({ev})")
                continue
            for q, e in want.items():
                v, t = have[q]
                ok = v == e["value"] if e.get("value") is not None else \
                    unicodedata.normalize("NFC", t or "") == unicodedata.normalize("NFC", e["text"])
                if not ok:
                    bad += 1
                    print(f"{txid} {q}: archived {(v, t)} != ledger {e}")
        check(len(rows) == N, f"{len(rows)} archived")
        check(bad == 0, f"{bad} differences between the archive and the ledger")
        allev = [x for v in events.values() for x in v]
        check(allev.count("opted_out") >= 1 and allev.count("several_answers") >= 1, f"mix not exercised: {allev}")
        check(stats["faults"] > 0 and stats["receipts_lost"] > 0 and
              stats["malformed"] > 0 and stats["duplicates"] > 0, f"faults not exercised: {stats}")
        with sqlite3.connect(st.db) as c:
            dstates = dict(c.execute("select state, count(*) from deliveries group by state").fetchall())
        check(dstates.get("delivered", 0) > 0 and dstates.get("undeliverable", 0) > 0,
              f"receipt outcomes DELIVRD:90,UNDELIV:10 not recorded: {dstates}")
        check(metrics.get("hailong_mo_before_item_total", 0) > 0,
              f"no duplicate deliver_sm was recognised: {metrics}")
        print(f"ok: {N} surveys with a population mix and faults match the ledger; statuses={statuses}; "
              f"events: opted_out={allev.count('opted_out')} several={allev.count('several_answers')}; sim={stats}")


if __name__ == "__main__":
    main()
