#!/usr/bin/env python3
"""End to end, every final status and the time rules, with short timers:
completed, expired (with and without answers, after one reminder),
abandoned, opted_out (and later triggers suppressed as "opted out"),
suppressed "outside window" and "resurvey", a reply without a survey
(answered once, never an answer later; none right after a survey ended),
quiet hours (a start held in Redis, a
held message released), SIGHUP reload (running surveys keep their version, a
broken file is refused) and failed (the first item refused by the SMSC).
Citizens here never answer by themselves: the test sends their replies
through the simulator's control API."""
import json
import os
import shutil
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, mo, wait_for  # noqa: E402

MSGS = ('messages: {invalid: "SAI.", reminder: "NHAC LAI.", thanks: "CAM ON.", stopped: "DA DUNG.",\n'
        '           help: "GIUP.", expired: "HET HAN."}\n')


def campaign(cid, extra, nq=2, tag=""):
    qs = "".join('  - {id: q%d, type: yesno, text: "%s %s cau %d?"}\n' % (i + 1, cid.upper(), tag, i + 1)
                 for i in range(nq))
    return "id: %s\n%squestions:\n%s%s" % (cid, extra, qs, MSGS)


check = harness.check


def local_hhmm(t, delta_min):
    """HH:MM at +07:00 of t + delta minutes."""
    s = int(t) + 7 * 3600 + delta_min * 60
    return "%02d:%02d" % ((s // 3600) % 24, (s // 60) % 60)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    tmp = harness.tempfile.mkdtemp(prefix="hailong-camp-")
    shutil.copy(os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), tmp)
    now = time.time()
    quiet_now = 'quiet_hours: "%s-%s"\n' % (local_hhmm(now, -60), local_hhmm(now, 60))
    write(os.path.join(tmp, "timers.yaml"), campaign("timers", "reminder_after: 2s\nexpire_after: 5s\nmax_invalid: 2\n"))
    write(os.path.join(tmp, "win.yaml"), campaign("win", "reminder_after: 0\nexpire_after: 60s\nwindow: {start: 2020-01-01, end: 2020-01-31}\n"))
    write(os.path.join(tmp, "again.yaml"), campaign("again", "resurvey_after: 30d\nreminder_after: 0\nexpire_after: 60s\n", nq=1))
    write(os.path.join(tmp, "quiet.yaml"), campaign("quiet", quiet_now + "reminder_after: 0\nexpire_after: 60s\n"))
    write(os.path.join(tmp, "held.yaml"), campaign("held", "reminder_after: 0\nexpire_after: 60s\n", nq=3))
    with harness.Stack(campaigns=tmp) as st:
        st.start_redis()
        st.start_sim(0, think="5")
        st.start_gateway()
        n = {k: "849120000%02d" % i for i, k in enumerate("ABCDEFGHIJKL", start=1)}

        def trig(who, camp, tx):
            code, body = st.trigger(n[who], tx, campaign=camp)
            check(code == 202, f"trigger {who} {camp}: {code} {body}")
            return body["survey_id"]

        def got(who, needle, count=1, timeout=8):
            wait_for(lambda: sum(needle in t for t in inbox(st, n[who])) >= count, timeout,
                     f"{who} to receive {needle!r} x{count} (inbox {inbox(st, n[who])})")

        # a reply before any survey: answered once per day, never an answer later
        mo(st, n["H"], "1")
        got("H", "khảo sát nào")
        mo(st, n["H"], "xin chao")
        time.sleep(0.8)
        check(len(inbox(st, n["H"])) == 1, f"H answered twice: {inbox(st, n['H'])}")

        ids = {}
        for who in "LABCDEH":
            ids[who] = trig(who, "timers", "T-" + who)
        # L's item as if it had not left yet (outbox behind, or put back
        # after a crash: "sq" below it): its reminder waits for it, else
        # the citizen would get both at once and answer across them. (Done
        # first thing: it must come before the reminder's time, 2 s after
        # the item left, however slow the machine.)
        got("L", "TIMERS  cau 1")
        st.redis("HDEL", "hl:c:" + n["L"], "sq")  # (a running survey is kept in its citizen's hash)
        ids["F"] = trig("F", "win", "W-F")
        ids["G"] = trig("G", "again", "G-1")
        ids["J"] = trig("J", "quiet", "Q-J")
        ids["K"] = trig("K", "held", "K-1")
        for who in "ABCDEH":
            got(who, "TIMERS  cau 1")
        got("G", "AGAIN  cau 1")
        got("K", "HELD  cau 1")
        mo(st, n["B"], "1")
        mo(st, n["C"], "1")
        mo(st, n["D"], "co")
        mo(st, n["G"], "2")
        got("C", "TIMERS  cau 2")
        mo(st, n["C"], "2")
        got("D", "TIMERS  cau 2")
        mo(st, n["D"], "HUY")
        got("D", "DA DUNG.")
        for i in range(3):
            mo(st, n["E"], "khong hieu %d" % i)
            if i < 2:
                got("E", "SAI.", i + 1)
        got("G", "CAM ON.")
        # G's last answer delivered again (as an SMSC does after a crash between
        # its commit and its deliver_sm_resp), then a word after the thanks: the
        # survey ended a moment ago, so no "no survey running" notice
        wait_for(lambda: ":" in (st.redis("HGET", "hl:c:" + n["G"], "l") or ""), 5, "G's end noted in hl:c")
        mo(st, n["G"], "2")
        mo(st, n["G"], "cam on")
        wait_for(lambda: st.metrics().get("hailong_mo_after_end_total", 0) >= 2, 5, "G's late replies acknowledged")
        time.sleep(0.5)
        check(not any("khảo sát nào" in x for x in inbox(st, n["G"])), f"G got the notice: {inbox(st, n['G'])}")
        # later triggers: opted out, surveyed too recently
        ids["D2"] = trig("D", "timers", "T-D2")
        ids["G2"] = trig("G", "again", "G-2")

        # quiet hours: J's start waits (its timer, "d") until they end (+07:00)
        def due_score(sid):
            v = st.redis("HGET", "hl:s:" + sid, "d")
            return float(v) if v and sid in st.redis("LRANGE", "hl:due:" + v, "0", "-1").split() else None
        wait_for(lambda: due_score(ids["J"]) is not None, 5, "J's start held in hl:due:{second}")
        t = int(now) + 7 * 3600 + 60 * 60
        quiet_end = t - t % 60 - 7 * 3600
        check(abs(due_score(ids["J"]) - quiet_end) < 61, f"J held until {due_score(ids['J'])}, want {quiet_end}")
        check(inbox(st, n["J"]) == [], "J got a message in quiet hours")

        # reload: held.yaml gets quiet hours; K keeps the version it started with...
        v1 = harness.campaign_version(os.path.join(tmp, "held.yaml"))
        check(st.redis("HGET", "hl:c:" + n["K"], "cv") == v1, "K's cver")
        write(os.path.join(tmp, "held.yaml"), campaign("held", quiet_now + "reminder_after: 0\nexpire_after: 60s\n", nq=3, tag="v2"))
        v2 = harness.campaign_version(os.path.join(tmp, "held.yaml"))
        write(os.path.join(tmp, "broken.yaml"), "id: broken\nquestions: [\n")
        write(os.path.join(tmp, "win.yaml"), "id: win\nexpire_after: soon\n")  # broken edit: old version stays
        reloads = st.log_text("hailongd").count("reload campaigns=")
        st.procs["hailongd"].send_signal(signal.SIGHUP)
        # the summary line is written last, once every file was read
        wait_for(lambda: st.log_text("hailongd").count("reload campaigns=") > reloads, 5, "reload logged")
        check("broken.yaml" in st.log_text("hailongd"), "broken broken.yaml not logged")
        check("win.yaml" in st.log_text("hailongd"), "broken win.yaml not logged")
        mo(st, n["K"], "1")
        got("K", "HELD  cau 2")  # v1 text: the running survey kept its version
        check(st.redis("ZCARD", "hl:held:sim") in ("0", ""), "K's message held under its old version")
        # ...while a survey that runs with v2 has its next item held until quiet hours end
        # (a change to a survey hash moves its version, as every writer's does:
        # the gateway's copy of the survey it last committed is then stale)
        st.redis("HSET", "hl:c:" + n["K"], "cv", v2)
        st.redis("HINCRBY", "hl:c:" + n["K"], "ver", "1")
        mo(st, n["K"], "1")
        wait_for(lambda: st.redis("ZCARD", "hl:held:sim") == "1", 5, "a held message")
        held = st.redis("ZRANGE", "hl:held:sim", "0", "-1")
        check("HELD v2 cau 3" in held, f"held message {held}")
        before = len(inbox(st, n["K"]))
        time.sleep(1.2)
        check(len(inbox(st, n["K"])) == before, "a held message went out in quiet hours")
        st.redis("ZADD", "hl:held:sim", "XX", "0", held)   # time passes: quiet hours over
        got("K", "HELD v2 cau 3")
        # J: quiet hours removed by a reload, and its start comes due
        write(os.path.join(tmp, "quiet.yaml"), campaign("quiet", "reminder_after: 0\nexpire_after: 60s\n", tag="v2"))
        reloads = st.log_text("hailongd").count("reload campaigns=")
        st.procs["hailongd"].send_signal(signal.SIGHUP)
        wait_for(lambda: st.log_text("hailongd").count("reload campaigns=") > reloads, 5, "second reload logged")
        st.redis("ZADD", "hl:due", "0", ids["J"])  # (the timers' zset of older versions, still honoured)
        got("J", "QUIET v2 cau 1")  # not started yet: takes the current version
        ids["F2"] = trig("F", "win", "W-F2")  # win.yaml broken on disk: the loaded version still serves

        def status(sid):
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    r = c.execute("select status, reason from surveys where survey_id=?", (sid,)).fetchone()
                    return r
            except sqlite3.Error:
                return None

        def answers(sid):
            with sqlite3.connect(st.db, timeout=5) as c:
                return dict(c.execute("select question_id, value from answers where survey_id=?", (sid,)))

        want = {"A": ("expired", None), "B": ("expired", None), "C": ("completed", None),
                "D": ("opted_out", None), "E": ("abandoned", None), "F": ("suppressed", "outside window"),
                "F2": ("suppressed", "outside window"), "G": ("completed", None),
                "G2": ("suppressed", "resurvey"), "D2": ("suppressed", "opted out"), "H": ("expired", None),
                "L": ("expired", None)}
        for k, w in want.items():
            wait_for(lambda: status(ids[k]) is not None, 15, f"{k} archived")
            check(status(ids[k]) == w, f"{k}: archived {status(ids[k])}, want {w}")
        check(answers(ids["A"]) == {}, f"A answers {answers(ids['A'])}")
        check(answers(ids["B"]) == {"q1": 1}, f"B answers {answers(ids['B'])}")
        check(answers(ids["C"]) == {"q1": 1, "q2": 2}, f"C answers {answers(ids['C'])}")
        check(answers(ids["D"]) == {"q1": 1}, f"D answers {answers(ids['D'])}")
        check(answers(ids["H"]) == {}, f"H: a reply sent before the trigger answered: {answers(ids['H'])}")
        check(sum("NHAC LAI." in x for x in inbox(st, n["A"])) == 1, f"A reminders: {inbox(st, n['A'])}")
        check(any("HET HAN." in x for x in inbox(st, n["A"])), "A expired message")
        check(not any("NHAC LAI." in x for x in inbox(st, n["L"])), f"L reminded before the item left: {inbox(st, n['L'])}")
        check(inbox(st, n["F"]) == [], f"F (outside window) got {inbox(st, n['F'])}")
        check(sum("TIMERS" in x for x in inbox(st, n["D"])) == 2, f"D surveyed after opting out: {inbox(st, n['D'])}")
        check(st.redis("SISMEMBER", "hl:optout", harness.msisdn_hash(n["D"])) == "1", "D's hash not in hl:optout")
        check(st.redis("SISMEMBER", "hl:optout", n["D"]) == "0", "D's number in hl:optout")
        # A's survey expired a moment ago: a late reply gets no notice either
        mo(st, n["A"], "1")
        time.sleep(0.8)
        check(not any("khảo sát nào" in x for x in inbox(st, n["A"])), f"A got the notice: {inbox(st, n['A'])}")
        check(st.metrics().get("hailong_no_survey_answers_total") == 1, f"notices: {st.metrics()}")

        # failed: the SMSC refuses the first item
        harness.sim_post(st, "/faults", {"vendor_share": 1, "vendor_status": 0x401})
        ids["I"] = trig("I", "again", "T-I")
        wait_for(lambda: status(ids["I"]) is not None, 20, "I archived", step=0.3)
        check(status(ids["I"]) == ("failed", "vendor 0x401"), f"I: {status(ids['I'])}")
        m = st.metrics()
        check(m.get('hailong_surveys_finished_total{status="suppressed"}') == 4, f"metrics {m}")
        check(st.stop("hailongd") == 0, "hailongd exit status")
        print("ok: every final status archived with its answers; quiet hours, reload, reply without survey")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
