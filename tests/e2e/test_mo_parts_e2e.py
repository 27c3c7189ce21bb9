#!/usr/bin/env python3
"""Long replies (concatenated MOs) whose parts are kept in Redis: a part the
SMSC delivers again after the message was taken is ignored (no second reply,
no "no survey" notice); a phone that reuses a reference for a new message is
read as a new message; a set whose last part never comes is dropped, logged
and counted (the sweep age is brought forward by moving its index entry); a
short reply sent right behind a long one is read after it (Redis held busy
while both arrive, so that the long one's parts are still being stored when
the short one comes)."""
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

# two UCS-2 parts (67 characters each)
LONG_A = ("Cán bộ tiếp nhận hồ sơ rất nhiệt tình, hướng dẫn rõ ràng từng bước, "
          "nhưng phòng chờ còn chật và thiếu ghế ngồi cho người cao tuổi.")
LONG_B = ("Thủ tục cấp đổi giấy phép lái xe nhanh hơn trước nhiều, chỉ mất ba ngày "
          "làm việc, tôi rất hài lòng với cách phục vụ của cán bộ ở đây.")


check = harness.check


def post_mo(st, msisdn, text, **kw):
    body = {"from": msisdn, "text": text}
    body.update(kw)
    code, _ = harness.sim_post(st, "/mo", body)
    check(code == 202, f"sim /mo: {code}")


def wait_items(st, msisdn, n, what):
    harness.wait_for(lambda: len(harness.inbox(st, msisdn)) >= n, 10, what)


def answer_scales(st, msisdn):
    """Answers the five scale questions with 5; the comment question is next."""
    for k in range(5):
        wait_items(st, msisdn, k + 1, f"item {k + 1} to {msisdn}")
        harness.mo(st, msisdn, "5")
    wait_items(st, msisdn, 6, f"the comment question to {msisdn}")


def comment_of(st, txid):
    with sqlite3.connect(st.db, timeout=5) as c:
        row = c.execute("select a.text from answers a join surveys s on s.survey_id = a.survey_id "
                        "where s.transaction_id = ? and a.question_id = 'comment'", (txid,)).fetchone()
    return row[0] if row else None


def archived(st, txid):
    with sqlite3.connect(st.db, timeout=5) as c:
        return c.execute("select status from surveys where transaction_id = ?", (txid,)).fetchone()


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0)
        st.start_gateway()
        # the control API refuses what it cannot do, saying what it wants
        for bad in ({"ref": 300}, {"parts": [0]}, {"parts": "1"}, {"ucs2": "yes"}):
            body = {"from": harness.citizen(101), "text": LONG_A}
            body.update(bad)
            try:
                harness.sim_post(st, "/mo", body)
                raise AssertionError(f"sim /mo accepted {bad}")
            except urllib.error.HTTPError as e:
                check(e.code == 400, f"sim /mo {bad}: {e.code}")
                check(b"parts" in e.read(), f"sim /mo {bad}: the error does not say what it wants")
        a, b, c, d = harness.citizen(101), harness.citizen(102), harness.citizen(103), harness.citizen(104)
        for m, tx in ((a, "P-A"), (b, "P-B"), (c, "P-C"), (d, "P-D")):
            code, body = st.trigger("0" + m[2:], tx)
            check(code == 202, f"trigger {tx}: {code} {body}")

        # A: part 1 alone, then part 2 later: one comment, whole
        answer_scales(st, a)
        post_mo(st, a, LONG_A, ucs2=True, ref=7, parts=[1])
        time.sleep(0.5)
        check(archived(st, "P-A") is None, "A's survey ended on half a comment")
        post_mo(st, a, LONG_A, ucs2=True, ref=7, parts=[2])
        harness.wait_for(lambda: archived(st, "P-A") is not None, 10, "A archived")
        check(comment_of(st, "P-A") == LONG_A, f"A's comment: {comment_of(st, 'P-A')!r}")
        wait_items(st, a, 7, "A's thanks")
        # the SMSC delivers part 2 again (its response was lost): nothing happens
        post_mo(st, a, LONG_A, ucs2=True, ref=7, parts=[2])
        harness.wait_for(lambda: "part of a message already taken" in st.log_text("hailongd"), 5,
                         "the redelivered part recognised")
        time.sleep(0.5)
        check(len(harness.inbox(st, a)) == 7, f"A got more after the thanks: {harness.inbox(st, a)[7:]}")

        # C: the phone reuses reference 9: a long invalid reply at the first
        # question, then the comment with the same reference is a new message
        wait_items(st, c, 1, "C's first item")
        post_mo(st, c, LONG_B, ucs2=True, ref=9)
        wait_items(st, c, 2, "C's re-prompt")
        harness.mo(st, c, "5")
        for k in range(2, 6):
            wait_items(st, c, k + 1, f"C's item {k}")
            harness.mo(st, c, "5")
        wait_items(st, c, 7, "C's comment question")
        post_mo(st, c, LONG_A, ucs2=True, ref=9)
        harness.wait_for(lambda: archived(st, "P-C") is not None, 10, "C archived")
        check(comment_of(st, "P-C") == LONG_A, f"C's comment: {comment_of(st, 'P-C')!r}")

        # D: at the last scale item, a long text (no score: asked again) and
        # right behind it "5". In that order, "5" answers the scale item and
        # the comment question follows; read the other way round, the long
        # text would become the comment. Redis is held busy (a script that
        # spins 0.6 s) while both arrive, so the long one's MOPART is still
        # on its way when "5" comes.
        for k in range(4):
            wait_items(st, d, k + 1, f"D's item {k + 1}")
            harness.mo(st, d, "5")
        wait_items(st, d, 5, "D's last scale item")
        busy = subprocess.Popen(["redis-cli", "-p", str(st.redis_port), "EVAL",
                                 "local t = redis.call('TIME') local e = t[1] * 1e6 + t[2] + 600000 "
                                 "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= e return 1", "0"],
                                stdout=subprocess.DEVNULL)
        time.sleep(0.1)
        post_mo(st, d, LONG_B, ucs2=True, ref=13)
        harness.mo(st, d, "5")
        busy.wait(timeout=10)
        try:
            wait_items(st, d, 7, "D's re-prompt and comment question")
        except TimeoutError:
            raise AssertionError(f"D got {harness.inbox(st, d)[4:]}")
        time.sleep(0.3)
        check(archived(st, "P-D") is None, f"D's survey ended: the long text was read after the 5 "
                                           f"({harness.inbox(st, d)[4:]})")
        harness.mo(st, d, "Cam on")
        harness.wait_for(lambda: archived(st, "P-D") is not None, 10, "D archived")
        check(comment_of(st, "P-D") == "Cam on", f"D's comment: {comment_of(st, 'P-D')!r}")

        # B: part 2 never comes: the set is swept, logged and counted
        answer_scales(st, b)
        post_mo(st, b, LONG_B, ucs2=True, ref=11, parts=[1])
        harness.wait_for(lambda: st.redis("ZCARD", "hl:mosets") == "1", 5, "B's set indexed")
        key = st.redis("ZRANGE", "hl:mosets", "0", "-1")
        check(st.redis("HEXISTS", key, "p1") == "1", f"B's part 1 not kept under {key}")
        st.redis("ZADD", "hl:mosets", "XX", "0", key)  # as if an hour had passed
        harness.wait_for(lambda: st.metrics().get("hailong_mo_parts_expired_total", 0) == 1, 6,
                         "the incomplete set swept")
        check(st.redis("EXISTS", key) == "0", "the swept set is still in Redis")
        check("mo_parts_expired parts=1 total=2" in st.log_text("hailongd"), "the sweep not logged")
        check(archived(st, "P-B") is None, "B's survey ended without its comment")
        print("ok: long replies kept in Redis: whole after a late part, a redelivered part ignored, "
              "a reused reference read as a new message, a short reply right behind a long one read after it, "
              "an incomplete set swept and counted")


if __name__ == "__main__":
    main()
