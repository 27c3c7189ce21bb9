#!/usr/bin/env python3
"""redis.url: embedded: hailongd runs its own redis-server (unix socket, AOF
beside the archive), surveys complete, the data survives a restart, and no
redis-server is left behind after a clean stop or a SIGKILL of hailongd."""
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


check = harness.check


def redis_children(sock):
    out = subprocess.run(["pgrep", "-f", "redis-server.*" + re.escape(sock)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main():
    with harness.Stack() as st:
        st.start_sim(3, seed=2, think="5-30")
        cfg = st.write_config()
        text = open(cfg).read()
        text = re.sub(r"redis:\n  url: .*\n", "redis:\n  url: embedded\n", text)
        open(cfg, "w").write(text)
        sock = os.path.join(st.dir, "redis", "redis.sock")

        st.start_gateway(cfg)
        check(len(redis_children(sock)) == 1, "one private redis-server")
        for i in range(1, 4):
            code, body = st.trigger(harness.local_citizen(i), "EMB-%d" % i)
            check(code == 202, f"trigger: {code} {body}")

        def done():
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("select count(*) from surveys where status='completed'").fetchone()[0]
            except sqlite3.Error:
                return 0
        harness.wait_for(lambda: done() == 3, 60, "3 surveys", step=0.2)
        check(st.stop("hailongd") == 0, "clean stop")
        harness.wait_for(lambda: not redis_children(sock), 10, "the private redis-server to stop")

        # the same data after a restart: the transaction is still known
        st.start_gateway(cfg)
        code, body = st.trigger(harness.local_citizen(1), "EMB-1")
        check(code == 200, f"after a restart the duplicate is recognised: {code} {body}")
        pids = redis_children(sock)
        check(len(pids) == 1, f"one private redis-server again: {pids}")
        os.killpg(st.procs["hailongd"].pid, signal.SIGKILL)
        st.procs.pop("hailongd").wait()
        harness.wait_for(lambda: not redis_children(sock), 10, "redis-server to follow hailongd (SIGKILL)")
        print("ok: embedded redis-server runs, persists and never outlives hailongd")


if __name__ == "__main__":
    main()
