#!/usr/bin/env python3
"""End to end against a harder SMSC that is not ours (tests/peer/smsc.js
--faults, npm `smpp`): hailongd binds as transmitter + receiver (two
connections), sends long questions split with sar_* TLVs, gets a generic_nack
ESME_RTHROTTLED and a submit_sm_resp ESME_RMSGQFUL (retried as the config's
`retry:` says), receives UCS-2 Vietnamese replies, long comments as UDH 8-bit,
UDH 16-bit, sar_* and message_payload with a UDH inside, receipts as text and
as TLVs with decimal ids, and loses both connections mid-survey. Every survey
must still complete and the archive must hold exactly what the citizens said.

hailongd runs from build-san/bin (AddressSanitizer + UBSan; built here if
needed) unless HAILONG_BIN is set: it must also exit cleanly on SIGTERM."""
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if "HAILONG_BIN" not in os.environ:
    subprocess.run(["make", "-s", "--no-print-directory", "SANITIZE=1", "build-san/bin/hailongd"],
                   cwd=ROOT, check=True)
    os.environ["HAILONG_BIN"] = "build-san/bin"
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1")

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PEER = os.path.join(harness.ROOT, "tests", "peer")
QUESTIONS = ["access", "procedure", "officer", "result", "feedback", "comment"]
EXTRA = """    long_messages: sar
    enquire_link_s: 5
    response_timeout_s: 5
    retry:
      ESME_RTHROTTLED: {tries: 5, delay: 200ms}
      ESME_RMSGQFUL: {tries: 3, delay: 1s}
      default: {tries: 5, delay: 500ms}
"""


def main():
    if not os.path.isdir(os.path.join(PEER, "node_modules", "smpp")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEER, check=True)
    citizens = [harness.citizen(i) for i in range(11, 19)]  # 8: every comment format twice
    with harness.Stack() as st:
        st.start_redis()
        peer_out = open(os.path.join(st.dir, "peer.out"), "w+")
        peer = subprocess.Popen(["node", os.path.join(PEER, "smsc.js"), "--faults", str(st.smsc_port), "90"]
                                + citizens, stdout=peer_out,
                                stderr=open(os.path.join(st.dir, "peer.log"), "w"))
        try:
            harness.wait_for(lambda: st._port_open(st.smsc_port), 10, "node smsc")
            cfg = st.write_config(extra_smsc=EXTRA)
            with open(cfg) as f:
                text = f.read().replace("bind: transceiver", "bind: transmitter+receiver")
            with open(cfg, "w") as f:
                f.write(text)
            st.start_gateway(cfg)
            for i, m in enumerate(citizens):
                code, body = st.trigger("0" + m[2:], "FAULT-%d" % i)
                if code != 202:
                    raise AssertionError(f"trigger: {code} {body}")
            rc = peer.wait(timeout=120)
            if rc != 0:
                raise AssertionError("the node SMSC saw unfinished surveys:\n" +
                                     open(os.path.join(st.dir, "peer.log")).read())

            def archived():
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("select count(*) from surveys where status='completed'").fetchone()[0]
            harness.wait_for(lambda: archived() == len(citizens), 20, "archive")
            metrics = st.metrics()
            rc = st.stop("hailongd")
        finally:
            if peer.poll() is None:
                peer.kill()
        log = st.log_text("hailongd")
        if rc != 0 or "Sanitizer" in log or "runtime error" in log:
            raise AssertionError(f"hailongd exited {rc}:\n" + log[-4000:])
        peer_out.seek(0)
        said = {}
        for line in peer_out:
            e = json.loads(line)
            if "n" in e:
                said.setdefault(e["msisdn"], {})[QUESTIONS[e["n"] - 1]] = e
        with sqlite3.connect(st.db) as c:
            for i, m in enumerate(citizens):
                sid = c.execute("select survey_id from surveys where transaction_id=?", ("FAULT-%d" % i,)).fetchone()[0]
                got = {q: (v, t) for q, v, t in c.execute(
                    "select question_id, value, text from answers where survey_id=?", (sid,))}
                want = said[m]
                if set(got) != set(want):
                    raise AssertionError(f"{m}: archived {sorted(got)} != answered {sorted(want)}")
                for q, e in want.items():
                    exp = (e["value"], None) if "value" in e else (None, e["text"])
                    if got[q] != exp:
                        raise AssertionError(f"{m} {q}: archived {got[q]} != {exp}")
        peer_log = open(os.path.join(st.dir, "peer.log")).read()
        for want in ["bind_transmitter", "bind_receiver", "ESME_RMSGQFUL", "dropping the connection"]:
            if want not in peer_log:
                raise AssertionError(f"'{want}' not in the peer's log:\n{peer_log}")
        # the 3rd submit_sm may be a first try, or the retry of the one the
        # generic_nack refused: try=1/3 or 2/3 (the config's 3 tries either way)
        if not re.search(r"status=ESME_RMSGQFUL try=[12]/3", log):
            raise AssertionError("no retry of ESME_RMSGQFUL under the config's 3 tries in the gateway's log:\n" +
                                 "\n".join(l for l in log.splitlines() if "MSGQFUL" in l or "retry" in l
                                            or "send_failed" in l))
        for want in ["ESME_RTHROTTLED", "event=disconnected",
                     "cmd=bind_receiver", "cmd=bind_transmitter"]:
            if want not in log:
                raise AssertionError(f"'{want}' not in the gateway's log:\n" +
                                     "\n".join(l for l in log.splitlines() if "MSGQFUL" in l or "retry" in l))
        delivered = metrics.get('hailong_receipts_total{state="delivered"}', 0)
        if delivered < len(citizens):
            raise AssertionError(f"too few delivery receipts recognised: {metrics}")
        print(f"ok: {len(citizens)} surveys completed against a faulty node-smpp SMSC "
              f"(bin={harness.BIN}); delivered receipts={delivered:.0f}")


if __name__ == "__main__":
    main()
