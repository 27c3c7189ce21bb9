#!/usr/bin/env python3
"""Opt-outs outlive Redis (issue 13): a HUY inside a survey, a HUY without a
survey, an operator's `hailong optout add` and a number an older hailongd left
raw in hl:optout all reach the archive's optouts table; after FLUSHALL none of
these citizens is surveyed again while a control citizen is; `hailong optout
remove` gives a citizen back, picked up on SIGHUP; list and count agree."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, mo, msisdn_hash, wait_for  # noqa: E402


check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0, think="5")
        n = {k: "849130000%02d" % i for i, k in enumerate("ABCDEF", start=1)}
        # E: a number an older hailongd stored raw
        st.redis("SADD", "hl:optout", n["E"])
        st.start_gateway()
        hailong = os.path.join(harness.BIN, "hailong")

        def cli(*args):
            return subprocess.run([hailong, "optout"] + list(args), capture_output=True, text=True, timeout=20)

        def optouts():
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    return {h: s for h, s in c.execute("select msisdn_hash, source from optouts")}
            except sqlite3.Error:
                return {}

        def status(sid):
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("select status, reason from surveys where survey_id=?", (sid,)).fetchone()
            except sqlite3.Error:
                return None

        def trig(who, tx):
            code, body = st.trigger(n[who], tx)
            check(code == 202, f"trigger {who}: {code} {body}")
            return body["survey_id"]

        h = {k: msisdn_hash(v) for k, v in n.items()}
        # E migrated at start: the hash in Redis, the number gone, the archive has it
        check(st.redis("SISMEMBER", "hl:optout", h["E"]) == "1", "E's hash not in hl:optout")
        check(st.redis("SISMEMBER", "hl:optout", n["E"]) == "0", "E's raw number still in hl:optout")
        wait_for(lambda: optouts().get(h["E"]) == "keyword", 10, "E in the archive's optouts")
        # A: HUY inside a survey
        sa = trig("A", "OPT-A1")
        wait_for(lambda: len(inbox(st, n["A"])) >= 1, 10, "A's first question")
        mo(st, n["A"], "HUY")
        wait_for(lambda: status(sa) is not None, 10, "A archived")
        check(status(sa)[0] == "opted_out", f"A: {status(sa)}")
        wait_for(lambda: optouts().get(h["A"]) == "keyword", 10, "A in the archive's optouts")
        # B: HUY without a survey
        mo(st, n["B"], "HUY")
        wait_for(lambda: optouts().get(h["B"]) == "keyword", 10, "B in the archive's optouts")
        check(st.redis("SISMEMBER", "hl:optout", h["B"]) == "1", "B's hash not in hl:optout")
        # C: the operator, with the configured key
        r = cli("add", "--db", st.db, "--hash-key", harness.HASH_KEY, "0" + n["C"][2:])
        check(r.returncode == 0 and h["C"] in r.stdout and "added" in r.stdout, f"optout add: {r}")
        check(n["C"] not in r.stdout, f"optout add printed the number: {r.stdout!r}")
        r = cli("add", "--db", st.db, "--hash-key", harness.HASH_KEY, n["C"])
        check(r.returncode == 0 and "already opted out" in r.stdout, f"optout add again: {r}")
        check(optouts().get(h["C"]) == "operator", f"C in the archive: {optouts()}")
        wait_for(lambda: st.redis("SISMEMBER", "hl:optout", h["C"]) == "1", 8, "hailongd to apply C (sync)")
        # bad input: named, nothing stored, exit 1 / 2
        r = cli("add", "--db", st.db, "--hash-key", harness.HASH_KEY, "12ab")
        check(r.returncode == 1 and "12ab" in r.stderr, f"bad number: {r}")
        r = cli("add", "--db", st.db, n["C"])  # no key given and no DB.key file: refused
        check(r.returncode == 1 and ".key" in r.stderr, f"no key: {r}")
        r = cli("add", "--hash-key", "k", n["C"])
        check(r.returncode == 2 and "--db" in r.stderr, f"no --db: {r}")
        r = cli("count", "--db", st.db)
        check(r.returncode == 0 and r.stdout.strip() == "4", f"count: {r}")
        r = cli("list", "--db", st.db, "--format", "csv")
        rows = r.stdout.strip().splitlines()
        check(r.returncode == 0 and rows[0] == "msisdn_hash,at,source" and len(rows) == 5, f"list: {r}")
        check({x.split(",")[0] for x in rows[1:]} == {h[k] for k in "ABCE"}, f"list hashes: {rows}")
        check(not any(v in r.stdout for v in n.values()), "list printed a number")

        # Redis loses everything
        st.redis("FLUSHALL")
        before = {k: len(inbox(st, n[k])) for k in n}
        ids = {k: trig(k, "OPT-AFTER-" + k) for k in "ABCDE"}
        wait_for(lambda: len(inbox(st, n["D"])) > before["D"], 10, "control citizen D surveyed after the flush")
        for k in "ABCE":
            wait_for(lambda: status(ids[k]) is not None, 10, f"{k} archived after the flush")
            check(status(ids[k]) == ("suppressed", "opted out"), f"{k} after the flush: {status(ids[k])}")
        time.sleep(0.5)
        for k in "ABCE":
            check(len(inbox(st, n[k])) == before[k], f"{k} surveyed after the flush: {inbox(st, n[k])}")
        check("restored from the archive" in st.log_text("hailongd"), "no restore logged")

        # the operator gives C back; SIGHUP applies it at once
        r = cli("remove", "--db", st.db, "--hash-key", harness.HASH_KEY, n["C"])
        check(r.returncode == 0 and "removed" in r.stdout, f"optout remove: {r}")
        st.procs["hailongd"].send_signal(signal.SIGHUP)
        wait_for(lambda: st.redis("SISMEMBER", "hl:optout", h["C"]) == "0", 3, "C off hl:optout after SIGHUP")
        trig("C", "OPT-C-BACK")
        wait_for(lambda: len(inbox(st, n["C"])) > before["C"], 10, "C surveyed again")
        r = cli("count", "--db", st.db)
        check(r.stdout.strip() == "3", f"count after remove: {r}")
        r = cli("remove", "--db", st.db, "--hash-key", harness.HASH_KEY, n["F"])
        check(r.returncode == 0 and "was not opted out" in r.stdout, f"remove unknown: {r}")
        # G, H: an answer and HUY back to back (HUY waits behind the answer's
        # commit, and the next item has not left when it is read): the
        # opt-out answers no item and is honoured all the same
        for k, who in enumerate(("849130000%02d" % 7, "849130000%02d" % 8)):
            code, body = st.trigger(who, "OPT-BURST-%d" % k)
            check(code == 202, f"trigger {who}: {code} {body}")
            wait_for(lambda: any("Câu 1/6" in t for t in inbox(st, who)), 10, f"{who}: item 1")
            harness.sim_post(st, "/mo", {"from": who, "text": "1", "delay_ms": 200})
            harness.sim_post(st, "/mo", {"from": who, "text": "HUY", "delay_ms": 200})
            wait_for(lambda: status(body["survey_id"]) is not None, 10, f"{who}: archived")
            check(status(body["survey_id"])[0] == "opted_out", f"{who}: {status(body['survey_id'])}")
        print("ok: opt-outs archived from HUY (in and outside a survey, right behind an answer), the operator and an older set; "
              "restored after FLUSHALL; remove applied on SIGHUP")


if __name__ == "__main__":
    main()
