#!/usr/bin/env python3
"""USSD session timeouts end to end, with hailong-sim as the USSD centre.

1. A push nobody answers: its session's timer is in Redis (hl:ussd:sessions),
   so it outlives a restart of hailongd: the new process closes the session
   (timed_out), and ONE SMS invitation follows, with the campaign's own
   `ussd: invite:` text and the service code in it.
2. Virtual citizens who leave their session without a word: some ignore the
   push and dial when the SMS invitation comes, some cancel a screen
   mid-session and dial again after the gateway's session_timeout, some have
   a slow phone whose answer comes after the centre's own session lifetime
   (the network releases the session, the citizen dials again). Every survey
   completes, the archive equals the simulator's ledger, and the gateway's
   metrics match what the simulator played: timed_out = ignored + dropped +
   slow, resumed = dials, released = late answers, one invitation per
   waiting citizen and no more."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = int(os.environ.get("E2E_USSD_CITIZENS", "12"))
CODE = "*8088#"
INVITE = "Khao sat chua xong: bam {code} (mien phi) de tiep tuc."


def main():
    with harness.Stack() as st:
        # the gateway closes a session 5-6 s after its screen (session_timeout 5s, a sweep each
        # second); every citizen below comes back 2 s after that at the earliest (the invitation
        # 7-8 s after the screen, a redial 8 s after it), so each lapse is one timeout, exactly
        ussd = harness.ussd_campaigns(st, [("  invite_after: 10m", '  invite_after: 7s\n  invite: "%s"' % INVITE)])
        st.start_redis()
        st.start_sim(N, seed=int(os.environ.get("E2E_USSD_SEED", "115")), think="20-150",
                     extra=("--campaign", ussd, "--ussd", CODE, "--ussd-ops", "1,0x12,0x11,2",
                            "--ussd-release-op", "0x21",
                            "--ussd-invite-share", "0.25", "--ussd-drop-share", "0.06",
                            "--ussd-redial-ms", "8000-8500", "--ussd-slow-share", "0.05",
                            "--ussd-slow-ms", "8000", "--ussd-timeout-ms", "7000"))
        extra = ("    ussd:\n      service_code: \"%s\"\n"
                 "      ops: {pssr_indication: 1, pssr_response: 0x12, ussr_request: 0x11, ussr_confirm: 2}\n"
                 "      session_timeout: 5s\n" % CODE)
        cfg = st.write_config(extra_smsc=extra)
        st.start_gateway(cfg)

        # 1. a number outside the simulated population: the push stays unanswered
        lone = "0919990001"
        lone_i = "84919990001"
        code, body = st.trigger(lone, "LONE-1", campaign="ussd-default")
        assert code == 202, (code, body)
        harness.wait_for(lambda: st.redis("ZSCORE", "hl:ussd:sessions", lone_i), 10, "the session's timer")
        deadline = float(st.redis("ZSCORE", "hl:ussd:sessions", lone_i))
        if not time.time() + 3 < deadline <= time.time() + 5.01:
            raise AssertionError(f"session deadline {deadline} vs now {time.time()} (session_timeout 5s)")
        if st.stop("hailongd") != 0:
            raise AssertionError("hailongd did not stop cleanly")
        if st.redis("ZSCORE", "hl:ussd:sessions", lone_i) == "":
            raise AssertionError("the session's timer did not outlive the gateway")
        st.start_gateway(cfg)
        ev = lambda m, e: m.get('hailong_ussd_sessions_total{event="%s"}' % e, 0)  # noqa: E731
        harness.wait_for(lambda: ev(st.metrics(), "timed_out") == 1, 10, "the restarted gateway to time it out")
        if st.redis("ZSCORE", "hl:ussd:sessions", lone_i) != "":
            raise AssertionError("a timed out session is still in hl:ussd:sessions")
        want_invite = INVITE.replace("{code}", CODE)

        def invites():
            return [t for t in harness.sim_get(st, "/inbox/" + lone_i) if CODE in t]
        harness.wait_for(lambda: invites(), 15, "the SMS invitation")
        if invites() != [want_invite]:
            raise AssertionError(f"invitation: {invites()} want [{want_invite!r}]")
        if st.metrics().get("hailong_ussd_invites_total") != 1:
            raise AssertionError(f"invites metric: {st.metrics()}")

        # 2. the simulated citizens
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "TOUT-%d" % i, campaign="ussd-default")
            if code != 202:
                raise AssertionError(f"trigger {i}: {code} {body}")
        harness.wait_for(lambda: harness.completed_surveys(st, "TOUT-%") == N, 150, "USSD surveys completed",
                         step=0.5)
        harness.wait_thanked(st, N)
        harness.compare_with_ledger(st, "TOUT-", N)
        stats = harness.sim_get(st, "/stats")
        m = st.metrics()
        played = {k: stats.get("ussd_" + k, 0) for k in ("ignored", "dropped", "slow", "late", "dials",
                                                         "invites", "released", "bad_echo")}
        if played["bad_echo"] or not (played["ignored"] and played["dropped"] and played["late"]):
            raise AssertionError(f"the simulator did not play every behaviour (seed?): {stats}")
        # the one lone push of part 1 is counted by this process too
        if ev(m, "timed_out") != 1 + played["ignored"] + played["dropped"] + played["slow"]:
            raise AssertionError(f"timed_out {ev(m, 'timed_out')} vs simulator {played}")
        if ev(m, "resumed") != played["dials"] or ev(m, "released") != played["released"]:
            raise AssertionError(f"resumed/released {m} vs simulator {played}")
        if ev(m, "opened") != N + played["dials"] or ev(m, "completed") != N:
            raise AssertionError(f"opened/completed {m} vs {N} pushes and {played['dials']} dials")
        # every invitation the gateway wrote reached a citizen (who dialled it unless a session was
        # open), the lone number's included; a citizen who waited for one could only finish by it
        if m.get("hailong_ussd_invites_total", 0) != 1 + played["invites"] or played["invites"] > N:
            raise AssertionError(f"invitations: gateway {m.get('hailong_ussd_invites_total')} vs "
                                 f"simulator {played['invites']} (+1 lone), {N} surveys")
        # a final screen ends its session (the timer goes within 100 ms)
        try:
            harness.wait_for(lambda: st.redis("ZCARD", "hl:ussd:sessions") == "0", 10, "no session left")
        except TimeoutError:
            raise AssertionError("sessions left open after every survey ended: " +
                                 st.redis("ZRANGE", "hl:ussd:sessions", "0", "-1"))
        if invites() != [want_invite]:
            raise AssertionError(f"the lone number got another invitation: {invites()}")
        st.stop("hailongd", sig=signal.SIGTERM)
        print(f"ok: USSD timeouts: restart kept the timer, one invite; {N} citizens, simulator {played}, "
              f"gateway timed_out={ev(m, 'timed_out'):.0f} resumed={ev(m, 'resumed'):.0f} "
              f"released={ev(m, 'released'):.0f} invites={m.get('hailong_ussd_invites_total', 0):.0f}")


if __name__ == "__main__":
    main()
