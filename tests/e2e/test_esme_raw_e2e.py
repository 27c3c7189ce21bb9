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
    st.start_redis()
    smsc = R.RawSmsc(st.smsc_port)
    st.start_gateway(st.write_config(window=window, tps=tps, extra_smsc=extra), wait_ready=False)
    return smsc


def log_lines(st, pat):
    return [l for l in st.log_text("hailongd").splitlines() if re.search(pat, l)]


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
            harness.check(log_lines(st, "bind_refused status=" + name),
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


PARTS_FN = {"link": part_link}


def main():
    names = sys.argv[1:]
    if names:
        for n in names:
            PARTS_FN[n]()
        return
    harness.run_parts(os.path.abspath(__file__), [p for p in PARTS if p in PARTS_FN])


if __name__ == "__main__":
    main()
