#!/usr/bin/env python3
"""The operator-facing contracts as an outside checker reads them in SPEC §4
and §6 and docs/operations.md, docs/archive.md, with a real redis-server, the
simulator and hailongd: the answers to bad requests (an empty body, a key
written twice, a date that does not exist, a parameter misspelt or given
twice, from after to, a write on a read-only endpoint, a CSV row not in
UTF-8 or too long) are clear 400/405s or refused rows and store nothing,
while the good requests around them are taken; and a config
whose folders or port cannot be used stops hailongd with `file:line: what is
wrong` (SPEC §4), and an IPv6 listen address written as the docs say works."""
import json
import os
import socket
import subprocess
import sys
import unicodedata
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

check = harness.check


def body_of(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def http_full(st, method, path, raw=None, token=harness.TOKEN):
    """(status, headers, body) of one request, as sent (no redirects, any method)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", st.http_port, timeout=10)
    headers = {"Authorization": "Bearer " + token} if token else {}
    if raw is not None:
        headers["Content-Type"] = "application/json"
    c.request(method, path, body=raw, headers=headers)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace"))
    c.close()
    return out


def triggers(st):
    good = {"campaign": "default", "msisdn": "0912345678", "transaction_id": "GOOD-1", "agency": "ca-vinhphuc"}
    code, b = st.trigger("0912345678", "GOOD-1")
    check(code == 202 and b.get("status") == "queued", f"a good trigger: {code} {b}")
    # an empty body is named as such (it was "line -1 column -1: wrong arguments")
    code, text = st.http("POST", "/v1/triggers", raw=b"")
    b = body_of(text)
    check(code == 400 and b.get("field") == "body" and "empty" in b.get("error", "") and "-1" not in b["error"],
          f"an empty body: {code} {text}")
    # a key written twice: which was meant cannot be known (jansson kept the last)
    raw = (b'{"campaign":"default","msisdn":"0912345679","transaction_id":"TWICE-1","transaction_id":"TWICE-2",'
           b'"agency":"ca-vinhphuc"}')
    code, text = st.http("POST", "/v1/triggers", raw=raw)
    b = body_of(text)
    check(code == 400 and b.get("field") == "body" and "duplicate" in b.get("error", ""),
          f"a key written twice: {code} {text}")
    for tx in ("TWICE-1", "TWICE-2"):
        code, _ = st.http("GET", "/v1/surveys?transaction_id=" + tx)
        check(code == 404, f"a refused trigger was stored anyway ({tx}): {code}")
    # completed_at on a day that does not exist (once taken as March 2)
    for bad in ("2026-02-30T10:00:00+07:00", "2026-04-31T08:00:00Z"):
        code, b = st.trigger("0912345670", "FEB-30", completed_at=bad)
        check(code == 400 and b.get("field") == "completed_at", f"completed_at {bad}: {code} {b}")
    code, b = st.trigger("0912345670", "LEAP-1", completed_at="2028-02-29T10:00:00+07:00")
    check(code == 202, f"completed_at on a leap day: {code} {b}")
    # a batch whose middle item is bad: the others are taken, each answered
    code, text = st.http("POST", "/v1/triggers", [dict(good, transaction_id="BATCH-1"),
                                                   dict(good, transaction_id="BATCH-2", completed_at="2026-13-01T00:00:00Z"),
                                                   dict(good, transaction_id="BATCH-3", msisdn="0987000003")])
    res = body_of(text).get("results", [])
    check(code == 200 and [r.get("code") for r in res] == [202, 400, 202], f"a batch with a bad item: {code} {text}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=BATCH-3")
    check(code == 200, f"the batch's good item after a bad one: {code} {text}")
    # a body over 1 MiB: a JSON 413 naming the limit (libevent's own HTML one
    # only beyond 4 MiB, where it refuses before reading)
    big = json.dumps([dict(good, transaction_id="BIG-%05d" % i, procedure="p" * 100) for i in range(6000)]).encode()
    check(len(big) > 1 << 20, "the big body is not big")
    for path in ("/v1/triggers", "/v1/optouts"):
        code, text = st.http("POST", path, raw=big)
        b = body_of(text)
        check(code == 413 and isinstance(b, dict) and b.get("field") == "body" and "1 MiB" in b.get("error", ""),
              f"POST {path} with {len(big)} bytes: {code} {text[:200]}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=BIG-00000")
    check(code == 404, f"a trigger of the refused big body was stored: {code} {text}")
    with socket.create_connection(("127.0.0.1", st.http_port), timeout=5) as s:
        s.sendall(b"POST /v1/triggers HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                  b"Content-Length: %d\r\n\r\n" % (harness.TOKEN.encode(), 5 << 20))
        check(s.recv(64).startswith(b"HTTP/1.1 413 "), "a 5 MiB Content-Length is not refused at once")
    # the first trigger is still the one accepted
    code, b = st.trigger("0912345678", "GOOD-1")
    check(code == 200 and b.get("status") == "duplicate", f"GOOD-1 again: {code} {b}")
    print("ok: triggers: empty body, a key twice and a day that does not exist are clear 400s, nothing stored")


def optouts(st):
    code, text = st.http("POST", "/v1/optouts", {"msisdn": "0241234567"})
    b = body_of(text)
    check(code == 400 and b.get("field") == "msisdn", f"a landline: {code} {text}")
    check(b["error"].count("Vietnamese mobile") == 1, f"the reason said twice: {text}")
    code, text = st.http("POST", "/v1/optouts", {"msisdn": "12"})
    b = body_of(text)
    check(code == 400 and b["error"].count("Vietnamese mobile number") == 1, f"a short number: {code} {text}")
    code, text = st.http("POST", "/v1/optouts", raw=b"")
    b = body_of(text)
    check(code == 400 and "empty" in b.get("error", ""), f"an empty opt-out body: {code} {text}")
    code, text = st.http("POST", "/v1/optouts", raw=b'{"msisdn":"0987111111","msisdn":"0987111112"}')
    check(code == 400 and "duplicate" in body_of(text).get("error", ""), f"msisdn twice: {code} {text}")
    check(st.redis("SCARD", "hl:optout") == "0", "a refused opt-out reached Redis")
    code, text = st.http("POST", "/v1/optouts", {"msisdn": "0987111111"})
    check(code == 201, f"a good opt-out after the bad ones: {code} {text}")
    print("ok: opt-outs: reasons said once, empty body and msisdn twice refused, nothing stored")


def lookups(st):
    code, text = st.http("GET", "/v1/surveys?transaction_id=GOOD-1&transaction_id=NOPE")
    b = body_of(text)
    check(code == 400 and b.get("field") == "transaction_id" and "twice" in b.get("error", ""),
          f"transaction_id twice: {code} {text}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=GOOD-1&campaign=default&campaign=x")
    check(code == 400 and body_of(text).get("field") == "campaign", f"campaign twice: {code} {text}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=GOOD-1&campaign=default")
    check(code == 200 and len(body_of(text)["surveys"]) == 1, f"the look-up itself: {code} {text}")
    # a Vietnamese transaction id and agency round-trip in UTF-8
    tx, ag = "Hồ sơ số 12/2026-ĐKX", "Công an tỉnh Vĩnh Phúc"
    code, b = st.trigger("0912345601", tx, agency=ag, procedure="Đăng ký xe")
    check(code == 202, f"a Vietnamese transaction id: {code} {b}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=" + urllib.parse.quote(tx))
    s = body_of(text)["surveys"][0] if code == 200 else {}
    check((s.get("transaction_id"), s.get("agency"), s.get("procedure")) == (tx, ag, "Đăng ký xe"),
          f"Vietnamese text back: {code} {text}")
    print("ok: look-ups: a parameter twice is a 400; Vietnamese text round-trips")


def nfc(st):
    """An agency typed decomposed (NFD, as some systems write Vietnamese) is
    the agency written composed: the token whose list names it may trigger
    for it (it was a 403), the survey is stored composed (it was another unit
    in the reports), and a report filtered either way finds it."""
    import unicodedata
    ag = "Công an tỉnh Vĩnh Phúc"
    nfd = unicodedata.normalize("NFD", ag)
    check(nfd != ag, "the test's agency has no decomposed form")
    code, b = st.trigger("0912345621", "NFD-1", agency=nfd, procedure=unicodedata.normalize("NFD", "Cấp hộ chiếu"))
    check(code == 202, f"an NFD agency: {code} {b}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=NFD-1")
    s = body_of(text)["surveys"][0] if code == 200 else {}
    check((s.get("agency"), s.get("procedure")) == (ag, "Cấp hộ chiếu"), f"stored as NFC: {code} {text}")
    code, text = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "0912345622",
                                                  "transaction_id": "NFD-2", "agency": nfd}, token=VN_TOKEN)
    check(code == 202, f"a token listing the agency (decomposed in the config): {code} {text}")
    code, text = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "0912345623",
                                                  "transaction_id": "NFD-3", "agency": "ca-khac"}, token=VN_TOKEN)
    check(code == 403, f"that token, another agency: {code} {text}")
    for q in (ag, nfd):
        code, text = st.http("GET", "/v1/report?campaign=default&agency=" + urllib.parse.quote(q), token=VN_TOKEN)
        check(code == 200, f"the report filtered by the agency ({'NFD' if q == nfd else 'NFC'}): {code} {text[:200]}")
    # hailong report --agency typed decomposed finds the survey archived composed
    sid = s["survey_id"]
    code, text = st.http("POST", "/v1/surveys/%s/cancel" % sid)
    check(code == 200, f"cancel NFD-1: {code} {text}")

    def counted():
        r = subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", st.db, "--campaign", "default",
                            "--agency", nfd, "--status", "cancelled", "--format", "json"],
                           capture_output=True, text=True, timeout=30)
        return r.returncode == 0 and json.loads(r.stdout)["total"]["surveys"] == 1
    harness.wait_for(counted, 15, "hailong report --agency (NFD) to count the cancelled survey")
    print("ok: an agency written decomposed is the agency written composed (token, archive, report filters)")


def reports(st):
    code, text = st.http("GET", "/v1/report?campaign=default&agnecy=ca-vinhphuc")
    b = body_of(text)
    check(code == 400 and "agnecy" in b.get("error", ""), f"a misspelt filter: {code} {text}")
    code, text = st.http("GET", "/v1/report?campaign=default&agency=a&agency=b")
    check(code == 400 and "twice" in body_of(text).get("error", ""), f"agency twice: {code} {text}")
    code, text = st.http("GET", "/v1/report?campaign=default&from=2026-12-01&to=2026-11-01")
    check(code == 400 and "after" in body_of(text).get("error", ""), f"from after to: {code} {text}")
    code, text = st.http("GET", "/v1/report?campaign=default&status=nope")
    check(code == 400 and "cancelled" in body_of(text).get("error", ""), f"an unknown status: {code} {text}")
    code, text = st.http("GET", "/v1/report?campaign=default&status=cancelled&from=2026-11-01&to=2026-11-01")
    b = body_of(text)
    check(code == 200 and b["total"]["surveys"] == 0 and b["total"]["response_rate"]["by_survey_pct"] is None,
          f"an empty selection: {code} {text[:300]}")
    code, text = st.http("GET", "/dashboard?campaign=default&colour=red")
    check(code == 400 and "colour" in text, f"the dashboard with a misspelt parameter: {code} {text}")
    code, text = st.http("GET", "/dashboard?campaign=default&by=agency")
    check(code == 200 and "<html" in text, f"the dashboard: {code}")
    r = subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", st.db, "--campaign", "default",
                        "--status", "nope"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "cancelled" in r.stderr, f"hailong report --status nope: {r.returncode} {r.stderr}")
    r = subprocess.run([os.path.join(harness.BIN, "hailong"), "archive", "verify", "--db", st.db, "--format", "csv"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "'csv' is not table or json" in r.stderr,
          f"archive verify --format csv (a bare usage line before): {r.returncode} {r.stderr!r}")
    print("ok: reports: misspelt or repeated parameters and from after to are 400s; an empty slice is nulls")


def read_only(st):
    for path in ("/healthz", "/readyz", "/metrics"):
        for method in ("POST", "DELETE", "PUT"):
            code, hdrs, text = http_full(st, method, path, raw=b"{}")
            check(code == 405 and "GET" in hdrs.get("allow", ""), f"{method} {path}: {code} {hdrs} {text}")
        code, _, _ = http_full(st, "GET", path)
        check(code == 200, f"GET {path}: {code}")
    # every 405 says what the resource takes (RFC 9110: Allow is required)
    for method, path, allow in [("GET", "/v1/triggers", "POST"), ("GET", "/v1/optouts", "POST"),
                                ("POST", "/v1/surveys?transaction_id=GOOD-1", "GET"),
                                ("DELETE", "/v1/surveys/0123456789abcdef", "GET"),
                                ("GET", "/v1/surveys/0123456789abcdef/cancel", "POST"),
                                ("POST", "/v1/report?campaign=default", "GET"),
                                ("POST", "/dashboard?campaign=default", "GET")]:
        code, hdrs, text = http_full(st, method, path, raw=b"{}" if method != "GET" else None)
        check(code == 405 and allow in hdrs.get("allow", ""), f"{method} {path}: {code} {hdrs} {text}")
    code, hdrs, text = http_full(st, "GET", "/v1/surveys/0123456789abcdef/nope")
    check(code == 404, f"an unknown path under /v1/surveys: {code} {text}")
    code, hdrs, text = http_full(st, "HEAD", "/v1/surveys?transaction_id=GOOD-1")
    check(code == 200 and text == "", f"HEAD on a look-up: {code} {text!r}")
    # HEAD (a load balancer's check) on a kept connection: headers only, then
    # the next answer; libevent wrote the body, read as the next answer's start
    for path in ("/healthz", "/readyz", "/metrics", "/v1/triggers"):
        with socket.create_connection(("127.0.0.1", st.http_port), timeout=5) as s:
            s.sendall(("HEAD %s HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n"
                       "Connection: close\r\n\r\n" % path).encode())
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        head, sep, rest = out.partition(b"\r\n\r\n")
        check(sep and rest.startswith(b"HTTP/1.1 200 OK\r\n") and rest.endswith(b"\r\n\r\nok\n"),
              f"HEAD {path} then GET /healthz on one connection: {out[:600]!r}")
    print("ok: /healthz, /readyz, /metrics: 405 with Allow for a write, GET answered, HEAD without a body")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def endless_headers(st):
    """A client whose headers never end: libevent's default kept all it sent
    (memory grew a megabyte per megabyte); now it is answered 400 and cut."""
    pid = st.procs["hailongd"].pid
    before = rss_kb(pid)
    with socket.create_connection(("127.0.0.1", st.http_port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: ")
        sent = 0
        try:
            for _ in range(32):
                s.sendall(b"a" * (1 << 20))
                sent += 1
        except OSError:
            pass
        try:
            answer = s.recv(200)
        except OSError:
            answer = b""
    grew = rss_kb(pid) - before
    check(sent < 32 and answer.startswith(b"HTTP/1.1 400 ") and grew < 8192,
          f"endless headers: {sent} MB taken, answer {answer[:40]!r}, memory grew {grew} kB")
    code, _ = st.http("GET", "/healthz")
    check(code == 200, f"/healthz after the endless headers: {code}")
    print(f"ok: endless headers cut after {sent} MB with a 400 (memory grew {grew} kB)")


def csv_rows(st):
    """hailong trigger --csv: a row whose cell is not UTF-8 (a file saved in
    Windows-1258) was sent without that cell, and a row longer than a line
    stopped the run with the rows read before it never sent; each is now a
    refused row of the report and the others are taken."""
    path = os.path.join(st.dir, "rows.csv")
    with open(path, "wb") as f:
        f.write("\ufeffcampaign,msisdn,transaction_id,agency,procedure\r\n".encode())
        f.write(b"default,0912345611,CSV-1,ca-vinhphuc,C\xe2p h\xf4 chi\xeau\r\n")  # not UTF-8
        f.write("default,0912345612,CSV-2,ca-vinhphuc,Cấp hộ chiếu\r\n".encode())
        f.write(b"default,0912345613,CSV-3,ca-vinhphuc," + b"y" * 20000 + b"\r\n")
        f.write(b"default,0912345614,CSV-4,ca-vinhphuc,\r\n")
    r = subprocess.run([os.path.join(harness.BIN, "hailong"), "trigger", "--csv", path, "--url",
                        "http://127.0.0.1:%d" % st.http_port, "--token", harness.TOKEN],
                       capture_output=True, text=True, errors="replace", timeout=60)
    out = r.stdout
    check(r.returncode == 1 and "summary: rows=4 accepted=2 duplicate=0 refused=2" in out,
          f"hailong trigger: {r.returncode} {out!r} {r.stderr!r}")
    check("line 2 tx=CSV-1: refused column 'procedure': not UTF-8" in out, f"the row not in UTF-8: {out!r}")
    check("line 4 tx=?: refused line longer than" in out, f"the long row: {out!r}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=CSV-1")
    check(code == 404, f"the row not in UTF-8 was stored: {code} {text}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=CSV-2")
    check(code == 200 and body_of(text)["surveys"][0]["procedure"] == "Cấp hộ chiếu", f"CSV-2: {code} {text}")
    code, text = st.http("GET", "/v1/surveys?transaction_id=CSV-4")
    check(code == 200 and body_of(text)["surveys"][0]["procedure"] is None, f"CSV-4: {code} {text}")
    print("ok: trigger --csv: a cell not in UTF-8 and an over-long row are refused rows; the others are taken")


def ipv6_listen(st):
    """http.listen "[::1]:PORT" (docs/config.md: host may be [IPv6]) was
    handed to libevent with its brackets: hailongd did not start ("cannot
    listen ...: Resource temporarily unavailable"). A second hailongd on
    Redis db 1 with an archive of its own, no SMSC needed for /healthz."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port = s.getsockname()[1]
    except OSError:
        print("skip: no IPv6 loopback here")
        return
    with open(st.write_config()) as f:
        text = f.read()
    text = (text.replace("listen: 127.0.0.1:%d" % st.http_port, 'listen: "[::1]:%d"' % port)
            .replace("redis://127.0.0.1:%d/0" % st.redis_port, "redis://127.0.0.1:%d/1" % st.redis_port)
            .replace("sqlite: " + st.db, "sqlite: " + os.path.join(st.dir, "v6.db"))
            .replace("port: %d" % st.smsc_port, "port: %d" % harness.free_port()))
    path = os.path.join(st.dir, "v6.yaml")
    with open(path, "w") as f:
        f.write(text)
    log = open(os.path.join(st.dir, "v6.log"), "wb")
    p = subprocess.Popen([os.path.join(harness.BIN, "hailongd"), "-c", path], stdout=log, stderr=log)
    try:
        import http.client
        got = None
        for _ in range(100):
            if p.poll() is not None:
                break
            try:
                c = http.client.HTTPConnection("::1", port, timeout=2)
                c.request("GET", "/healthz")
                r = c.getresponse()
                got = (r.status, r.read())
                c.close()
                break
            except OSError:
                import time
                time.sleep(0.1)
        with open(os.path.join(st.dir, "v6.log"), "rb") as f:
            out = f.read().decode("utf-8", "replace")
        check(got == (200, b"ok\n"), f"hailongd on [::1]:{port}: {got}, exit {p.poll()}: {out[-600:]}")
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(timeout=30)
        log.close()
    print(f"ok: http.listen [::1]:{port} answers")


def config_errors(st):
    """hailongd stops with file:line naming the key whose value cannot be used."""
    base = st.write_config()
    with open(base) as f:
        text = f.read()
    lines = text.split("\n")

    def line_of(prefix):
        return next(i + 1 for i, l in enumerate(lines) if l.lstrip().startswith(prefix))

    def run(name, old, new, args=("--check",)):
        check(old in text, f"the harness config no longer holds {old!r}")
        path = os.path.join(st.dir, name)
        with open(path, "w") as f:
            f.write(text.replace(old, new, 1))
        r = subprocess.run([os.path.join(harness.BIN, "hailongd"), "-c", path] + list(args),
                           capture_output=True, text=True, timeout=30)
        return path, r
    path, r = run("nocamps.yaml", "campaigns: " + st.campaigns, "campaigns: " + os.path.join(st.dir, "nowhere"))
    want = "%s:%d: campaigns: " % (path, line_of("campaigns:"))
    check(r.returncode == 1 and want in r.stderr and "nowhere" in r.stderr,
          f"a campaigns folder that is not there: {r.returncode} {r.stderr!r}, want {want!r}")
    path, r = run("nodb.yaml", "sqlite: " + st.db, "sqlite: " + os.path.join(st.dir, "nowhere", "h.db"), args=())
    want = "%s:%d: storage: sqlite: " % (path, line_of("sqlite:"))
    check(r.returncode == 1 and want in r.stderr, f"an archive folder that is not there: {r.returncode} {r.stderr!r}")
    # --check before the first start of a fresh install (docs/operations.md):
    # the state folder systemd makes on that start is not there yet
    path, r = run("nodb.yaml", "sqlite: " + st.db, "sqlite: " + os.path.join(st.dir, "nowhere", "h.db"))
    check(r.returncode == 0, f"--check with the state folder still to come: {r.returncode} {r.stderr!r}")
    with socket.socket() as s:  # a port taken: the start stops naming http.listen's line
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = s.getsockname()[1]
        path, r = run("busy.yaml", "listen: 127.0.0.1:%d" % st.http_port, "listen: 127.0.0.1:%d" % taken, args=())
    want = "%s:%d: http: listen: cannot listen on 127.0.0.1:%d" % (path, line_of("listen:"), taken)
    check(r.returncode == 1 and want in r.stderr, f"a port taken: {r.returncode} {r.stderr[-600:]!r}")
    print("ok: config: a missing campaigns or archive folder and a port taken stop hailongd with file:line")


VN_TOKEN = "vn-token-composed"


def start(st):
    """The harness's stack, with one more token whose agency is written in
    Vietnamese, decomposed (NFD), in the config."""
    st.start_redis()
    st.start_sim(0, think="5")
    cfg = st.write_config()
    with open(cfg, encoding="utf-8") as f:
        text = f.read()
    old = "    - name: only-police\n"
    check(old in text, "the harness config no longer has the only-police token")
    with open(cfg, "w", encoding="utf-8") as f:
        f.write(text.replace(old, '    - name: vn\n      token: "%s"\n      agencies: ["%s"]\n%s'
                             % (VN_TOKEN, unicodedata.normalize("NFD", "Công an tỉnh Vĩnh Phúc"), old), 1))
    st.start_gateway(cfg)


def main():
    with harness.Stack() as st:
        start(st)
        triggers(st)
        optouts(st)
        lookups(st)
        nfc(st)
        reports(st)
        read_only(st)
        endless_headers(st)
        csv_rows(st)
        ipv6_listen(st)
        config_errors(st)
        code, _ = st.http("GET", "/healthz")
        check(code == 200 and st.procs["hailongd"].poll() is None, "hailongd did not survive the bad requests")
    print("ok: test_api_contract_e2e")


if __name__ == "__main__":
    main()
