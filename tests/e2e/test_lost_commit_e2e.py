#!/usr/bin/env python3
"""End to end: a citizen's answer whose COMMIT ran in Redis but whose reply
never came back to hailongd (the connection broke right after). hailongd
cannot know whether the answer was stored; it must never take the same
reply, looked at again or delivered again by the SMSC, as the answer to the
next question (a wrong value is worse than a re-prompt).

A TCP proxy between hailongd and redis-server swallows the reply of one
COMMIT and closes that connection:
  A: Redis answers the second look at once: the reply is acknowledged.
  B: Redis stays unreachable for 1 s, so the deliver_sm is answered "not
     stored" and the simulator delivers it again 1.5 s later.
Each citizen must get question 2 exactly once, no question 3 until they
answer question 2, and the archive must hold what they said."""
import os
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, mo, wait_for  # noqa: E402

# a COMMIT of a running survey writes the field "n" (its nonce)
COMMIT_MARK = b"\r\n$1\r\nn\r\n$"


class Proxy:
    """127.0.0.1 TCP proxy to redis-server. arm(down_s) makes the next
    connection that sends a COMMIT lose every reply from then on (the
    connection is closed once Redis has answered), and refuses new
    connections for down_s seconds after that."""

    def __init__(self, target_port):
        self.target = target_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.armed = None
        self.down_until = 0.0
        self.swallowed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, down_s=0.0):
        with self.lock:
            self.armed = down_s

    def _accept(self):
        while True:
            c, _ = self.lsock.accept()
            if time.time() < self.down_until:
                c.close()
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            conn = {"victim": None}
            threading.Thread(target=self._up, args=(c, s, conn), daemon=True).start()
            threading.Thread(target=self._down, args=(c, s, conn), daemon=True).start()

    def _up(self, c, s, conn):
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                with self.lock:
                    if self.armed is not None and COMMIT_MARK in data and conn["victim"] is None:
                        conn["victim"] = self.armed
                        self.armed = None
                s.sendall(data)
        except OSError:
            pass
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _down(self, c, s, conn):
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                if conn["victim"] is not None:
                    # Redis ran it; drain what it still answers, then cut
                    s.settimeout(0.3)
                    try:
                        while s.recv(65536):
                            pass
                    except OSError:
                        pass
                    with self.lock:
                        self.swallowed += 1
                        self.down_until = time.time() + conn["victim"]
                    break
                c.sendall(data)
        except OSError:
            pass
        for x in (c, s):
            try:
                x.close()
            except OSError:
                pass


check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        proxy = Proxy(st.redis_port)
        st.start_sim(0, think="5", extra=["--mo-retry-ms", "1500"])
        cfg = st.write_config()
        with open(cfg) as f:
            text = f.read().replace("127.0.0.1:%d/0" % st.redis_port, "127.0.0.1:%d/0" % proxy.port)
        with open(cfg, "w") as f:
            f.write(text)
        st.start_gateway(cfg)
        n = {"A": "84912300001", "B": "84912300002"}

        def count(who, needle):
            return sum(needle in t for t in inbox(st, n[who]))

        def got(who, needle, timeout=10):
            wait_for(lambda: count(who, needle) >= 1, timeout, f"{who} to receive {needle!r} ({inbox(st, n[who])})")

        for who, down in (("A", 0.0), ("B", 1.0)):
            code, body = st.trigger(n[who], "LOST-" + who)
            check(code == 202, f"trigger {who}: {code} {body}")
            got(who, "Câu 1/6")
            time.sleep(0.3)
            before = proxy.swallowed
            proxy.arm(down)
            mo(st, n[who], "1")  # "Rất hài lòng" (5) to question 1
            wait_for(lambda: proxy.swallowed > before, 5, f"{who}: the COMMIT's reply to be swallowed")
            got(who, "Câu 2/6", timeout=15)
            time.sleep(3.0)  # past the redelivery of "1" (1.5 s after the refusal, Redis back by then)
            check(count(who, "Câu 2/6") == 1, f"{who}: question 2 sent {count(who, 'Câu 2/6')} times: "
                                              f"{inbox(st, n[who])}")
            check(count(who, "Câu 3/6") == 0, f"{who}: the reply to question 1 answered question 2: "
                                              f"{inbox(st, n[who])}")
            for i, key in enumerate(["4", "3", "3", "3", "0"], start=2):
                got(who, "Câu %d/6" % i)
                mo(st, n[who], key)
        # C: the item a gateway handed to the SMSC just before it died may
        # have reached the citizen, though the survey's "sq" went back when
        # it was put back in line (what REAP writes: sq below the item, uq
        # the item). A reply answers it only when it can answer nothing
        # else: a copy of the previous answer, or a key the previous item
        # takes too (a correction the citizen may have sent without seeing
        # the item), is ignored; the reminder asks again.
        n["C"] = "84912300003"
        code, body = st.trigger(n["C"], "LOST-C")
        check(code == 202, f"trigger C: {code} {body}")
        key = "hl:c:" + n["C"]  # a running survey is kept in its citizen's hash

        def unsure(sq, uq):
            st.redis("HSET", key, "sq", str(sq), "uq", str(uq))
            st.redis("HINCRBY", key, "ver", "1")  # another process changed it: no cached state

        def ignored(text, why):
            early = st.metrics().get("hailong_mo_before_item_total", 0)
            mo(st, n["C"], text)
            wait_for(lambda: st.metrics().get("hailong_mo_before_item_total", 0) > early, 5, "C: " + why)

        got("C", "Câu 1/6")
        mo(st, n["C"], "1")
        got("C", "Câu 2/6")
        time.sleep(0.3)
        check(st.redis("HGET", key, "sq") == "1", f"C: sq {st.redis('HGET', key, 'sq')}")
        unsure(0, 1)
        ignored("1", "the copy of the answer to question 1 ignored")
        ignored("4", "a key question 1 takes too ignored")
        ignored("không hài lòng", "a label question 1 takes too ignored")
        check(count("C", "Câu 3/6") == 0, f"C: a reply answered question 2: {inbox(st, n['C'])}")
        unsure(1, 1)  # the item sent again has left
        mo(st, n["C"], "4")
        got("C", "Câu 3/6")
        for i, k in enumerate(["3", "3", "3"], start=3):
            got("C", "Câu %d/6" % i)
            mo(st, n["C"], k)
        got("C", "Câu 6/6")
        time.sleep(0.3)
        unsure(4, 5)
        ignored("2", "a key the scale item before takes too ignored")
        mo(st, n["C"], "Cán bộ rất tận tình")  # a comment: no answer to the scale item before
        wait_for(lambda: harness.completed_surveys(st, "LOST-C") == 1, 10, "C: the comment taken")
        # D: an opt-out while the item's fate is unknown is honoured
        n["D"] = "84912300004"
        code, body = st.trigger(n["D"], "LOST-D")
        check(code == 202, f"trigger D: {code} {body}")
        key = "hl:c:" + n["D"]
        got("D", "Câu 1/6")
        mo(st, n["D"], "1")
        got("D", "Câu 2/6")
        time.sleep(0.3)
        unsure(0, 1)
        mo(st, n["D"], "HUY")
        got("D", "đã dừng khảo sát")

        def d_archived():
            with sqlite3.connect(st.db, timeout=5) as c:
                return c.execute("select count(*) from surveys where transaction_id = 'LOST-D'").fetchone()[0]
        wait_for(lambda: d_archived() == 1, 10, "D: archived")
        wait_for(lambda: harness.completed_surveys(st, "LOST-%") == 3, 15, "the surveys archived")
        m = st.metrics()
        check(m.get("hailong_mo_unsure_item_answered_total", 0) == 1,
              f"replies to an item of unknown fate taken: {m.get('hailong_mo_unsure_item_answered_total')}")
        check(m.get("hailong_mo_commit_reply_lost_total", 0) >= 2,
              f"lost commit replies counted: {m.get('hailong_mo_commit_reply_lost_total')}")
        check(m.get("hailong_mo_already_stored_total", 0) >= 2,
              f"replies found stored: {m.get('hailong_mo_already_stored_total')}")
        with sqlite3.connect(st.db, timeout=5) as c:
            for who in "ABC":
                rows = dict(c.execute(
                    "select a.question_id, a.value from answers a join surveys s using (survey_id) "
                    "where s.transaction_id = ?", ("LOST-" + who,)).fetchall())
                check(rows.get("access") == 5 and rows.get("procedure") == 2 and rows.get("officer") == 3,
                      f"{who}: archived answers {rows}")
            comment = c.execute("select a.text from answers a join surveys s using (survey_id) "
                                "where s.transaction_id = 'LOST-C' and a.question_id = 'comment'").fetchall()
            check(comment == [("Cán bộ rất tận tình",)], f"C: comment {comment}")
            d = c.execute("select status from surveys where transaction_id = 'LOST-D'").fetchall()
            check(d == [("opted_out",)], f"D: {d}")
        rc = st.stop("hailongd")
        check(rc == 0, f"hailongd exit {rc}")
    print("ok: a reply whose COMMIT's answer was lost is stored once and never answers the next question; "
          "after a crash, only a reply that can answer nothing else answers the item that may have left")


if __name__ == "__main__":
    main()
