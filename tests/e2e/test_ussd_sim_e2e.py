#!/usr/bin/env python3
"""USSD end to end with hailong-sim as the USSD centre (--ussd): 30 virtual
citizens answer pushed screens; some ignore the push and dial the code later,
the network releases some sessions mid-survey (vendor op 32) and the citizen
dials again; vendor op values on both sides. Every survey completes, the
archive (channel ussd) equals the simulator's ledger, every screen echoed its
session, and the gateway's metrics count the resumed sessions."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = 30
CODE = "*8088#"


def main():
    with harness.Stack() as st:
        ussd = harness.ussd_campaigns(st, [("invite_after: 10m", "invite_after: 30s")])
        st.start_redis()
        st.start_sim(N, seed=7, think="20-150",
                     extra=("--campaign", ussd, "--ussd", CODE, "--ussd-ops", "1,0x12,0x11,2",
                            "--ussd-ignore-share", "0.3", "--ussd-release-share", "0.1"))
        extra = ("    ussd:\n      service_code: \"%s\"\n"
                 "      ops: {pssr_indication: 1, pssr_response: 0x12, ussr_request: 0x11, ussr_confirm: 2}\n"
                 "      session_timeout: 10s\n" % CODE)
        st.start_gateway(st.write_config(extra_smsc=extra))
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "SIMU-%d" % i, campaign="ussd-default")
            if code != 202:
                raise AssertionError(f"trigger {i}: {code} {body}")
        harness.wait_for(lambda: harness.completed_surveys(st, "SIMU-%") == N, 60, "USSD surveys completed",
                         step=0.2)
        harness.wait_thanked(st, N)
        harness.compare_with_ledger(st, "SIMU-", N)
        import sqlite3
        with sqlite3.connect(st.db) as c:
            chans = c.execute("select distinct channel from surveys where transaction_id like 'SIMU-%'").fetchall()
        if chans != [("ussd",)]:
            raise AssertionError(f"channels: {chans}")
        stats = harness.sim_get(st, "/stats")
        m = st.metrics()
        ev = lambda e: m.get('hailong_ussd_sessions_total{event="%s"}' % e, 0)  # noqa: E731
        if stats.get("ussd_bad_echo") != 0 or stats.get("ussd_dials", 0) < 1:
            raise AssertionError(f"sim stats: {stats}")
        if stats.get("ussd_ignored", 0) + stats.get("ussd_released", 0) < 1:
            raise AssertionError(f"no fault was played (seed?): {stats}")
        if ev("completed") != N or ev("resumed") != stats["ussd_dials"] or ev("released") != stats["ussd_released"]:
            raise AssertionError(f"metrics {m} vs sim {stats}")
        # a tester's phone dials the code without a survey: a final "no survey" screen
        import subprocess
        out = subprocess.run([os.path.join(harness.BIN, "hailong-sim"), "phone", "0919999999", "--ussd",
                              "--control", "127.0.0.1:%d" % st.control_port, "--linger-ms", "2500",
                              "--interval-ms", "100"], input=b"", capture_output=True, timeout=20)
        text = out.stdout.decode()
        if out.returncode != 0 or "dialled" not in text or "khong co khao sat" not in text.lower():
            raise AssertionError(f"phone --ussd: rc={out.returncode} {text} {out.stderr.decode()}")
        # a tester's phone with a survey running: the push is left alone, the tester dials the
        # code, reads each screen and keys an answer, as `hailong-sim phone N --ussd` lets one do
        tester, keyed = "0919999998", ["2", "1", "3", "5", "4"]
        code, body = st.trigger(tester, "PHONE-1", campaign="ussd-default")
        assert code == 202, (code, body)
        harness.wait_for(lambda: harness.sim_get(st, "/inbox/84919999998"), 10, "the push to the tester")
        ph = subprocess.Popen([os.path.join(harness.BIN, "hailong-sim"), "phone", tester, "--ussd",
                               "--control", "127.0.0.1:%d" % st.control_port, "--linger-ms", "300",
                               "--interval-ms", "50"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        seen, answered = [], set()
        try:
            for line in ph.stdout:
                seen.append(line.rstrip("\n"))
                import re
                q = re.search(r"Cau (\d)/5", line)
                # the push is on the phone (shown first); the tester answers after dialling, once a screen
                if q and any("dialled" in l for l in seen) and q.group(1) not in answered:
                    answered.add(q.group(1))
                    ph.stdin.write(keyed[int(q.group(1)) - 1] + "\n")
                    ph.stdin.flush()
                elif "cam on" in line.lower():
                    ph.stdin.close()
                    break
            ph.wait(timeout=10)
        finally:
            if ph.poll() is None:
                ph.kill()
        if not any("dialled" in l for l in seen) or sum(">> " in l for l in seen) != 5:
            raise AssertionError("phone --ussd session: " + "\n".join(seen))
        harness.wait_for(lambda: harness.completed_surveys(st, "PHONE-%") == 1, 10, "the tester's survey")
        with sqlite3.connect(st.db) as c:
            got = [v for (v,) in c.execute("select a.value from answers a join surveys s using (survey_id) "
                                           "where s.transaction_id='PHONE-1' order by a.question_id")]
            order = [q for (q,) in c.execute("select a.question_id from answers a join surveys s "
                                             "using (survey_id) where s.transaction_id='PHONE-1' "
                                             "order by a.question_id")]
        qs = ["access", "procedure", "officer", "result", "feedback"]
        want = [6 - int(keyed[qs.index(q)]) for q in order]
        if got != want or len(got) != 5:
            raise AssertionError(f"tester's answers: archived {list(zip(order, got))}, keyed {keyed}\n" + "\n".join(seen))
        print(f"ok: {N} USSD surveys against hailong-sim; dials={stats['ussd_dials']} "
              f"ignored={stats['ussd_ignored']} released={stats['ussd_released']} screens={stats['ussd_screens']}")


if __name__ == "__main__":
    main()
