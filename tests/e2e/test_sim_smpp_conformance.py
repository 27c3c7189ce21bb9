#!/usr/bin/env python3
"""hailong-sim seen by an ESME that is not ours: a raw-socket SMPP 3.4 client
(no library between the test and the bytes) checks sessions (binds and their
refusals, PDUs before a bind, a second bind, unbind, enquire_link, generic_nack
for unknown ids and bad command_length), submit_sm (every registered_delivery
value, the receipt's text, esm_class and TLVs, ids, receipts after their
response, data codings, UDH and sar_* parts, message_payload with a UDH inside,
schedule/validity strings, empty and 254-octet messages), query_sm (and
cancel_sm/replace_sm of a message already delivered), the commands the
simulator does not serve (generic_nack ESME_RINVCMDID), a window of 300
pipelined submits, the SMSC's own deliver_sm retried on the ESME's temporary
errors and given up on permanent ones, and MOs and receipts routed to the
right account when two ESMEs are bound, and the SMSC's own enquire_link on an
idle session (a dead link closed). Every divergence is listed before the
test fails."""
import json
import os
import socket
import struct
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

GENERIC_NACK, BIND_RX, BIND_TX, QUERY_SM, SUBMIT_SM, DELIVER_SM, UNBIND = (
    0x80000000, 1, 2, 3, 4, 5, 6)
REPLACE_SM, CANCEL_SM, BIND_TRX, ENQUIRE_LINK, SUBMIT_MULTI, DATA_SM = 7, 8, 9, 0x15, 0x21, 0x103
RESP = 0x80000000

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("DIVERGES:", what)


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def submit_body(dst="84999990001", src="8088", text=b"hello", esm=0, rd=0, dc=0, sched="",
                valid="", stype="", tlvs=b""):
    if isinstance(text, str):
        text = text.encode()
    return (cstr(stype) + bytes([1, 1]) + cstr(src) + bytes([1, 1]) + cstr(dst) + bytes([esm, 0, 0])
            + cstr(sched) + cstr(valid) + bytes([rd, 0, dc, 0, len(text)]) + text + tlvs)


class Esme:
    """One TCP connection speaking SMPP by hand."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.seq = 0
        self.buf = b""
        self.pending = []  # deliver_sm received (parsed) and answered, not yet collected

    def send(self, cmd, body=b"", status=0, seq=None):
        if seq is None:
            self.seq += 1
            seq = self.seq
        self.sock.sendall(struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body)
        return seq

    def recv(self, timeout=5.0):
        """(command_id, status, seq, body), None when the SMSC closed, or
        socket.timeout."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= n:
                    p, self.buf = self.buf[:n], self.buf[n:]
                    _, cmd, st, seq = struct.unpack(">IIII", p[:16])
                    return cmd, st, seq, p[16:]
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not d:
                return None
            self.buf += d

    def call(self, cmd, body=b""):
        """Sends a request, returns its response (None: closed). The SMSC's
        own requests that come first are answered and kept (deliver_sm, for
        collect) or answered (enquire_link)."""
        seq = self.send(cmd, body)
        while True:
            r = self.recv()
            if r is None or r[0] & RESP:
                break
            self.answer(r)
        if r is not None and r[2] != seq:
            failures.append(f"response to seq {seq} came with seq {r[2]}")
        return r

    def answer(self, x, status=0):
        if x[0] == DELIVER_SM:
            self.pending.append(parse_sm(x[3]))
            self.send(DELIVER_SM | RESP, b"\0", status=status, seq=x[2])
        elif x[0] == ENQUIRE_LINK:
            self.send(ENQUIRE_LINK | RESP, seq=x[2])

    def bind(self, cmd=BIND_TRX, sid="hailong", pw="secret", ver=0x34):
        return self.call(cmd, cstr(sid) + cstr(pw) + cstr("") + bytes([ver, 0, 0]) + cstr(""))

    def submit(self, **kw):
        return self.call(SUBMIT_SM, submit_body(**kw))

    def collect(self, quiet=0.7, answer=0):
        """deliver_sm received until `quiet` s without one, each answered with
        status `answer`."""
        while True:
            try:
                x = self.recv(quiet)
            except socket.timeout:
                break
            if x is None:
                break
            self.answer(x, answer)
        out, self.pending = self.pending, []
        return out

    def close(self):
        self.sock.close()


def parse_sm(b):
    """The fields of a deliver_sm body a test looks at."""
    o = {}
    i = b.index(0) + 1
    o["src_ton"], o["src_npi"] = b[i], b[i + 1]
    i += 2
    j = b.index(0, i)
    o["src"] = b[i:j].decode()
    i = j + 1
    o["dst_ton"], o["dst_npi"] = b[i], b[i + 1]
    i += 2
    j = b.index(0, i)
    o["dst"] = b[i:j].decode()
    i = j + 1
    o["esm_class"] = b[i]
    i += 3
    for _ in range(2):
        i = b.index(0, i) + 1
    o["registered_delivery"], o["data_coding"], n = b[i], b[i + 2], b[i + 4]
    i += 5
    o["short_message"] = b[i:i + n]
    i += n
    o["tlvs"] = {}
    while i + 4 <= len(b):
        tag, ln = struct.unpack(">HH", b[i:i + 4])
        o["tlvs"][tag] = b[i + 4:i + 4 + ln]
        i += 4 + ln
    return o


def receipt_fields(sm):
    """{id, sub, dlvrd, submit date, done date, stat, err, text} from a receipt's text."""
    t = sm["short_message"].decode("latin-1")
    out = {}
    for key in ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err"):
        k = t.find(key + ":")
        if k >= 0:
            out[key] = t[k + len(key) + 1:].split(" ", 1)[0]
    k = t.find("text:")
    out["text"] = t[k + 5:] if k >= 0 else None
    return out


def msgid(resp):
    return resp[3].rstrip(b"\0").decode()


def sessions(port):
    esme = Esme(port)
    # PDUs before a bind
    r = esme.submit()
    expect(r[:2] == (SUBMIT_SM | RESP, 4) and r[3] == b"", f"submit_sm before bind: {r}")
    r = esme.call(ENQUIRE_LINK)
    expect(r[:2] == (ENQUIRE_LINK | RESP, 0), f"enquire_link before bind: {r}")
    r = esme.call(QUERY_SM, cstr("1") + bytes([1, 1]) + cstr("8088"))
    expect(r[:2] == (QUERY_SM | RESP, 4), f"query_sm before bind: {r}")
    # refusals keep the connection open; then a bind, a second bind
    r = esme.bind(pw="wrong")
    expect(r[:2] == (BIND_TRX | RESP, 0x0E), f"wrong password: {r}")
    r = esme.bind(sid="nobody")
    expect(r[:2] == (BIND_TRX | RESP, 0x0F), f"unknown system_id: {r}")
    r = esme.bind(ver=0x50)
    expect(r[:2] == (BIND_TRX | RESP, 0), f"bind_transceiver 0x50: {r}")
    for cmd in (BIND_TRX, BIND_TX, BIND_RX):
        r = esme.bind(cmd=cmd)
        expect(r[:2] == (cmd | RESP, 5), f"second bind {cmd:#x}: {r}")
    # query_sm of a message of this account; of an unknown id, of another
    # source address: ESME_RQUERYFAIL
    mid = msgid(esme.submit(dst="84999990009", src="8088"))
    r = esme.call(QUERY_SM, cstr(mid) + bytes([1, 1]) + cstr("8088"))
    expect(r is not None and r[:2] == (QUERY_SM | RESP, 0), f"query_sm: {r}")
    if r is not None and r[1] == 0:
        body = r[3]
        i = body.index(0)
        final = body[i + 1:body.index(0, i + 1)].decode()
        rest = body[body.index(0, i + 1) + 1:]
        expect(body[:i].decode() == mid and len(final) == 16 and final[12:] == "000+"
               and rest in (b"\x02\x00", b"\x05\x01"), f"query_sm_resp body {body!r}")
    for qid, src in (("FFFFFFFFFFFF", "8088"), (mid, "9999"), ("not hex", "8088")):
        r = esme.call(QUERY_SM, cstr(qid) + bytes([1, 1]) + cstr(src))
        expect(r is not None and r[:2] == (QUERY_SM | RESP, 0x67), f"query_sm {qid} from {src}: {r}")
    # a delivered message cannot be cancelled or replaced
    r = esme.call(CANCEL_SM, cstr("") + cstr(mid) + bytes([1, 1]) + cstr("8088") + bytes([1, 1])
                  + cstr("84999990009"))
    expect(r is not None and r[:2] == (CANCEL_SM | RESP, 0x11), f"cancel_sm: {r}")
    r = esme.call(REPLACE_SM, cstr(mid) + bytes([1, 1]) + cstr("8088") + cstr("") + cstr("")
                  + bytes([0, 0, 2]) + b"hi")
    expect(r is not None and r[:2] == (REPLACE_SM | RESP, 0x13), f"replace_sm: {r}")
    # unknown and unserved commands: generic_nack ESME_RINVCMDID, session goes on
    for name, cmd, body in (
            ("unknown 0x777", 0x777, b""),
            ("submit_multi", SUBMIT_MULTI, cstr("") + bytes([1, 1]) + cstr("8088") + bytes([1, 1, 1, 1])
             + cstr("84999990001") + bytes([0, 0, 0]) + cstr("") + cstr("") + bytes([0, 0, 0, 0, 2]) + b"hi"),
            ("outbind", 0x0B, cstr("a") + cstr("b"))):
        r = esme.call(cmd, body)
        expect(r is not None and r[:2] == (GENERIC_NACK, 3), f"{name}: {r}")
    r = esme.call(SUBMIT_SM, submit_body()[:9])
    expect(r is not None and r[0] == SUBMIT_SM | RESP and r[1] != 0, f"truncated submit_sm: {r}")
    # a response to nothing is ignored
    esme.send(SUBMIT_SM | RESP, cstr("x"), seq=777)
    r = esme.call(ENQUIRE_LINK)
    expect(r is not None and r[:2] == (ENQUIRE_LINK | RESP, 0), f"enquire_link when bound: {r}")
    # unbind: its response, then the SMSC closes
    r = esme.call(UNBIND)
    expect(r is not None and r[:2] == (UNBIND | RESP, 0), f"unbind: {r}")
    expect(esme.recv(2) is None, "connection not closed after unbind_resp")
    # command_length below 16, and absurd: generic_nack ESME_RINVCMDLEN, closed
    for n in (8, 0x7FFFFFFF):
        esme = Esme(port)
        esme.bind()
        esme.sock.sendall(struct.pack(">IIII", n, ENQUIRE_LINK, 0, 99))
        r = esme.recv()
        expect(r is not None and r[:3] == (GENERIC_NACK, 2, 99), f"command_length {n}: {r}")
        expect(esme.recv(2) is None, f"command_length {n}: not closed")
    # a receiver may not submit
    esme = Esme(port)
    esme.bind(cmd=BIND_RX)
    r = esme.submit()
    expect(r[:2] == (SUBMIT_SM | RESP, 4), f"submit_sm from a receiver: {r}")
    esme.close()


def submits(port, ctl):
    esme = Esme(port)
    esme.bind()
    # registered_delivery: 0 none; 1 always; 2 failures only; 3 reserved: none;
    # 0x10 (intermediate notification asked) does not change the final receipt
    for rd, want in ((0, "none"), (1, "all"), (2, "failed"), (3, "none"), (0x10, "none"),
                     (0x11, "all"), (0x12, "failed")):
        ids = {}
        for k in range(30):
            r = esme.submit(dst="849999%05d" % (rd * 100 + k), rd=rd, text="rd %d k %d" % (rd, k))
            expect(r[1] == 0, f"submit rd={rd:#x}: {r}")
            ids[msgid(r)] = k
        got = esme.collect()
        stats = [receipt_fields(g)["stat"] for g in got]
        if want == "none":
            expect(not got, f"registered_delivery {rd:#x}: {len(got)} receipts, none asked")
        elif want == "all":
            expect(len(got) == 30 and "DELIVRD" in stats and "UNDELIV" in stats,
                   f"registered_delivery {rd:#x}: {len(got)} receipts {set(stats)}")
        else:
            expect(0 < len(got) < 30 and "DELIVRD" not in stats,
                   f"registered_delivery {rd:#x} (failures only): {len(got)} receipts {set(stats)}")
        for g in got:
            f = receipt_fields(g)
            expect(f["id"] in ids, f"receipt id {f['id']} is no submit_sm_resp's id")
    # one receipt in detail
    r = esme.submit(dst="84999991234", rd=1, text="Hello receipt text that is long")
    mid = msgid(r)
    expect(mid.isalnum() and len(mid) <= 64, f"message_id {mid!r}")
    got = esme.collect()
    expect(len(got) == 1, f"one receipt: {got}")
    if got:
        g = got[0]
        f = receipt_fields(g)
        expect(g["esm_class"] & 0x3C == 0x04, f"receipt esm_class {g['esm_class']:#x}")
        expect(g["src"] == "84999991234" and g["dst"] == "8088", f"receipt addresses {g}")
        expect(f["id"] == mid and f["sub"] == "001" and f["dlvrd"] in ("000", "001"), f"receipt {f}")
        for k in ("submit date", "done date"):
            expect(len(f.get(k, "")) in (10, 12) and f[k].isdigit(), f"receipt {k}: {f}")
        expect(f["stat"] in ("DELIVRD", "UNDELIV") and len(f["err"]) == 3, f"receipt stat/err {f}")
        expect(f["text"] == "Hello receipt text t", f"receipt text: {f['text']!r}")
        expect(g["tlvs"].get(0x001E) == mid.encode() + b"\0", f"receipted_message_id {g['tlvs']}")
        expect(g["tlvs"].get(0x0427) in (b"\x02", b"\x05"), f"message_state {g['tlvs']}")
    # data codings, UDH (8 and 16 bit), sar_*, message_payload (UDH inside too)
    cases = {
        "84999992001": [dict(dc=0, text="plain GSM")],
        "84999992002": [dict(dc=8, text="Rất hài lòng".encode("utf-16-be"))],
        "84999992003": [dict(dc=3, text="café".encode("latin-1"))],
        "84999992004": [dict(esm=0x40, text=bytes([5, 0, 3, 9, 2, 2]) + b"World"),
                        dict(esm=0x40, text=bytes([5, 0, 3, 9, 2, 1]) + b"Hello ")],
        "84999992005": [dict(esm=0x40, text=bytes([6, 8, 4, 1, 2, 2, 1]) + b"sixteen "),
                        dict(esm=0x40, text=bytes([6, 8, 4, 1, 2, 2, 2]) + b"bit")],
        "84999992006": [dict(text=b"sar one ", tlvs=tlv(0x20C, b"\0\x07") + tlv(0x20E, b"\2") + tlv(0x20F, b"\1")),
                        dict(text=b"sar two", tlvs=tlv(0x20C, b"\0\x07") + tlv(0x20E, b"\2") + tlv(0x20F, b"\2"))],
        "84999992007": [dict(text=b"", tlvs=tlv(0x424, b"payload " * 40))],
        "84999992008": [dict(text=b"", esm=0x40, tlvs=tlv(0x424, bytes([5, 0, 3, 4, 2, 1]) + b"Payload ")),
                        dict(text=b"", esm=0x40, tlvs=tlv(0x424, bytes([5, 0, 3, 4, 2, 2]) + b"with UDH"))],
        "84999992009": [dict(text=b"")],
        "84999992010": [dict(text=b"x" * 254)],
        "84999992011": [dict(text="service type", stype="CMT")],
        "84999992012": [dict(text="relative times", sched="000000000100000R", valid="000001000000000R")],
        "84999992013": [dict(text="absolute times", sched="261231235959004+", valid="270101000000032-")],
    }
    want = {"84999992001": "plain GSM", "84999992002": "Rất hài lòng", "84999992003": "café",
            "84999992004": "Hello World", "84999992005": "sixteen bit", "84999992006": "sar one sar two",
            "84999992007": "payload " * 40, "84999992008": "Payload with UDH", "84999992009": "",
            "84999992010": "x" * 254, "84999992011": "service type", "84999992012": "relative times",
            "84999992013": "absolute times"}
    for dst, parts in cases.items():
        for p in parts:
            r = esme.submit(dst=dst, **p)
            expect(r[1] == 0, f"submit to {dst} {p}: {r}")
    for dst, text in want.items():
        with urllib.request.urlopen("http://127.0.0.1:%d/inbox/%s" % (ctl, dst), timeout=5) as h:
            got = json.loads(h.read().decode())
        expect(got == [text], f"inbox {dst}: {got!r}, want {[text]!r}")
    # schedule_delivery_time and validity_period not in SMPP's format
    for kw, st in ((dict(sched="tomorrow"), 0x61), (dict(sched="2612312359590"), 0x61),
                   (dict(sched="261231235959004X"), 0x61), (dict(valid="soon"), 0x62),
                   (dict(valid="000001000000000Q"), 0x62)):
        r = esme.submit(dst="84999992099", **kw)
        expect(r[:2] == (SUBMIT_SM | RESP, st), f"submit {kw}: {r[:2]}, want status {st:#x}")
    r = esme.submit(dst="")
    expect(r[1] == 0x0B, f"empty destination: {r}")
    # data_sm: data_sm_resp with an id; its receipt
    r = esme.call(DATA_SM, cstr("") + bytes([1, 1]) + cstr("8088") + bytes([1, 1]) + cstr("84999992100")
                  + bytes([0, 1, 0]) + tlv(0x424, b"data sm text"))
    expect(r[:2] == (DATA_SM | RESP, 0) and len(r[3]) > 1, f"data_sm: {r}")
    got = esme.collect()
    expect(len(got) == 1 and receipt_fields(got[0])["id"] == msgid(r), f"data_sm receipt {got}")
    # a window: 300 pipelined submit_sm, every sequence number echoed once,
    # every receipt after its response
    blob = b"".join(struct.pack(">IIII", 16 + len(b), SUBMIT_SM, 0, 5000 + i) + b
                    for i, b in enumerate(submit_body(dst="8499998%04d" % i, rd=1) for i in range(300)))
    esme.sock.sendall(blob)
    resp, rcpts, early = {}, 0, 0
    t0 = time.time()
    while (len(resp) < 300 or rcpts < 300) and time.time() - t0 < 20:
        try:
            x = esme.recv(5)
        except socket.timeout:
            break
        if x is None:
            break
        if x[0] == SUBMIT_SM | RESP:
            expect(x[2] not in resp, f"seq {x[2]} answered twice")
            resp[x[2]] = msgid(x)
        elif x[0] == DELIVER_SM:
            rcpts += 1
            early += receipt_fields(parse_sm(x[3]))["id"] not in resp.values()
            esme.send(DELIVER_SM | RESP, b"\0", seq=x[2])
    expect(sorted(resp) == list(range(5000, 5300)), f"window: {len(resp)} responses")
    expect(rcpts == 300 and early == 0, f"window: {rcpts} receipts, {early} before their response")
    esme.close()


def post(ctl, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (ctl, path), data=json.dumps(body).encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5) as h:
        return h.read()


def mo_delivery(port, ctl):
    """The SMSC's deliver_sm: a temporary error is retried, a permanent one is not."""
    esme = Esme(port)
    esme.bind(cmd=BIND_RX)
    for st, again in ((0x14, True), (0x58, True), (0x64, True), (0x08, True), (0x45, False),
                      (0x65, False)):
        post(ctl, "/mo", {"from": "84999993000", "to": "7777", "text": "status %#x" % st})
        t0 = time.time()
        times = []
        while time.time() - t0 < 4:
            try:
                x = esme.recv(0.5)
            except socket.timeout:
                continue
            if x and x[0] == DELIVER_SM:
                times.append(time.time() - t0)
                esme.send(DELIVER_SM | RESP, b"\0", status=st if len(times) == 1 else 0, seq=x[2])
        if again:
            expect(len(times) == 2 and 0.8 < times[1] - times[0] < 3.0,
                   f"deliver_sm_resp {st:#x}: delivered at {times}, want again after ~1 s")
        else:
            expect(len(times) == 1, f"deliver_sm_resp {st:#x} (permanent): delivered at {times}")
    esme.close()


def two_accounts(port, ctl):
    """Two ESMEs of two accounts: each gets the receipts of its own messages
    and the MOs sent to the address it submits from."""
    a, b = Esme(port), Esme(port)
    a.bind()
    b.bind(sid="partner", pw="pw2")
    ra = a.submit(src="8088", dst="84999994001", rd=1, text="from a")
    rb = b.submit(src="9099", dst="84999994002", rd=1, text="from b")
    # all of a's first, then all of b's: balanced over both receivers, each
    # would get half of each
    for to, who in (("8088", "a"), ("9099", "b")):
        for k in range(6):
            post(ctl, "/mo", {"from": "849999941%02d" % k, "to": to, "text": "to %s %d" % (who, k)})
    time.sleep(0.5)
    got_a, got_b = a.collect(1.0), b.collect(1.0)
    rc_a = [receipt_fields(g)["id"] for g in got_a if g["esm_class"] & 0x04]
    rc_b = [receipt_fields(g)["id"] for g in got_b if g["esm_class"] & 0x04]
    expect(rc_a == [msgid(ra)] and rc_b == [msgid(rb)], f"receipts per account: a={rc_a} b={rc_b}")
    mo_a = sorted(g["dst"] for g in got_a if not g["esm_class"] & 0x04)
    mo_b = sorted(g["dst"] for g in got_b if not g["esm_class"] & 0x04)
    expect(mo_a == ["8088"] * 6 and mo_b == ["9099"] * 6,
           f"MOs per account (by the address each submits from): a={mo_a} b={mo_b}")
    a.close()
    b.close()


def enquire_links(port, ctl):
    """The SMSC's enquire_link (--enquire-link-s 1): an idle bound session is
    asked; answered, it lives on; unanswered while a deliver_sm of the SMSC
    waits on it unanswered too, it is closed a period later; unanswered with
    nothing waiting (a minimal client), it is asked again and kept. Any PDU
    from the ESME counts as an answer; an unbound session is not asked."""
    live, dead, busy, silent, unbound = Esme(port), Esme(port), Esme(port), Esme(port), Esme(port)
    for e in (live, busy, silent):
        e.bind()
    dead.bind(sid="deadacct", pw="pw3")
    dead.submit(src="8097", dst="84999995001", rd=0, text="from dead")
    post(ctl, "/mo", {"from": "84999995002", "to": "8097", "text": "left unanswered"})
    t0 = time.time()
    asked = {"live": 0, "dead": 0, "busy": 0, "silent": 0}
    dead_closed = None
    unbound.sock.settimeout(0.05)
    while time.time() - t0 < 4.5:
        for name, e in (("live", live), ("dead", dead), ("busy", busy), ("silent", silent)):
            if name == "dead" and dead_closed is not None:
                continue
            try:
                x = e.recv(0.05)
            except socket.timeout:
                continue
            if x is None:
                if name == "dead":
                    dead_closed = time.time() - t0
                else:
                    failures.append(f"enquire_link: the {name} session was closed")
                    return
            elif x[0] == ENQUIRE_LINK:
                asked[name] += 1
                if name == "live":
                    e.send(ENQUIRE_LINK | RESP, seq=x[2])
        busy.send(0x777)  # traffic of its own: a generic_nack back, never asked
        try:
            expect(unbound.sock.recv(100) == b"", "enquire_link sent before a bind")
        except socket.timeout:
            pass
    expect(asked["live"] >= 2, f"enquire_link: the idle session was asked {asked['live']} times in 4.5 s")
    expect(asked["dead"] >= 1 and dead_closed is not None and dead_closed < 4.5,
           f"enquire_link: unanswered, asked {asked['dead']} times, closed at {dead_closed}")
    expect(asked["busy"] == 0, f"enquire_link: a session with traffic was asked {asked['busy']} times")
    expect(asked["silent"] >= 2, f"enquire_link: the silent session with nothing waiting was asked "
           f"{asked['silent']} times in 4.5 s (kept, asked again)")
    stats = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/stats" % ctl, timeout=5).read())
    expect(stats["links_dead"] == 1 and stats["enquire_links"] >= 3, f"enquire_link stats {stats}")
    for e in (live, busy, silent, unbound):
        e.close()


def main():
    with harness.Stack() as st:
        st.start_sim(0, extra=["--account", "partner:pw2", "--receipt-delay-ms", "0",
                               "--receipt-outcomes", "DELIVRD:1,UNDELIV:1"])
        for part in (sessions, submits, mo_delivery, two_accounts):
            if part is sessions:
                part(st.smsc_port)
            else:
                part(st.smsc_port, st.control_port)
        stats = st.stop_sim()
        print("sim:", stats)
        harness.check(stats is not None, "the simulator did not exit cleanly")
    with harness.Stack() as st:
        st.start_sim(0, extra=["--enquire-link-s", "1", "--account", "deadacct:pw3"])
        enquire_links(st.smsc_port, st.control_port)
        harness.check(st.stop_sim() is not None, "the simulator did not exit cleanly")
    harness.check(not failures, "%d divergences:\n  %s" % (len(failures), "\n  ".join(failures)))
    print("ok: hailong-sim answered a raw SMPP 3.4 client as an SMSC should")


if __name__ == "__main__":
    main()
