#!/usr/bin/env python3
"""The live dashboard of hailongd: GET /v1/report follows the surveys as they
are archived and, once they are all in, equals `hailong report --format json`;
a token scoped to one agency sees only that agency; no token is a 401; bad
parameters are 400s; /dashboard is an HTML page that reloads itself, checked
in headless Chromium (bars, numbers equal to the JSON, Vietnamese intact,
screenshot in build/test-logs/dashboard.png); periods in the config's
timezone."""
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import harness  # noqa: E402

N = 60
AGENCIES = ["ca-vinhphuc", "ca-hanoi", "so-tuphap"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(N, seed=3, think="50-400")
        st.start_gateway()
        code, body = st.http("GET", "/v1/report?campaign=default")
        check(code == 200 and json.loads(body)["total"]["surveys"] == 0, f"empty archive: {code} {body[:200]}")
        for i in range(1, N + 1):
            code, _ = st.trigger(harness.citizen(i), "DASH-%d" % i, agency=AGENCIES[i % 3],
                                 procedure=["cap-ho-chieu", "dang-ky-xe"][i % 2])
            check(code == 202, f"trigger {i}: {code}")
        # the report follows the archive while surveys come in; triggers are not held up meanwhile
        seen = []
        stop = threading.Event()

        def poll():
            while not stop.is_set():
                c, b = st.http("GET", "/v1/report?campaign=default&by=agency")
                if c == 200:
                    seen.append(json.loads(b)["total"]["completed"])
                time.sleep(0.1)
        t = threading.Thread(target=poll)
        t.start()
        t0 = time.time()
        code, _ = st.trigger(harness.citizen(1), "DASH-late", agency="ca-hanoi")
        check(code == 202 and time.time() - t0 < 2, "a trigger while reports are read")
        # (the late one too: it waits for citizen 1's first survey, and would
        # otherwise land between the page and the JSON it is compared with)
        harness.wait_for(lambda: harness.completed_surveys(st) >= N + 1, 90, "surveys completed", step=0.2)
        harness.wait_thanked(st, N + 1)
        time.sleep(0.5)
        stop.set()
        t.join()
        check(len(seen) >= 3 and seen[-1] >= N - 1 and any(x < seen[-1] for x in seen),
              f"the report grew while surveys came in: {seen[:3]}...{seen[-3:]}")
        done = harness.completed_surveys(st)

        # /v1/report equals the CLI's JSON over the same archive
        code, body = st.http("GET", "/v1/report?campaign=default&by=agency,month")
        check(code == 200, f"report: {code}")
        live = json.loads(body)
        cli = json.loads(subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", st.db,
                                         "--campaign", "default", "--by", "agency,month", "--format", "json"],
                                        check=True, capture_output=True, timeout=60).stdout)
        check(live == cli, "GET /v1/report differs from hailong report --format json: " +
              str([k for k in set(live) | set(cli) if live.get(k) != cli.get(k)]) +
              str([(live.get(k), cli.get(k)) for k in ("timezone", "version", "questions") if live.get(k) != cli.get(k)])[:600])
        check(live["total"]["completed"] == done, f"completed {live['total']['completed']} vs archive {done}")
        check(sorted({s["key"]["agency"] for s in live["slices"]}) == sorted(AGENCIES), "three agencies")

        # a token scoped to ca-vinhphuc sees ca-vinhphuc only
        code, body = st.http("GET", "/v1/report?campaign=default&by=agency", token="police-token")
        mine = json.loads(body)
        check(code == 200 and [s["key"]["agency"] for s in mine["slices"]] == ["ca-vinhphuc"],
              f"scoped token slices: {code} {[s['key'] for s in mine.get('slices', [])]}")
        vp = [s for s in live["slices"] if s["key"]["agency"] == "ca-vinhphuc"]
        check(mine["total"]["surveys"] == sum(s["surveys"] for s in vp) and mine["total"]["surveys"] > 0,
              "scoped total = that agency's surveys")
        check([u["unit"] for u in mine["ranking"]["units"]] == ["ca-vinhphuc"], "scoped ranking")
        code, _ = st.http("GET", "/v1/report?campaign=default&agency=ca-hanoi", token="police-token")
        check(code == 403, f"another agency with a scoped token: {code}")

        # errors
        for path, want in [("/v1/report?campaign=default", 401), ("/dashboard?campaign=default", 401)]:
            code, _ = st.http("GET", path, token=None)
            check(code == want, f"{path} without a token: {code}")
        code, _ = st.http("GET", "/v1/report?campaign=default", token="wrong")
        check(code == 401, f"wrong token: {code}")
        code, _ = st.http("POST", "/v1/report?campaign=default", body={})
        check(code == 405, f"POST on the report: {code}")
        for q, want in [("", 400), ("campaign=default&by=colour", 400), ("campaign=default&from=2026-13-01", 400),
                        ("campaign=nope", 404), ("campaign=default&status=happy", 400)]:
            code, body = st.http("GET", "/v1/report?" + q)
            check(code == want and "error" in json.loads(body), f"?{q}: {code} {body[:120]}")

        # the page, as a person sees it; a browser passes the token in the address
        q = urllib.parse.urlencode({"campaign": "default", "by": "agency", "access_token": harness.TOKEN})
        url = "http://127.0.0.1:%d/dashboard?%s" % (st.http_port, q)
        code, page_src = st.http("GET", "/dashboard?" + q, token=None)
        check(code == 200 and '<meta http-equiv="refresh" content="10">' in page_src, "dashboard reloads itself")
        for bad in ("http://", "https://", "<script", "<link"):
            check(bad not in page_src, f"dashboard refers to {bad}")
        page = browser.Page(browser.dump_dom(url))
        code, body = st.http("GET", "/v1/report?campaign=default&by=agency")
        browser.check_report_page(page, json.loads(body), check, "dashboard")
        png = os.path.join(harness.ROOT, "build", "test-logs", "dashboard.png")
        check(browser.screenshot(url, png), "dashboard screenshot")
        print("screenshot:", png)
        code, _ = st.http("GET", "/healthz")
        check(code == 200, "hailongd still serves")
        check(live["timezone"] == "Asia/Ho_Chi_Minh" and live["utc_offset"] == "+07:00", "periods in Hanoi time")

        # the config's timezone: a gateway restarted in UTC counts its periods in UTC
        st.stop("hailongd")
        st.start_gateway(st.write_config(timezone="UTC"))
        code, body = st.http("GET", "/v1/report?campaign=default&by=day")
        utc = json.loads(body)
        cli = json.loads(subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", st.db,
                                         "--campaign", "default", "--by", "day", "--format", "json",
                                         "--timezone", "UTC"], check=True, capture_output=True, timeout=60).stdout)
        check(code == 200 and utc["timezone"] == "UTC" and utc["utc_offset"] == "+00:00", f"UTC report: {code}")
        check(utc == cli, "GET /v1/report in UTC differs from hailong report --timezone UTC")
        # the gateway's archive writer counts the rollups again in its zone at start
        harness.wait_for(lambda: sqlite3.connect(st.db).execute(
            "SELECT value FROM rollup_meta WHERE key = 'timezone'").fetchone() == ("UTC",), 20, "rollups in UTC")
        utc2 = json.loads(subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", st.db,
                                          "--campaign", "default", "--by", "day", "--format", "json"],
                                         check=True, capture_output=True, timeout=60).stdout)
        check(utc2 == utc, "the rollups rebuilt in UTC give the same report as the recount in UTC")
        hanoi = json.loads(subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", st.db,
                                           "--campaign", "default", "--format", "json", "--timezone",
                                           "Asia/Ho_Chi_Minh"],
                                          check=True, capture_output=True, timeout=60).stdout)
        check(hanoi["timezone"] == "Asia/Ho_Chi_Minh" and utc["total"] == hanoi["total"] and
              utc["total"]["surveys"] >= N, "the same total, whatever the zone")
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
