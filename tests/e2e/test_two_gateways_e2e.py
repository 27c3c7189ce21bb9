#!/usr/bin/env python3
"""Two hailongd on one Redis (and one archive), both bound to the simulator:
every survey starts once, gets exactly one reminder and one expiry message,
is archived once; replies are taken by whichever gateway receives them; when
one gateway is killed, the other finishes its work after its lease runs out."""
import os
import re
import shutil
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

N = 20


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def write_campaigns():
    tmp = harness.tempfile.mkdtemp(prefix="hailong-two-")
    text = open(os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), encoding="utf-8").read()
    text = re.sub(r"reminder_after: .*", "reminder_after: 2s", text)
    text = re.sub(r"expire_after: .*", "expire_after: 5s", text)
    with open(os.path.join(tmp, "default.yaml"), "w", encoding="utf-8") as f:
        f.write(text)
    return tmp, text


def second_config(st, cfg):
    port2 = harness.free_port()
    text = open(cfg).read().replace("listen: 127.0.0.1:%d" % st.http_port, "listen: 127.0.0.1:%d" % port2)
    path = cfg.replace(".yaml", "-2.yaml")
    open(path, "w").write(text)
    return path, port2


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
            cfg = st.write_config()
            cfg2, port2 = second_config(st, cfg)
            st.start_gateway(cfg)
            st._spawn("hailongd2", [os.path.join(harness.BIN, "hailongd"), "-c", cfg2])
            harness.wait_for(lambda: st._port_open(port2), 10, "the second hailongd")
            for i in range(1, N + 1):
                code, body = st.trigger(harness.local_citizen(i), "TWO-%d" % i)
                check(code == 202, f"trigger {i}: {code} {body}")
            harness.wait_for(lambda: count(st, "select count(*) from surveys where status='expired'") == N, 40,
                             f"{N} expired surveys", step=0.3)
            time.sleep(1.0)
            for i in range(1, N + 1):
                box = harness.inbox(st, harness.citizen(i))
                texts = box if isinstance(box, list) else box.get("messages", [])
                texts = [t if isinstance(t, str) else t.get("text", "") for t in texts]
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
            print(f"ok: two gateways, {N} surveys each with exactly one first item, reminder and expiry; "
                  f"the survivor finished {N} more after the other was killed")
    finally:
        shutil.rmtree(camps, ignore_errors=True)


if __name__ == "__main__":
    main()
