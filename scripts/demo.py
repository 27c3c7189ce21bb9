#!/usr/bin/env python3
"""demo: a private redis-server, the SMSC simulator with 50 virtual citizens,
hailongd bound to it, 50 triggers, and the satisfaction report. Stops all it
started, also on Ctrl-C."""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import harness  # noqa: E402

N = int(os.environ.get("DEMO_CITIZENS", "50"))


def archived(db):
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("select count(*) from surveys").fetchone()[0]
    except sqlite3.Error:
        return 0


def main():
    work = os.path.join(harness.ROOT, "var", "demo")
    if os.path.isdir(work):
        subprocess.run(["rm", "-rf", work], check=True)
    t0 = time.time()
    with harness.Stack(workdir=work) as st:
        print(f"demo: data and logs in var/demo/")
        st.start_redis()
        print(f"demo: redis-server on 127.0.0.1:{st.redis_port}")
        st.start_sim(N, seed=int(time.time()) % 100000, think="50-400", extra=["--answer-mode", "mixed"])
        print(f"demo: hailong-sim (SMSC) on 127.0.0.1:{st.smsc_port} with {N} virtual citizens")
        st.start_gateway()
        print(f"demo: hailongd bound to the simulator, HTTP API on 127.0.0.1:{st.http_port}")
        agencies = ["ca-vinhphuc", "ca-hanoi", "so-tuphap"]
        procs = ["cap-ho-chieu", "dang-ky-thuong-tru", "dang-ky-xe"]
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "HS-%05d" % i,
                                    agency=agencies[i % 3], procedure=procs[i % 3])
            if code != 202:
                raise SystemExit(f"demo: trigger {i} answered {code}: {body}")
        print(f"demo: {N} triggers accepted (POST /v1/triggers); citizens are answering...")
        last = -1
        deadline = time.time() + 50
        while time.time() < deadline:
            n = archived(st.db)
            if n != last:
                print(f"demo: {n}/{N} surveys finished and archived")
                last = n
            if n >= N:
                break
            time.sleep(0.5)
        else:
            raise SystemExit("demo: not every survey finished in time; see var/demo/*.log")
        stats = st.stop_sim()
        st.stop("hailongd")
        print(f"demo: simulator statistics: {stats}")
        print()
        subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", st.db,
                        "--campaign", "default"], check=True)
    print(f"\ndemo: done in {time.time() - t0:.1f}s; every process it started is stopped")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ndemo: interrupted; everything it started is stopped")
        sys.exit(130)
