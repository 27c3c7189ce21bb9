#!/usr/bin/env python3
"""A procedure named as the national catalogue names it: a Vietnamese name of
up to 128 characters, which takes two or three bytes a letter in UTF-8
(procedure names there often run past 128 bytes). Through POST /v1/triggers:

- a 120-character name (about 160 bytes) is accepted (202), shown whole by
  GET /v1/surveys/{id}, archived whole when the survey ends (cancelled
  here), and a report by procedure lists it whole;
- a 129-character name is a 400 naming `procedure`; a control character in
  it too.

Fails on the build that counted bytes: the 120-character name was a 400."""
import json
import os
import sqlite3
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

check = harness.check
BASE = ("Cấp đổi Giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền "
        "với đất do bị hư hỏng hoặc bị mất trang")


def main():
    name = (BASE * 2)[:120]
    long_name = (BASE * 2)[:129]
    check(len(name.encode()) > 128, "the name is not longer than 128 bytes")
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0)
        st.start_gateway()
        code, body = st.trigger(harness.citizen(1), "proc-name-1", procedure=name)
        check(code == 202, f"a 120-character procedure: {code} {body}")
        sid = body["survey_id"]
        code, text = st.http("GET", "/v1/surveys/" + sid)
        got = json.loads(text).get("procedure") if code == 200 else None
        check(got == name, f"GET /v1/surveys/{{id}}: {code}, procedure {got!r}")
        for bad, why in ((long_name, "129 characters"), (name[:50] + "\x01" + name[51:], "a control character")):
            code, body = st.trigger(harness.citizen(2), "proc-name-bad", procedure=bad)
            check(code == 400 and "procedure" in json.dumps(body, ensure_ascii=False),
                  f"{why}: {code} {body}")
        code, text = st.http("POST", "/v1/surveys/%s/cancel" % sid, {})
        check(code == 200, f"cancel: {code} {text}")

        def archived():
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    r = c.execute("select procedure from surveys where survey_id=?", (sid,)).fetchone()
                    return r[0] if r else None
            except sqlite3.Error:
                return None
        wait_for(lambda: archived() is not None, 10, "the survey archived", step=0.1)
        kept = archived()
        code, text = st.http("GET", "/v1/report?campaign=default&by=procedure&format=json")
        listed = code == 200 and name in text
        exit_rc = st.stop("hailongd")
        check(exit_rc == 0, f"hailongd exited {exit_rc}")
        check(kept == name, f"archived procedure {kept!r}")
        check(listed, f"/v1/report by procedure: {code}, the name not listed whole: {text[:300]}")
        print(f"ok: a {len(name)}-character procedure name ({len(name.encode())} bytes) kept whole; "
              "129 characters or a control character refused")


if __name__ == "__main__":
    main()
