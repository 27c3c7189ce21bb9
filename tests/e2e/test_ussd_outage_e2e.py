#!/usr/bin/env python3
"""USSD through a Redis outage: 40 citizens answer pushed screens (some
ignore the push and dial the code later) against hailong-sim as the USSD
centre; Redis is stopped for 3 s in the middle and started again. Meanwhile
every answer and dial is refused with ESME_RX_T_APPN (a clear, counted
error: the gateway logs that it cannot store now) and the centre delivers it
again; nothing is lost and nothing is taken twice: every survey completes
once, the archive equals the simulator's ledger, every screen echoed its
session."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = 40
CODE = "*8088#"
check = harness.check


def main():
    with harness.Stack() as st:
        ussd = harness.ussd_campaigns(st, [("invite_after: 10m", "invite_after: 30s")])
        st.start_redis()
        st.start_sim(N, seed=11, think="200-900",
                     extra=("--campaign", ussd, "--ussd", CODE, "--ussd-ops", "1,0x12,0x11,2",
                            "--ussd-ignore-share", "0.2", "--mo-retry-ms", "300"))
        extra = ("    ussd:\n      service_code: \"%s\"\n"
                 "      ops: {pssr_indication: 1, pssr_response: 0x12, ussr_request: 0x11, ussr_confirm: 2}\n"
                 "      session_timeout: 20s\n" % CODE)
        st.start_gateway(st.write_config(extra_smsc=extra))
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "UO-%d" % i, campaign="ussd-default")
            check(code == 202, f"trigger {i}: {code} {body}")
        time.sleep(1.5)
        before = harness.completed_surveys(st, "UO-%")
        check(before < N, "everything finished before the outage: the test proves nothing")
        st.stop("redis")
        time.sleep(3.0)
        check(st.procs["hailongd"].poll() is None, "hailongd died with redis")
        refused = st.metrics()
        st.start_redis()  # same port, same AOF directory
        harness.wait_for(lambda: harness.completed_surveys(st, "UO-%") >= N, 90,
                         f"{N} USSD surveys after redis came back", step=0.3)
        harness.wait_thanked(st, N)
        stats = harness.sim_get(st, "/stats")
        m = st.metrics()
        st.stop_sim()
        st.stop("hailongd")
        harness.compare_with_ledger(st, "UO-", N)
        log = st.log_text("hailongd")
        # the outage was seen, and said so: answers refused for a retry, counted
        check(refused.get("hailong_redis_errors_total", 0) > 0 or "cannot store now" in log,
              f"no sign of the outage: {refused}")
        check("cannot store now, SMSC will retry" in log, "no refused USSD answer was logged")
        check(m.get("hailong_mo_retry_later_total", 0) > 0, f"no answer was refused for a retry: {m}")
        check(stats.get("ussd_bad_echo") == 0, f"a screen did not echo its session: {stats}")
        ev = lambda e: m.get('hailong_ussd_sessions_total{event="%s"}' % e, 0)  # noqa: E731
        check(ev("completed") == N, f"sessions completed {ev('completed')}, want {N}: {m}")
        print(f"ok: {N} USSD surveys through a 3 s Redis outage ({before} done before it); "
              f"answers refused and retried={int(m.get('hailong_mo_retry_later_total', 0))} "
              f"redis errors={int(m.get('hailong_redis_errors_total', 0))} dials={stats.get('ussd_dials')}")


if __name__ == "__main__":
    main()
