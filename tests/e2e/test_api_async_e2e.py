#!/usr/bin/env python3
"""The HTTP API never waits for Redis on the event loop (issue 10): /metrics,
GET /v1/surveys (by id and by transaction), a cancel and an opt-out read and
write Redis on the asynchronous connection, so a slow Redis holds neither
the other requests nor the SMPP sessions. Redis is reached through a relay
that holds every reply (harness.SlowRedis).

- slow: every reply held 100 ms. 26 requests at once (12 GET
  /v1/surveys/{id}, 6 ?transaction_id=, 6 /metrics, 2 /readyz) are all answered as
  they are with no delay, all within 3 s (read one after another on the
  loop they need 68 round trips: 7 s), while /healthz keeps answering and
  the first items of 10 surveys triggered at the same moment reach their
  citizens.
- lost: Redis cut off while it holds the replies (what was sent gets no
  reply; a reply the store waited 2 s for ends the same way): GET by id and
  by transaction, a cancel and an opt-out answer 503 with a JSON error,
  /metrics 200 with hailong_redis_up 0 and no Redis gauge, /readyz 503
  "redis not reachable", at once; with
  Redis back everything answers again.
- reload: a SIGHUP moves the tokens (the one a look-up, a find and a
  cancel came with removed, another now at its index) while their replies
  are held 500 ms: each is answered for the token it came with (the cancel
  archived with its name, not the name now at that index), and that token
  is refused afterwards.
- gone: clients that close their connection while Redis holds the answer
  (every request kind), then requests still waiting when hailongd is
  stopped: the gateway carries on (the cancel whose client left is done),
  and it stops cleanly (exit status 0: under AddressSanitizer, no report).

The parts run in this order on one gateway; run some of them with
`test_api_async_e2e.py slow|lost|reload|gone ...`."""
import concurrent.futures
import json
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, wait_for  # noqa: E402

check = harness.check
REDIS_GAUGES = ["hailong_queue_depth", "hailong_archive_backlog", "hailong_surveys_running",
                "hailong_surveys_with_timer", "hailong_optouts", 'hailong_outbox_depth{smsc="sim"}',
                'hailong_held_depth{smsc="sim"}']


def triggered(st, first, last, prefix):
    """Surveys for citizens first..last, each's first item delivered: {txid: survey id}."""
    ids = {}
    for i in range(first, last + 1):
        code, body = st.trigger(harness.citizen(i), "%s-%d" % (prefix, i))
        check(code == 202, f"trigger {i}: {code} {body}")
        ids["%s-%d" % (prefix, i)] = body["survey_id"]
    wait_for(lambda: all(inbox(st, harness.citizen(i)) for i in range(first, last + 1)), 15, "the first items")
    return ids


def raw_request(st, method, path, body=None):
    """A request on a socket of its own, left open: the caller closes it."""
    data = json.dumps(body).encode() if body is not None else b""
    s = socket.create_connection(("127.0.0.1", st.http_port))
    s.sendall((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {harness.TOKEN}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
    return s


def slow(st, relay):
    delay = 0.1
    ids = triggered(st, 1, 10, "AS")
    # what each request answers when Redis answers at once
    want = {}
    paths = (["/v1/surveys/" + sid for sid in ids.values()] + ["/v1/surveys/" + ids["AS-1"]] * 2 +
             ["/v1/surveys?transaction_id=AS-%d" % i for i in range(1, 7)])
    for p in set(paths):
        code, text = st.http("GET", p)
        check(code == 200, f"{p}: {code} {text}")
        want[p] = json.loads(text)
    relay.delay = delay
    time.sleep(0.3)  # (replies already on their way come back undelayed)
    stop, healthz = threading.Event(), []

    def probe():
        while not stop.is_set():
            t = time.monotonic()
            code, _ = st.http("GET", "/healthz")
            healthz.append((time.monotonic() - t, code))
            time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    t0 = time.monotonic()
    batch = [{"campaign": "default", "msisdn": harness.citizen(i), "transaction_id": "AB-%d" % i,
              "agency": "ca-vinhphuc"} for i in range(11, 21)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as ex:
        trig = ex.submit(st.http, "POST", "/v1/triggers", batch)
        futs = {ex.submit(st.http, "GET", p): p for p in paths}
        futs.update({ex.submit(st.http, "GET", "/metrics"): "/metrics" for _ in range(6)})
        futs.update({ex.submit(st.http, "GET", "/readyz"): "/readyz" for _ in range(2)})
        answers = []
        for f in concurrent.futures.as_completed(futs):
            answers.append((futs[f], f.result(), time.monotonic() - t0))
        code, text = trig.result()
    took = max(t for _, _, t in answers)
    wait_for(lambda: all(inbox(st, harness.citizen(i)) for i in range(11, 21)), 10, "the first items of the batch")
    items = time.monotonic() - t0
    stop.set()
    prober.join()
    relay.delay = 0
    check(code == 200 and all(r["code"] == 202 for r in json.loads(text)["results"]), f"batch: {code} {text}")
    for p, (code, text), _ in answers:
        check(code == 200, f"{p} with Redis slow: {code} {text}")
        if p == "/metrics":
            m = harness.parse_metrics(text)
            check(m.get("hailong_redis_up") == 1, f"/metrics: Redis not up:\n{text}")
            check(all(g in m for g in REDIS_GAUGES), f"/metrics: a Redis gauge missing:\n{text}")
            check(m["hailong_surveys_running"] >= 10, f"/metrics: running {m['hailong_surveys_running']}")
        elif p == "/readyz":
            check(text == "ready\n", f"/readyz with Redis slow: {text!r}")
        else:
            check(json.loads(text) == want[p], f"{p} with Redis slow: {text}, not {want[p]}")
    worst = max(t for t, _ in healthz)
    check(took < 3.0, f"{len(answers)} requests answered in {took:.2f} s with replies {delay * 1000:.0f} ms "
                      f"late: they waited for each other")
    check(worst < 1.5, f"/healthz took up to {worst:.2f} s while the API waited for Redis")
    check(items < 6.0, f"first items of the batch after {items:.2f} s")
    print(f"ok: {len(answers)} requests at once, every Redis reply {delay * 1000:.0f} ms late: all answered as "
          f"without the delay within {took:.2f} s; /healthz at worst {worst:.2f} s ({len(healthz)} probes); "
          f"10 first items delivered meanwhile, within {items:.2f} s")


def lost(st, relay):
    ids = triggered(st, 21, 22, "AL")
    sid = ids["AL-21"]
    relay.delay = 0.3
    time.sleep(0.3)
    reqs = [("GET", "/v1/surveys/" + sid, None), ("GET", "/v1/surveys?transaction_id=AL-21", None),
            ("POST", "/v1/surveys/%s/cancel" % ids["AL-22"], {}),
            ("POST", "/v1/optouts", {"msisdn": harness.citizen(23)}), ("GET", "/metrics", None),
            ("GET", "/readyz", None)]
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(reqs)) as ex:
        futs = [ex.submit(st.http, *r) for r in reqs]
        time.sleep(0.15)  # sent to Redis, whose replies are held
        relay.cut()
        res = [f.result() for f in futs]
    took = time.monotonic() - t0
    relay.delay = 0
    relay.cut(False)
    # back: once the late replies are out of the way, everything answers
    wait_for(lambda: st.http("GET", "/v1/surveys/" + sid)[0] == 200, 15, "the API back")
    code, text = st.http("GET", "/metrics")
    back = harness.parse_metrics(text)
    for (method, path, _), (code, text) in zip(reqs[:4], res[:4]):
        check(code == 503, f"{method} {path} with the reply lost: {code} {text}")
        check(isinstance(json.loads(text).get("error"), str), f"{method} {path}: {text}")
    check(res[5] == (503, "redis not reachable\n"), f"/readyz with the reply lost: {res[5]}")
    code, text = res[4]
    m = harness.parse_metrics(text)
    check(code == 200 and m.get("hailong_redis_up") == 0, f"/metrics with the replies lost: {code}\n{text}")
    check(not any(g in m for g in REDIS_GAUGES), f"/metrics with the replies lost shows a Redis gauge:\n{text}")
    check(back.get("hailong_redis_up") == 1 and all(g in back for g in REDIS_GAUGES), f"/metrics back:\n{text}")
    check(took < 2.0, f"the requests whose replies were lost answered after {took:.2f} s")
    print(f"ok: replies lost: 503 with a JSON error for a look-up, a find, a cancel and an opt-out, /metrics "
          f"without its Redis gauges and hailong_redis_up 0, /readyz 503, all within {took:.2f} s; then answered again")


def reload(st, relay):
    """A SIGHUP that moves the tokens while requests made with one of them
    wait for Redis: each is answered for the token it came with (the
    scope it was granted, the name a cancel is archived with), not for the
    token found at that index after the reload."""
    ids = triggered(st, 29, 30, "AR")
    cfg = relay.config(st)
    with open(cfg) as f:
        original = f.read()
    police = '    - name: only-police\n      token: "police-token"\n      agencies: ["ca-vinhphuc"]\n'
    check(police in original, "the harness config names the only-police token")
    # only-police (index 1) goes; e2e (all agencies) takes index 1
    moved = original.replace(police, "").replace(
        "    - name: e2e\n", '    - name: first-now\n      token: "first-now-token"\n      agencies: ["nobody"]\n'
        "    - name: e2e\n")
    relay.delay = 0.5
    time.sleep(0.6)  # (replies already on their way come back undelayed)
    reqs = [("GET", "/v1/surveys/" + ids["AR-29"], None), ("GET", "/v1/surveys?transaction_id=AR-29", None),
            ("POST", "/v1/surveys/%s/cancel" % ids["AR-30"], {})]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(reqs)) as ex:
        futs = [ex.submit(st.http, m, p, b, "police-token") for m, p, b in reqs]
        time.sleep(0.15)  # read, and waiting for Redis
        with open(cfg, "w") as f:
            f.write(moved)
        st.procs["hailongd"].send_signal(signal.SIGHUP)
        res = [f.result() for f in futs]
    relay.delay = 0
    wait_for(lambda: "tokens=2" in st.log_text("hailongd"), 10, "the reload")
    (c1, t1), (c2, t2), (c3, t3) = res
    check(c1 == 200 and json.loads(t1)["survey_id"] == ids["AR-29"], f"GET by id across the reload: {c1} {t1}")
    check(c2 == 200 and [s["survey_id"] for s in json.loads(t2)["surveys"]] == [ids["AR-29"]],
          f"GET by transaction across the reload: {c2} {t2}")
    check(c3 == 200 and json.loads(t3).get("cancelled_by") == "only-police", f"cancel across the reload: {c3} {t3}")
    wait_for(lambda: json.loads(st.http("GET", "/v1/surveys/" + ids["AR-30"])[1]).get("cancelled_by") ==
             "only-police", 5, "the cancel archived with the name of the token it came with")
    check(st.http("GET", "/v1/surveys/" + ids["AR-29"], token="police-token")[0] == 401,
          "the removed token still accepted")
    with open(cfg, "w") as f:  # the tokens as they were, for the parts after this one
        f.write(original)
    st.procs["hailongd"].send_signal(signal.SIGHUP)
    wait_for(lambda: st.http("GET", "/v1/surveys/" + ids["AR-29"], token="police-token")[0] == 200, 10,
             "the tokens back")
    print("ok: a reload moved the tokens while a look-up, a find and a cancel made with one of them waited for "
          "Redis: answered for that token (cancelled_by only-police), which is refused afterwards")


def gone(st, relay):
    ids = triggered(st, 24, 26, "AG")
    # (not longer: the lease tick still reads Redis on the loop, a few
    # round trips every 2 s, and a loop held 2 s loses the replies waited for)
    relay.delay = 0.25
    time.sleep(0.3)
    reqs = [("GET", "/v1/surveys/" + ids["AG-24"], None), ("GET", "/v1/surveys?transaction_id=AG-24", None),
            ("GET", "/metrics", None), ("POST", "/v1/surveys/%s/cancel" % ids["AG-25"], {}),
            ("POST", "/v1/optouts", {"msisdn": harness.citizen(27)}),
            ("POST", "/v1/triggers", {"campaign": "default", "msisdn": harness.citizen(28),
                                      "transaction_id": "AG-28", "agency": "ca-vinhphuc"})]
    socks = [raw_request(st, *r) for r in reqs]
    time.sleep(0.1)  # read and waiting for Redis
    for s in socks:
        s.close()
    time.sleep(0.8)  # every answer came back, with nobody to take it
    check(st.http("GET", "/healthz")[0] == 200, "hailongd answers after its clients left")
    relay.delay = 0

    def cancelled():
        code, text = st.http("GET", "/v1/surveys/" + ids["AG-25"])
        return code == 200 and json.loads(text)["status"] == "cancelled"
    wait_for(cancelled, 5, "the cancel whose client left done (archived cancelled)")
    # stopped with requests waiting for Redis: they go with the server
    relay.delay = 0.25  # (the drain's last archive flush is synchronous: a round trip a read)
    time.sleep(0.3)
    socks = [raw_request(st, *r) for r in reqs[:3]]
    time.sleep(0.1)
    rc = st.stop("hailongd", sig=signal.SIGTERM, timeout=20)
    for s in socks:
        s.close()
    log = st.log_text("hailongd")
    check("Sanitizer" not in log and "runtime error" not in log, "a sanitizer report:\n" + log[-3000:])
    check(rc == 0, f"hailongd stopped with requests waiting for Redis: exit status {rc}\n{log[-2000:]}")
    waiting = "redis_async_drop pending=" in log  # (the requests were still waiting at the very end)
    print("ok: six requests whose clients left before Redis answered, three waiting when hailongd stopped%s: "
          "it carried on (the cancel done), and stopped cleanly" % (" until it exited" if waiting else ""))


PARTS = {"slow": slow, "lost": lost, "reload": reload, "gone": gone}  # in this order, on one gateway (gone stops it)


def main(names):
    with harness.Stack() as st:
        relay = harness.SlowRedis(st.redis_port, 0)
        try:
            st.start_redis()
            st.start_sim(30, think="5", extra=["--no-reply-share", "1.0"])  # nobody answers: surveys stay put
            st.start_gateway(relay.config(st))
            wait_for(lambda: "event=bound" in st.log_text("hailongd"), 10, "the bind")
            for name in PARTS:
                if name in names:
                    PARTS[name](st, relay)
        finally:
            st.stop_all()
            relay.close()


if __name__ == "__main__":
    main(sys.argv[1:] or list(PARTS))
