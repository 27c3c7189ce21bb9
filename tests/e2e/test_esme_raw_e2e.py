#!/usr/bin/env python3
"""hailongd against an SMSC written from the SMPP 3.4 text with raw sockets
(tests/e2e/rawsmsc.py, no code shared with hailong-sim or the gateway), as an
operator's SMSC would treat it (SPEC §8, §9). Parts, each with its own stack:

  link      binds refused with four statuses (standard and vendor), retried
            with growing, jittered delays; the SMSC's enquire_link answered;
            the SMSC's unbind answered and the link bound again; our
            enquire_link when idle; an unanswered one drops the link.
  submit    the window and the TPS limit; generic_nack and the temporary
            statuses (also inside a generic_nack) retried, a permanent one not.
  receipts  ids in hex answered, receipts in decimal; a receipt before its
            submit_sm_resp; receipts as esm_class text, as TLVs only; an
            unknown id; a receipt for each part of a long message.
  mo        replies in data_coding 0, 3, 8; a long comment in parts out of
            order with a duplicate; vendor TLVs; malformed deliver_sm answered
            with an error while the session goes on.
  ussd      user_message_reference and its_session_info echoed on every
            screen; an answer with no survey gets a final screen.

Usage: test_esme_raw_e2e.py [part...] (no part: all, side by side)."""
import os
import re
import sqlite3
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import rawsmsc as R  # noqa: E402

PARTS = ["link", "submit", "receipts", "mo", "ussd"]


def start(st, extra="", window=10, tps=500):
    print("stack in", st.dir, flush=True)
    st.start_redis()
    smsc = R.RawSmsc(st.smsc_port)
    cfg = st.write_config(window=window, tps=tps, extra_smsc=extra)
    with open(cfg, "a") as f:
        f.write("log_level: debug\n")
    st.start_gateway(cfg, wait_ready=False)
    return smsc


def log_lines(st, pat):
    return [l for l in st.log_text("hailongd").splitlines() if re.search(pat, l)]


def wait_log(st, pat, timeout=3):
    """The log's lines matching pat, waiting for them a moment (info lines
    reach the file on the log's next flush); [] when none came."""
    end = time.time() + timeout
    while True:
        got = log_lines(st, pat)
        if got or time.time() > end:
            return got
        time.sleep(0.1)


# ---------------------------------------------------------------- link
def part_link():
    with harness.Stack() as st:
        smsc = start(st, extra="    enquire_link_s: 2\n    response_timeout_s: 2\n")
        refusals = [0x0E, 0x0D, 0x0405, 0x05]  # RINVPASWD, RBINDFAIL, a vendor code, RALYBND
        at = []
        for status in refusals:
            c = smsc.accept(70)
            at.append(time.time())
            b = c.expect(R.BIND_TRANSCEIVER)
            # an error bind_resp is header-only at many SMSCs
            c.send_resp(b, status)
            harness.check(c.closed(5), "hailongd kept a connection whose bind was refused")
            c.close()
        c = smsc.accept(70)
        at.append(time.time())
        b = c.expect(R.BIND_TRANSCEIVER)
        harness.check(b.body[b.body.index(b"\0", b.body.index(b"\0", b.body.index(b"\0") + 1) + 1) + 1] == 0x34,
                      "interface_version is not 0x34")
        c.send_resp(b, 0, R.cstr("raw"))
        gaps = [round(at[i + 1] - at[i], 2) for i in range(len(at) - 1)]
        # 1 s doubling, + 0-20 % jitter (the first retry comes 1-1.2 s after the refusal)
        for i, g in enumerate(gaps):
            lo, hi = 2 ** i * 0.95, 2 ** i * 1.2 + 0.5
            harness.check(lo <= g <= hi, f"reconnect gaps {gaps}: #{i} not within {lo}-{hi} s")
        harness.check(len(set(round(g - 2 ** i, 2) for i, g in enumerate(gaps))) > 1,
                      f"reconnect gaps {gaps}: no jitter")
        for name in ["ESME_RINVPASWD", "ESME_RBINDFAIL", "vendor_0x405", "ESME_RALYBND"]:
            harness.check(wait_log(st, "bind_refused status=" + name),
                          f"no bind_refused status={name} in the log")
        # the SMSC's enquire_link: answered with its sequence number
        seq = c.send_pdu(R.ENQUIRE_LINK)
        r = c.expect(R.ENQUIRE_LINK | R.RESP, 3)
        harness.check(r.seq == seq and r.status == 0 and r.len == 16, f"enquire_link_resp {r}")
        # idle: hailongd's own enquire_link within enquire_link_s (2 s)
        c.auto_enquire = False
        t0 = time.time()
        el = c.expect(R.ENQUIRE_LINK, 5)
        harness.check(time.time() - t0 < 3.5, "enquire_link later than enquire_link_s after the last PDU")
        c.send_resp(el)
        # one left unanswered: the link is dead after response_timeout_s, reconnect
        el = c.expect(R.ENQUIRE_LINK, 5)
        harness.check(c.closed(5), "an unanswered enquire_link did not drop the link")
        c.close()
        c = smsc.bind(5)
        # the SMSC unbinds: unbind_resp, the connection closes, a new bind soon
        seq = c.send_pdu(R.UNBIND)
        r = c.expect(R.UNBIND | R.RESP, 3)
        harness.check(r.seq == seq and r.status == 0, f"unbind_resp {r}")
        harness.check(c.closed(3), "hailongd did not close after answering unbind")
        t0 = time.time()
        c = smsc.bind(5)
        harness.check(time.time() - t0 < 2.5, "no quick reconnect after an unbind by the SMSC")
        # an unknown command id: generic_nack ESME_RINVCMDID with its sequence number
        c.send(R.pdu(0x00000077, 4242))
        r = c.expect(R.GENERIC_NACK, 3)
        harness.check(r.seq == 4242 and r.status == 0x03, f"unknown command: {r}")
        # shutdown: hailongd unbinds
        st.procs["hailongd"].send_signal(15)
        u = c.expect(R.UNBIND, 10)
        c.send_resp(u)
        harness.check(st.procs["hailongd"].wait(20) == 0, "hailongd did not exit 0")
        smsc.close()
        print(f"ok link: reconnect gaps {gaps} s after refusals {[hex(s) for s in refusals]}")


# ---------------------------------------------------------------- submit
SUBMIT_EXTRA = """    response_timeout_s: 5
    retry:
      ESME_RTHROTTLED: {tries: 3, delay: 300ms}
      ESME_RMSGQFUL: {tries: 3, delay: 300ms}
      default: {tries: 3, delay: 300ms}
"""


def part_submit():
    with harness.Stack() as st:
        smsc = start(st, extra=SUBMIT_EXTRA, window=2, tps=4)
        c = smsc.bind(10)
        harness.wait_for(lambda: st.http("GET", "/readyz")[0] == 200, 10, "ready")
        n = 2  # the default campaign's first message: 4 UCS-2 parts each
        for i in range(n):
            code, body = st.trigger("0" + harness.citizen(100 + i)[2:], "RAW-S-%d" % i)
            harness.check(code == 202, f"trigger {code} {body}")
        # nothing answered: the window (2) holds the rest back
        got = []
        end = time.time() + 2
        while time.time() < end:
            p = c.read(end - time.time())
            if p is not None and p.cmd == R.SUBMIT_SM:
                got.append(p)
        harness.check(len(got) == 2, f"{len(got)} submit_sm unanswered at once with window 2")
        # answers by first sight of a body: temporary errors (also in a
        # generic_nack), one permanent; a body seen again is a retry: accepted
        plan = [(R.GENERIC_NACK, 0x58), (R.SUBMIT_SM | R.RESP, 0x14), (R.SUBMIT_SM | R.RESP, 0x08),
                (R.SUBMIT_SM | R.RESP, 0x64), (R.GENERIC_NACK, 0x14), (R.SUBMIT_SM | R.RESP, 0x0B)]
        seen = {}   # body -> times sent
        order = []  # first-seen bodies
        outstanding, most = 0, 0
        pending = list(got)
        times = []
        next_id = 0x1A2B
        last_new = time.time()
        while time.time() - last_new < 6 and not (len(order) >= 6 and sum(seen.values()) >= 11):
            if not pending:
                p = c.read(0.5)
                if p is None or p.cmd != R.SUBMIT_SM:
                    continue
                pending.append(p)
            p = pending.pop(0)
            times.append(time.time())
            outstanding = 1 + len(pending)
            most = max(most, outstanding)
            key = p.body
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 1:
                order.append(key)
                last_new = time.time()
            k = order.index(key)
            if seen[key] == 1 and k < len(plan):
                cmd, status = plan[k]
                c.send(R.pdu(cmd, p.seq, b"", status))
            else:
                c.send_resp(p, 0, R.cstr("%X" % next_id))
                next_id += 1
        harness.check(most <= 2, f"{most} submit_sm outstanding with window 2")
        for k, (cmd, status) in enumerate(plan):
            want = 1 if status == 0x0B else 2
            harness.check(seen[order[k]] == want, f"status 0x{status:02x} in 0x{cmd:08x}: sent "
                          f"{seen[order[k]]} times, expected {want}")
        harness.check(wait_log(st, r"event=send_failed .*status=ESME_RINVDSTADR"), "no send_failed RINVDSTADR")
        harness.check(wait_log(st, r"event=slow_down"), "temporary errors did not slow the bind")
        # the permanent error failed the second message: its parts 3 and 4 never go
        p = c.read(2)
        harness.check(len(order) == 6 and p is None, f"bodies {len(order)}, then {p}")
        # the TPS limit (4/s; slowed for 10 s after the errors): in any span T,
        # at most 4 + 4 T submits
        time.sleep(10)
        for i in range(12):
            st.trigger("0" + harness.citizen(200 + i)[2:], "RAW-T-%d" % i)
        tps_times = []
        end = time.time() + 12
        while time.time() < end and len(tps_times) < 12:
            p = c.read(end - time.time())
            if p is not None and p.cmd == R.SUBMIT_SM:
                tps_times.append(time.time())
                c.send_resp(p, 0, R.cstr("%d" % next_id))
                next_id += 1
        harness.check(len(tps_times) >= 12, f"only {len(tps_times)} of 12 submit_sm")
        for i in range(len(tps_times)):
            for j in range(i + 1, len(tps_times)):
                span = tps_times[j] - tps_times[i]
                harness.check(j - i + 1 <= 4 + 4 * span + 1, f"{j - i + 1} submit_sm in {span:.2f} s at tps 4")
        rate = (len(tps_times) - 4) / (tps_times[-1] - tps_times[3])
        harness.check(rate <= 4.4, f"sustained {rate:.2f}/s at tps 4")
        # the response timer (5 s): a submit_sm left unanswered is sent again
        st.trigger("0" + harness.citizen(250)[2:], "RAW-TO")
        first, t0, again = None, None, None
        end = time.time() + 15
        while time.time() < end and again is None:
            p = c.read(end - time.time())
            if p is None or p.cmd != R.SUBMIT_SM:
                continue
            if first is None:
                first, t0 = p.body, time.time()  # not answered
            elif p.body == first:
                again = time.time() - t0
                c.send_resp(p, 0, R.cstr("%d" % next_id))
            else:
                c.send_resp(p, 0, R.cstr("%d" % (next_id + 1000)))
        harness.check(again is not None and 4.5 <= again <= 8, f"unanswered submit_sm sent again after {again} s")
        harness.check(wait_log(st, r"event=response_timeout cmd=submit_sm"), "no response_timeout in the log")
        c.close()
        smsc.close()
        print(f"ok submit: window 2 held, retries {[seen[b] for b in order[:len(plan)]]}, sustained {rate:.2f}/s at "
              f"tps 4, resent {again:.1f} s after no answer")


# ---------------------------------------------------------------- receipts
def receipt_text(rid, stat):
    return ("id:%s sub:001 dlvrd:%s submit date:2611291430 done date:2611291431 stat:%s err:000 "
            "text:Cau 1/6" % (rid, "001" if stat == "DELIVRD" else "000", stat)).encode()


class Delivery:
    """deliver_sm sent by the SMSC and their answers: every one must be answered
    ROK; ESME_RX_T_APPN means "again later" (sent again)."""

    def __init__(self, c):
        self.c, self.wait = c, {}
        self.statuses = []

    def send(self, body):
        seq = self.c.send_pdu(R.DELIVER_SM, body)
        self.wait[seq] = body
        return seq

    def take(self, p):
        if p.cmd != R.DELIVER_SM | R.RESP:
            return False
        body = self.wait.pop(p.seq, None)
        harness.check(body is not None, f"deliver_sm_resp for no deliver_sm: {p}")
        self.statuses.append(p.status)
        if p.status == 0x64:
            time.sleep(0.2)
            self.send(body)
        else:
            harness.check(p.status == 0, f"deliver_sm answered 0x{p.status:x}")
        return True

    def drain(self, timeout, other=None):
        end = time.time() + timeout
        while self.wait and time.time() < end:
            p = self.c.read(end - time.time())
            if p is not None and not self.take(p) and other:
                other(p)
        harness.check(not self.wait, f"{len(self.wait)} deliver_sm never answered")


def part_receipts():
    with harness.Stack() as st:
        smsc = start(st)
        c = smsc.bind(10)
        harness.wait_for(lambda: st.http("GET", "/readyz")[0] == 200, 10, "ready")
        nums = {k: harness.citizen(300 + i) for i, k in enumerate("ABCD")}
        for k, m in nums.items():
            code, body = st.trigger("0" + m[2:], "RAW-R-" + k)
            harness.check(code == 202, f"trigger {code} {body}")
        who = {m: k for k, m in nums.items()}
        ids = {k: [] for k in nums}
        d = Delivery(c)
        next_id = 0x1A2B
        early = None
        while sum(len(v) for v in ids.values()) < 16:
            p = c.read(10)
            harness.check(p is not None, f"submits: {ids}")
            if d.take(p) or p.cmd != R.SUBMIT_SM:
                continue
            sm = R.parse_sm(p.body)
            k = who[sm["dst"]]
            harness.check(sm["registered_delivery"] & 1, "registered_delivery not set")
            rid = "%X" % next_id  # hex ids in the responses
            next_id += 1
            ids[k].append(rid)
            if k == "C" and early is None:
                # the receipt of C's first part comes before its submit_sm_resp
                early = d.send(R.sm_body(sm["dst"], "8088", receipt_text(str(int(rid, 16)), "DELIVRD"),
                                         esm_class=0x04))
                time.sleep(0.3)
            c.send_resp(p, 0, R.cstr(rid))
        # A: a text receipt per part, ids written in decimal
        for rid in ids["A"]:
            d.send(R.sm_body(nums["A"], "8088", receipt_text(str(int(rid, 16)), "DELIVRD"), esm_class=0x04))
        # B: TLVs only (receipted_message_id, message_state DELIVERED), no text, esm_class 0
        d.send(R.sm_body(nums["B"], "8088", b"", tlvs=R.tlv(R.TLV_RECEIPTED_MESSAGE_ID, R.cstr(ids["B"][0])) +
                         R.tlv(R.TLV_MESSAGE_STATE, b"\x02")))
        # D: "id: stat:" text without esm_class bits, lower case hex id, UNDELIV
        d.send(R.sm_body(nums["D"], "8088", receipt_text(ids["D"][2].lower(), "UNDELIV")))
        # an id nobody sent, and an ENROUTE one: answered, not counted
        d.send(R.sm_body(nums["A"], "8088", receipt_text("999999999", "DELIVRD"), esm_class=0x04))
        d.send(R.sm_body(nums["A"], "8088", receipt_text(ids["A"][0], "ENROUTE"), esm_class=0x04))
        d.drain(15)

        def counts():
            m = st.metrics()
            return {s: m.get('hailong_receipts_total{state="%s"}' % s, 0) for s in ("delivered", "undeliverable")}
        try:
            harness.wait_for(lambda: counts() == {"delivered": 3, "undeliverable": 1}, 10, "receipts counted")
        except TimeoutError:
            raise AssertionError(f"receipts counted {counts()} (want 3 delivered, 1 undeliverable)")
        # each part's receipt names the message (the id of part 1), decimal or hex
        for rid in ids["A"]:
            harness.check(wait_log(st, r"event=receipt msgid=%s receipt_id=%d " % (ids["A"][0], int(rid, 16))),
                          f"the decimal receipt id of part {rid} not matched to message {ids['A'][0]}")
        harness.check(wait_log(st, r"event=receipt msgid=%s receipt_id=%d " % (ids["C"][0], int(ids["C"][0], 16))),
                      "the receipt that came before its submit_sm_resp was not matched")
        c.close()
        smsc.close()
        print(f"ok receipts: ids {ids}; deliver_sm answers {sorted(set(d.statuses))}")


# ---------------------------------------------------------------- mo
COMMENT = ("Cán bộ một cửa hướng dẫn rất tận tình, nhưng phòng chờ chật và nóng; đề nghị bố trí thêm ghế, "
           "quạt và bảng số thứ tự điện tử để người dân không phải đứng chờ lâu. Xin cảm ơn!")


def answer_submits(c, d, quiet=1.0, limit=15):
    """Accept every submit_sm until none comes for `quiet` s; their texts."""
    texts, end = [], time.time() + limit
    while time.time() < end:
        p = c.read(quiet)
        if p is None:
            if texts:
                return texts
            continue
        if d.take(p) or p.cmd != R.SUBMIT_SM:
            continue
        texts.append(R.sm_text(R.parse_sm(p.body)))
        c.send_resp(p, 0, R.cstr("%d" % (int(time.time() * 1000) % 10 ** 9 + len(texts))))
    raise AssertionError("no submit_sm")


def expect_resp(c, d, seq, status, what):
    end = time.time() + 5
    while time.time() < end:
        p = c.read(end - time.time())
        if p is None:
            break
        if p.cmd == R.DELIVER_SM | R.RESP and p.seq == seq:
            harness.check(p.status == status, f"{what}: answered 0x{p.status:x}, expected 0x{status:x}")
            return
        if not d.take(p) and p.cmd == R.SUBMIT_SM:
            c.send_resp(p, 0, R.cstr("77"))
    raise AssertionError(f"{what}: no deliver_sm_resp")


def part_mo():
    with harness.Stack() as st:
        smsc = start(st)
        c = smsc.bind(10)
        harness.wait_for(lambda: st.http("GET", "/readyz")[0] == 200, 10, "ready")
        x = harness.citizen(400)
        code, body = st.trigger("0" + x[2:], "RAW-MO")
        harness.check(code == 202, f"trigger {code} {body}")
        d = Delivery(c)
        answer_submits(c, d)
        # item 1: "1" in GSM (0); item 2: "2" in UCS-2 (8); item 3: Latin-1 (3)
        for text, dc in (("1", 0), ("2", 8), ("3", 3)):
            raw = text.encode("utf-16-be") if dc == 8 else text.encode("latin-1")
            d.send(R.sm_body(x, "8088", raw, data_coding=dc))
            t = answer_submits(c, d)
            harness.check(any("Câu %d/6" % (int(text) + 1) in s for s in t), f"after {text!r} dc={dc}: {t}")
        # malformed deliver_sm: each answered with an error, the session goes on
        bad = [
            ("src_addr without its NUL", R.cstr("") + b"\x01\x01" + x.encode(), 0x02),
            ("sm_length beyond the body", R.sm_body(x, "8088", b"4")[:-2] + b"\xc8" + b"4", 0x01),
            ("a TLV longer than the body", R.sm_body(x, "8088", b"4") + b"\x14\x01\x00\x40ab", 0xC2),
            ("its_session_info of 3 octets", R.sm_body(x, "8088", b"4") + R.tlv(R.TLV_ITS_SESSION_INFO, b"abc"), 0xC2),
        ]
        for what, body, status in bad:
            seq = c.send_pdu(R.DELIVER_SM, body)
            expect_resp(c, d, seq, status, what)
        # a PDU of 3 bytes' body that says it has 0: framing cut: generic_nack, reconnect
        c.send(R.pdu(R.DELIVER_SM, 9999, length=0x00100000))
        p = c.expect(R.GENERIC_NACK, 5)
        harness.check(p.status == 0x02, f"framing error answered {p}")
        harness.check(c.closed(3), "the connection stayed after a framing error")
        c.close()
        c = smsc.bind(10)
        d = Delivery(c)
        # item 4: IA5 (1) with dozens of vendor TLVs
        vendor = b"".join(R.tlv(0x1400 + i, bytes([i]) * (i % 7)) for i in range(40))
        d.send(R.sm_body(x, "8088", b"4", data_coding=1, tlvs=vendor + R.tlv(0x0381, b"\x03\x00\x01")))
        t = answer_submits(c, d)
        harness.check(any("Câu 5/6" in s for s in t), f"after item 4: {t}")
        # item 5: a NUL after the body that short_message's length does not count (padding)
        d.send(R.sm_body(x, "8088", b"5") + b"\0")
        t = answer_submits(c, d)
        harness.check(any("Câu 6/6" in s for s in t), f"after item 5: {t}")
        # the comment: UCS-2 in three parts (8-bit UDH), sent 3, 1, 1 again, 2
        u = COMMENT.encode("utf-16-be")
        chunks = [u[i:i + 134] for i in range(0, len(u), 134)]
        harness.check(len(chunks) == 3, f"{len(chunks)} parts")
        for k in (3, 1, 1, 2):
            udh = bytes([5, 0, 3, 0x42, 3, k])
            d.send(R.sm_body(x, "8088", udh + chunks[k - 1], esm_class=0x40, data_coding=8))
            time.sleep(0.1)
        t = answer_submits(c, d)
        d.drain(5)

        def row():
            with sqlite3.connect(st.db, timeout=5) as db:
                r = db.execute("select survey_id, status, channel from surveys where transaction_id='RAW-MO'").fetchone()
                return r if r and r[1] == "completed" else None
        sid, _, ch = harness.wait_for(row, 20, "the survey archived")
        with sqlite3.connect(st.db) as db:
            got = {q: (v, tx) for q, v, tx in db.execute(
                "select question_id, value, text from answers where survey_id=?", (sid,))}
        want = {"access": (5, None), "procedure": (4, None), "officer": (3, None), "result": (2, None),
                "feedback": (1, None), "comment": (None, COMMENT)}
        harness.check(got == want, f"archived {got}")
        harness.check(ch == "sms", f"channel {ch}")
        # three more citizens, their comments as 16-bit UDH, sar_* TLVs and message_payload
        ys = {"udh16": harness.citizen(401), "sar": harness.citizen(402), "payload": harness.citizen(403)}
        for how, y in ys.items():
            st.trigger("0" + y[2:], "RAW-MO-" + how)
        answer_submits(c, d)
        for k in range(1, 6):
            for y in ys.values():
                d.send(R.sm_body(y, "8088", str(k).encode()))
            t = answer_submits(c, d)
            harness.check(sum("Câu %d/6" % (k + 1) in x for x in t) == 3, f"after {k}: {t}")
        u = COMMENT.encode("utf-16-be")
        parts = [u[i:i + 128] for i in range(0, len(u), 128)]
        for i in (2, 0, 1):
            udh = bytes([6, 8, 4, 0x12, 0x34, len(parts), i + 1])
            d.send(R.sm_body(ys["udh16"], "8088", udh + parts[i], esm_class=0x40, data_coding=8))
            sar = (R.tlv(R.TLV_SAR_MSG_REF_NUM, b"\x56\x78") + R.tlv(R.TLV_SAR_TOTAL_SEGMENTS, bytes([len(parts)])) +
                   R.tlv(R.TLV_SAR_SEGMENT_SEQNUM, bytes([i + 1])))
            d.send(R.sm_body(ys["sar"], "8088", parts[i], data_coding=8, tlvs=sar))
        d.send(R.sm_body(ys["payload"], "8088", b"", data_coding=8, tlvs=R.tlv(R.TLV_MESSAGE_PAYLOAD, u)))
        answer_submits(c, d)
        d.drain(5)
        for how in ys:
            def done():
                with sqlite3.connect(st.db, timeout=5) as db:
                    return db.execute("select a.text from answers a join surveys s using (survey_id) where "
                                      "s.transaction_id=? and s.status='completed' and a.question_id='comment'",
                                      ("RAW-MO-" + how,)).fetchone()
            r = harness.wait_for(done, 20, how + " archived")
            harness.check(r[0] == COMMENT, f"{how}: archived comment {r[0]!r}")
        c.close()
        smsc.close()
        print(f"ok mo: dc 0/8/3/1, {len(bad)} malformed answered, framing cut survived, 40 vendor TLVs, "
              f"a 3-part comment out of order with a duplicate; 16-bit UDH, sar_*, message_payload")


# ---------------------------------------------------------------- ussd
OPS = {"pssr_indication": 0x01, "pssr_response": 0x12, "ussr_request": 0x11, "ussr_confirm": 0x02}
USSD_EXTRA = ("    ussd:\n      service_code: \"*8088#\"\n      service_type: USSD\n"
              "      ops: {pssr_indication: 0x01, pssr_response: 0x12, ussr_request: 0x11, ussr_confirm: 0x02}\n"
              "      session_timeout: 5s\n")


def ussd_mo(x, text, op, sess=None, umr=None, dc=0):
    t = R.tlv(R.TLV_USSD_SERVICE_OP, bytes([op]))
    if sess is not None:
        t += R.tlv(R.TLV_ITS_SESSION_INFO, sess)
    if umr is not None:
        t += R.tlv(R.TLV_USER_MESSAGE_REFERENCE, struct.pack(">H", umr))
    raw = text.encode("utf-16-be") if dc in (0x08, 0x48) else text.encode("latin-1")
    return R.sm_body(x, "8088", raw, tlvs=t, data_coding=dc)


def screens(c, d, n=1, limit=10):
    """The next n submit_sm (accepted), parsed, with their text."""
    out, end = [], time.time() + limit
    while len(out) < n:
        p = c.read(max(0.0, end - time.time()))
        harness.check(p is not None, f"only {len(out)} of {n} screens: {out}")
        if d.take(p) or p.cmd != R.SUBMIT_SM:
            continue
        sm = R.parse_sm(p.body)
        sm["text"] = R.sm_text(sm)
        out.append(sm)
        c.send_resp(p, 0, R.cstr("%X" % (0x5000 + len(out))))
    return out


def check_screen(sm, op, sess=None, umr=None, what=""):
    t = sm["tlvs"]
    harness.check(t.get(R.TLV_USSD_SERVICE_OP) == bytes([op]),
                  f"{what}: op {t.get(R.TLV_USSD_SERVICE_OP)} != 0x{op:02x}: {sm['text']!r}")
    harness.check(sm["service_type"] == "USSD" and not sm["esm_class"] & 0x40 and R.TLV_SAR_MSG_REF_NUM not in t,
                  f"{what}: service_type {sm['service_type']!r}, esm_class {sm['esm_class']}")
    harness.check(len(sm["short_message"]) <= (160 if sm["data_coding"] == 8 else 182), f"{what}: screen too long")
    if sess is not None and op == OPS["pssr_response"]:
        sess = bytes([sess[0], sess[1] | 1])  # the end-of-session bit on the screen that ends it
    harness.check(t.get(R.TLV_ITS_SESSION_INFO) == sess, f"{what}: its_session_info {t.get(R.TLV_ITS_SESSION_INFO)} "
                  f"!= {sess}")
    want = None if umr is None else struct.pack(">H", umr)
    harness.check(t.get(R.TLV_USER_MESSAGE_REFERENCE) == want,
                  f"{what}: user_message_reference {t.get(R.TLV_USER_MESSAGE_REFERENCE)} != {want}")


def part_ussd():
    with harness.Stack() as st:
        harness.ussd_campaigns(st, [("invite_after: 10m", "invite_after: 6s")])
        smsc = start(st, extra=USSD_EXTRA)
        c = smsc.bind(10)
        harness.wait_for(lambda: st.http("GET", "/readyz")[0] == 200, 10, "ready")
        d = Delivery(c)
        p, q, t = harness.citizen(500), harness.citizen(501), harness.citizen(502)
        # push: the first screen, no session to echo
        code, body = st.trigger("0" + p[2:], "RAW-U-P", campaign="ussd-default")
        harness.check(code == 202, f"trigger {code} {body}")
        s = screens(c, d)[0]
        check_screen(s, OPS["ussr_request"], what="push")
        harness.check("1/5" in s["text"], f"push: {s['text']!r}")
        # answers: user_message_reference alone, then with its_session_info; each echoed
        refs = [(None, 0x1234), (b"\x07\x02", 0x1235), (b"\x07\x04", None), (b"\x07\x06", 0x0001),
                (b"\x07\x08", 0xFFFF)]
        for i, (sess, umr) in enumerate(refs):
            # the third, the label in words, in UCS-2 under the USSD DCS 0x48 (3GPP 23.038), as
            # some centres pass it (read as Latin-1 it was "Bnh thng" plus stray bytes: invalid)
            d.send(ussd_mo(p, "Bình thường" if i == 2 else str(1 + i % 5), OPS["ussr_confirm"], sess, umr,
                           0x48 if i == 2 else 0))
            s = screens(c, d)[0]
            last = i == len(refs) - 1
            check_screen(s, OPS["pssr_response" if last else "ussr_request"], sess, umr, f"answer {i + 1}")
            if not last:
                harness.check("%d/5" % (i + 2) in s["text"], f"answer {i + 1}: {s['text']!r}")
        # a dial without a survey: a final "no survey" screen in its session
        d.send(ussd_mo(q, "*8088#", OPS["pssr_indication"], b"\x09\x00"))
        s = screens(c, d)[0]
        check_screen(s, OPS["pssr_response"], b"\x09\x00", None, "dial without a survey")
        harness.check("khong co khao sat" in s["text"].lower(), f"no survey: {s['text']!r}")
        # an answer from a number without a session: a final screen too, never silence
        d.send(ussd_mo(q, "3", OPS["ussr_confirm"], b"\x0a\x02"))
        s = screens(c, d, limit=5)[0]
        check_screen(s, OPS["pssr_response"], b"\x0a\x02", None, "an answer without a session")
        # push left unanswered: timed out after 5 s, an SMS invitation after 6 s, a dial resumes
        code, body = st.trigger("0" + t[2:], "RAW-U-T", campaign="ussd-default")
        s = screens(c, d)[0]
        check_screen(s, OPS["ussr_request"], what="push 2")
        d.send(ussd_mo(t, "2", OPS["ussr_confirm"], b"\x0b\x02"))
        s = screens(c, d)[0]
        check_screen(s, OPS["ussr_request"], b"\x0b\x02", None, "push 2 answer 1")
        t0 = time.time()
        sms = screens(c, d, limit=20)[0]
        harness.check(R.TLV_USSD_SERVICE_OP not in sms["tlvs"] and "*8088#" in sms["text"],
                      f"the invitation: {sms}")
        waited = time.time() - t0
        # (due times are whole seconds: up to 1 s early)
        harness.check(waited > 4.9, f"the invitation came {waited:.1f} s after the last screen (invite_after 6s)")
        m = st.metrics()
        harness.check(m.get('hailong_ussd_sessions_total{event="timed_out"}', 0) == 1, f"timed_out: {m}")
        d.send(ussd_mo(t, " *8088# ", OPS["pssr_indication"], b"\x0c\x00", 0x42))
        s = screens(c, d)[0]
        check_screen(s, OPS["ussr_request"], b"\x0c\x00", 0x42, "dial again")
        harness.check("2/5" in s["text"], f"dial again did not resume at item 2: {s['text']!r}")
        # a screen the centre refuses (the citizen hung up after answering): the session is
        # over, not the survey; dialling again resumes it
        w = harness.citizen(503)
        code, body = st.trigger("0" + w[2:], "RAW-U-W", campaign="ussd-default")
        s = screens(c, d)[0]
        d.send(ussd_mo(w, "1", OPS["ussr_confirm"], b"\x0d\x02"))
        while True:
            p2 = c.read(5)
            harness.check(p2 is not None, "no screen after the answer")
            if not d.take(p2) and p2.cmd == R.SUBMIT_SM:
                break
        c.send_resp(p2, 0x45)  # ESME_RSUBMITFAIL
        time.sleep(1.5)
        d.send(ussd_mo(w, "*8088#", OPS["pssr_indication"], b"\x0e\x00"))
        s = screens(c, d)[0]
        check_screen(s, OPS["ussr_request"], b"\x0e\x00", None, "dial after a refused screen")
        harness.check("2/5" in s["text"], f"dial after a refused screen: {s['text']!r}")
        d.drain(5)
        with sqlite3.connect(st.db, timeout=5) as db:
            r = harness.wait_for(lambda: db.execute(
                "select channel, status from surveys where transaction_id='RAW-U-P'").fetchone(), 20, "archive")
        harness.check(r == ("ussd", "completed"), f"archive: {r}")
        with sqlite3.connect(st.db, timeout=5) as db:
            got = [v for (v,) in db.execute("select value from answers a join surveys s using (survey_id) "
                                            "where s.transaction_id='RAW-U-P' order by a.question_id")]
            keyed = dict(db.execute("select question_id, value from answers a join surveys s using (survey_id) "
                                    "where s.transaction_id='RAW-U-P'").fetchall())
        want = {"access": 5, "procedure": 4, "officer": 3, "result": 2, "feedback": 1}
        harness.check(keyed == want, f"archived {keyed} != keyed {want} ({got})")
        c.close()
        smsc.close()
        print("ok ussd: umr and its_session_info echoed on every screen, no-survey dial and answer closed, "
              f"timeout, invitation after {waited:.1f} s, resume, a refused screen ends only the session")


PARTS_FN = {"link": part_link, "submit": part_submit, "receipts": part_receipts, "mo": part_mo,
            "ussd": part_ussd}


def main():
    names = sys.argv[1:]
    if names:
        for n in names:
            PARTS_FN[n]()
        return
    harness.run_parts(os.path.abspath(__file__), [p for p in PARTS if p in PARTS_FN])


if __name__ == "__main__":
    main()
