#!/usr/bin/env python3
"""Two hailongd on one Redis (and one archive), both bound to the simulator:
every survey starts once, gets exactly one reminder and one expiry message,
is archived once; replies are taken by whichever gateway receives them; when
one gateway is killed, the other finishes its work after its lease runs out;
when Redis itself is away for longer than the lease, neither takes the
other's messages in hand for those of a dead peer (no SMS goes out twice)."""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = 20


check = harness.check


def write_campaigns():
    tmp = harness.tempfile.mkdtemp(prefix="hailong-two-")
    text = open(os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), encoding="utf-8").read()
    text = re.sub(r"reminder_after: .*", "reminder_after: 2s", text)
    text = re.sub(r"expire_after: .*", "expire_after: 5s", text)
    with open(os.path.join(tmp, "default.yaml"), "w", encoding="utf-8") as f:
        f.write(text)
    return tmp, text


def second_config(st, cfg, lease=None):
    """The config of a second hailongd: another http.listen; with `lease`,
    both configs get redis.lease."""
    text = open(cfg).read()
    if lease:
        text = text.replace("/0\n", "/0\n  lease: %s\n" % lease, 1)
        open(cfg, "w").write(text)
    port2 = harness.free_port()
    path = cfg.replace(".yaml", "-2.yaml")
    open(path, "w").write(text.replace("listen: 127.0.0.1:%d" % st.http_port, "listen: 127.0.0.1:%d" % port2))
    return path, port2


def start_two(st, lease=None):
    """hailongd and a second one on another HTTP port, both bound to the
    simulator and sharing its Redis."""
    cfg = st.write_config()
    cfg2, port2 = second_config(st, cfg, lease=lease)
    st.start_gateway(cfg)
    st._spawn("hailongd2", [os.path.join(harness.BIN, "hailongd"), "-c", cfg2])
    harness.wait_for(lambda: st._port_open(port2), 10, "the second hailongd")
    return port2


def count(st, sql):
    with sqlite3.connect(st.db, timeout=5) as c:
        return c.execute(sql).fetchone()[0]


def main():
    camps, text = write_campaigns()
    reminder = re.search(r'reminder: "([^"]+)"', text).group(1)
    expired = re.search(r'expired: "([^"]+)"', text).group(1)
    intro = re.search(r'intro: "([^"]+)"', text).group(1)
    try:
        with harness.Stack(campaigns=camps) as st:
            st.start_redis()
            st.start_sim(N, seed=4, extra=["--no-reply-share", "1.0"])
            start_two(st)
            for i in range(1, N + 1):
                code, body = st.trigger(harness.local_citizen(i), "TWO-%d" % i)
                check(code == 202, f"trigger {i}: {code} {body}")
            harness.wait_for(lambda: count(st, "select count(*) from surveys where status='expired'") == N, 40,
                             f"{N} expired surveys", step=0.3)
            # the expiry message leaves through the outbox while the archive
            # pump writes the row: wait for it, then a little longer for copies
            harness.wait_for(lambda: all(any(expired in t for t in texts_of(st, i)) for i in range(1, N + 1)), 15,
                             "every expiry message", step=0.3)
            time.sleep(1.0)
            for i in range(1, N + 1):
                texts = texts_of(st, i)
                n_intro = sum(intro in t for t in texts)
                n_rem = sum(reminder in t for t in texts)
                n_exp = sum(expired in t for t in texts)
                check((n_intro, n_rem, n_exp) == (1, 1, 1),
                      f"citizen {i}: first item x{n_intro}, reminder x{n_rem}, expiry x{n_exp}: {texts}")
            check(count(st, "select count(*) from surveys") == N, "each survey archived once")

            # kill one gateway in the middle of new surveys: the other takes over
            for i in range(1, N + 1):
                code, body = st.trigger(harness.local_citizen(i), "TWO-B-%d" % i)
                check(code == 202, f"trigger B {i}: {code}")
            time.sleep(0.3)
            os.killpg(st.procs["hailongd"].pid, signal.SIGKILL)
            st.procs.pop("hailongd").wait()
            harness.wait_for(lambda: count(st, "select count(*) from surveys where transaction_id like 'TWO-B-%'") == N,
                             60, "the survivor to finish every survey", step=0.5)
            st.stop("hailongd2")
            st.stop_sim()
            chain_intact(st, 2 * N)
            print(f"ok: two gateways, {N} surveys each with exactly one first item, reminder and expiry; "
                  f"the survivor finished {N} more after the other was killed")
    finally:
        shutil.rmtree(camps, ignore_errors=True)


def chain_intact(st, n):
    """Both gateways wrote one archive: its hash chain is one valid line over every survey."""
    r = subprocess.run([os.path.join(harness.BIN, "hailong"), "archive", "verify", "--db", st.db, "--format", "json"],
                       capture_output=True, text=True, timeout=60)
    v = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check(r.returncode == 0 and v.get("intact") and v.get("links") == n == v.get("surveys"),
          f"archive verify: exit {r.returncode} {r.stdout} {r.stderr}")


def texts_of(st, i):
    box = harness.inbox(st, harness.citizen(i))
    texts = box if isinstance(box, list) else box.get("messages", [])
    return [t if isinstance(t, str) else t.get("text", "") for t in texts]


def redis_outage():
    """Redis stops for longer than the lease (5 s here) while both gateways
    hold first items the SMSC has not answered yet (responses 3 s late). When
    it is back, every lease has run out at once: a gateway must give its peer
    the time to renew before judging it dead, or it puts the peer's messages
    in hand back in the outbox and they go out twice. The citizens do not
    reply, so a copy would still be current and would be sent."""
    n = 30
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(n, seed=9, extra=["--no-reply-share", "1.0"])
        start_two(st, lease="5s")
        time.sleep(2.0)  # both bound, past the grace after a bind
        harness.sim_post(st, "/faults", {"resp_delay_ms": 3000})
        for i in range(1, n + 1):
            code, body = st.trigger(harness.local_citizen(i), "OUT-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        harness.wait_for(lambda: sum(int(st.redis("LLEN", k) or 0)
                                     for k in st.redis("KEYS", "hl:sending:*").split()) >= 4, 10,
                         "first items in hand on both gateways")
        st.stop("redis")
        time.sleep(8.0)  # longer than the lease
        st.start_redis()
        harness.sim_post(st, "/faults", {"reset": True})
        harness.wait_for(lambda: all(texts_of(st, i) for i in range(1, n + 1)), 30, "every first item")
        time.sleep(5 + 4)  # the lease, and two renewals: a peer judged dead would be reaped by now
        twice = [(i, len(texts_of(st, i))) for i in range(1, n + 1) if len(texts_of(st, i)) != 1]
        m1 = st.metrics()
        st.stop("hailongd2")
        st.stop_sim()
        check(not twice, f"citizens who got the first item more or less than once: {twice[:5]}")
        check(int(st.redis("LLEN", "hl:queue") or 0) == 0, "triggers left in the queue")
        print(f"ok: redis away 8 s (lease 5 s) with first items in hand: each sent once; "
              f"leases lost and renewed: {int(m1.get('hailong_lease_lost_total', 0))} (first gateway)")


def parts_across_gateways():
    """Two gateways bound to one SMSC: the parts of one long comment reach
    either gateway (the simulator deals its MOs out over the binds). The
    parts are kept in Redis, so every comment is archived whole."""
    n = 30
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(n, seed=12, think="20-150", extra=["--comment-share", "1.0", "--ucs2-share", "0.5"])
        start_two(st)
        for i in range(1, n + 1):
            code, body = st.trigger(harness.local_citizen(i), "PART-%d" % i)
            check(code == 202, f"trigger {i}: {code} {body}")
        harness.wait_for(lambda: count(st, "select count(*) from surveys where status='completed'") == n, 60,
                         f"{n} completed surveys", step=0.3)
        st.stop("hailongd2")
        st.stop_sim()
        st.stop("hailongd")
        harness.compare_with_ledger(st, "PART-", n)
        chain_intact(st, n)
        with sqlite3.connect(st.db) as c:
            longest = c.execute("select max(length(text)) from answers").fetchone()[0] or 0
        check(longest > 70, f"no comment needed several parts (longest {longest} characters)")
        logs = st.log_text("hailongd") + st.log_text("hailongd2")
        split = len(re.findall(r"concatenated message complete", st.log_text("hailongd"))), \
            len(re.findall(r"concatenated message complete", st.log_text("hailongd2")))
        check("mo_parts_expired" not in logs, "parts expired")
        print(f"ok: {n} surveys with long comments over two gateways archived whole "
              f"(sets completed per gateway: {split[0]}, {split[1]}; longest {longest} characters)")


PARTS = {"main": main, "redis_outage": redis_outage, "parts_across_gateways": parts_across_gateways}

if __name__ == "__main__":
    if sys.argv[1:]:
        for name in sys.argv[1:]:
            PARTS[name]()
    else:
        # the two parts that mostly wait out leases side by side; then the
        # long comments
        harness.run_parts(__file__, ("main", "redis_outage"), ("parts_across_gateways",))
