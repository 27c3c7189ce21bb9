#!/usr/bin/env python3
"""demo: a private redis-server, the SMSC simulator with 120 virtual citizens
of a realistic population (some never answer and expire, some answer nonsense
and are abandoned, some opt out, many comment), hailongd bound to it, triggers
for four agencies, then the report by agency, the comments, and the HTML
report (var/demo/report.html). Stops all it started, also on Ctrl-C."""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import harness  # noqa: E402

N = int(os.environ.get("DEMO_CITIZENS", "120"))
EXPIRE_S = 25
POPULATION = """# the demo's citizens (docs/simulator.md)
profile: realistic
shares: {no_reply: 0.1, invalid: 0.06, optout: 0.04, late: 0.0, comment: 0.4, ucs2: 0.3}
answer_mode: mixed
distribution: "5:42,4:33,3:14,2:7,1:4"
questions:
  officer: "5:25,4:30,3:25,2:12,1:8"
"""


def demo_campaigns(work):
    """The default campaign, with a short life so that the demo sees surveys
    expire, and no second chance after a reply that is not understood."""
    d = os.path.join(work, "campaigns")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), encoding="utf-8") as f:
        text = f.read()
    text = text.replace("reminder_after: 2h", "reminder_after: 0").replace(
        "expire_after: 24h", f"expire_after: {EXPIRE_S}s")
    if f"expire_after: {EXPIRE_S}s" not in text:
        raise SystemExit("demo: config/campaigns/default.yaml has no 'expire_after: 24h' line to shorten")
    text = text.replace("max_invalid: 2", "max_invalid: 0")
    with open(os.path.join(d, "default.yaml"), "w", encoding="utf-8") as f:
        f.write(text)
    pop = os.path.join(work, "population.yaml")
    with open(pop, "w", encoding="utf-8") as f:
        f.write(POPULATION)
    return d, pop


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
    os.makedirs(work)
    campaigns, pop = demo_campaigns(work)
    with harness.Stack(workdir=work, campaigns=campaigns) as st:
        print(f"demo: data and logs in var/demo/ (campaign 'default', expiring after {EXPIRE_S}s)")
        st.start_redis()
        print(f"demo: redis-server on 127.0.0.1:{st.redis_port}")
        st.start_sim(N, seed=int(time.time()) % 100000, think="50-400", extra=["--population", pop])
        print(f"demo: hailong-sim (SMSC) on 127.0.0.1:{st.smsc_port} with {N} virtual citizens")
        st.start_gateway()
        print(f"demo: hailongd bound to the simulator, HTTP API on 127.0.0.1:{st.http_port}")
        agencies = ["ca-vinhphuc", "ca-hanoi", "so-tuphap", "ca-danang"]
        procs = ["cap-ho-chieu", "dang-ky-thuong-tru", "dang-ky-xe"]
        for i in range(1, N + 1):
            code, body = st.trigger(harness.local_citizen(i), "HS-%05d" % i,
                                    agency=agencies[i % 4], procedure=procs[i % 3])
            if code != 202:
                raise SystemExit(f"demo: trigger {i} answered {code}: {body}")
        print(f"demo: {N} triggers accepted (POST /v1/triggers); citizens are answering...")
        last = -1
        deadline = time.time() + EXPIRE_S + 60
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
        hailong = os.path.join(harness.BIN, "hailong")
        subprocess.run([hailong, "report", "--db", st.db, "--campaign", "default", "--by", "agency"], check=True)
        html = os.path.join(work, "report.html")
        with open(html, "wb") as f:
            subprocess.run([hailong, "report", "--db", st.db, "--campaign", "default", "--by", "agency",
                            "--format", "html"], check=True, stdout=f)
        comments = os.path.join(work, "comments.csv")
        with open(comments, "wb") as f:
            subprocess.run([hailong, "comments", "--db", st.db, "--campaign", "default"], check=True, stdout=f)
        print(f"\ndemo: comments (CSV, opens in Excel/LibreOffice): {os.path.relpath(comments, harness.ROOT)}")
        print(f"demo: HTML report (one file, charts, prints on A4): {html}")
    print(f"\ndemo: done in {time.time() - t0:.1f}s; every process it started is stopped")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ndemo: interrupted; everything it started is stopped")
        sys.exit(130)
