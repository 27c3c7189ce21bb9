#!/usr/bin/env python3
"""hailong-sim as an SMSC any ESME can use: a Node.js ESME (npm `smpp`, tests/peer/esme.js)
binds with interface_version 0x33, 0x34 and 0x50 and two accounts, is refused with a wrong
password or system_id, sends enquire_link, runs a whole survey with submit_sm, gets the
citizen's MOs and one receipt per submit_sm (text and TLV forms, configured outcomes),
and unbinds. Then a one-second drive of 50 citizens."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

PEER = os.path.join(harness.ROOT, "tests", "peer")


check = harness.check


def main():
    if not os.path.isdir(os.path.join(PEER, "node_modules", "smpp")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=PEER, check=True)
    with harness.Stack() as st:
        st.start_sim(100, think="0-5", extra=["--account", "partner:pw2",
                                              "--receipt-outcomes", "DELIVRD:70,UNDELIV:20,EXPIRED:10",
                                              "--receipt-delay-ms", "0-20", "--comment-share", "1"])
        r = subprocess.run(["node", os.path.join(PEER, "esme.js"), "check", str(st.smsc_port),
                            str(st.control_port)], capture_output=True, text=True, timeout=60)
        print(r.stdout, r.stderr[-2000:])
        check(r.returncode == 0, "esme.js check failed")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        check(res["binds"] == {"0x33": 0, "0x34": 0, "0x50": 0}, f"binds: {res['binds']}")
        check(res["refused"] == {"bad_password": 0x0E, "unknown_system_id": 0x0F}, f"refused: {res['refused']}")
        check(res["enquire_link"] == 0 and res["unbind"] == 0 and res["unbind_0x33"] == 0, "enquire/unbind")
        check(res["questions"] == 6, "six questions")
        # five scale answers + a long comment in several UCS-2 parts
        check(res["mo"] >= 7 and 8 in res["mo_codings"] and 0 in res["mo_codings"], f"MOs: {res}")
        check(res["receipts"] == 7 and res["receipts_matched"] == 7, f"receipts: {res}")
        check(set(res["receipt_stats"]) <= {"DELIVRD", "UNDELIV", "EXPIRED"}, f"stats {res}")

        r = subprocess.run(["node", os.path.join(PEER, "esme.js"), "bench", str(st.smsc_port),
                            str(st.control_port), "50", "1"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "esme.js bench failed: " + r.stderr)
        b = json.loads(r.stdout.strip().splitlines()[-1])
        check(b["steps"] > 50 and b["surveys"] > 0, f"bench: {b}")
        stats = st.stop_sim()
        check(stats["binds"] == 4 and stats["bind_refused"] == 2, f"sim stats {stats}")
        check(stats["errors"] == 0, f"sim errors {stats}")
        print(f"ok: node-smpp ESME checks passed; 1 s drive: {b['steps']} steps; sim={stats}")


if __name__ == "__main__":
    main()
