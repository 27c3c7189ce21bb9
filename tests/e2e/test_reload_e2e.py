#!/usr/bin/env python3
"""SIGHUP reads the config file again (issue 13): API tokens and the log
level change without a restart; a broken file is refused with its file:line
error and the running config stays (the tokens keep working)."""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402


check = harness.check


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0, think="5")
        path = st.write_config()
        st.start_gateway(path)
        code, body = st.trigger("84915000001", "RL-1")
        check(code == 202, f"trigger before the reload: {code} {body}")
        with open(path) as f:
            text = f.read()
        check(f'token: "{harness.TOKEN}"' in text, "the harness config changed: adapt this test")

        def hup(marker):
            n = st.log_text("hailongd").count(marker)
            st.procs["hailongd"].send_signal(signal.SIGHUP)
            wait_for(lambda: st.log_text("hailongd").count(marker) > n, 5, f"{marker} after SIGHUP")

        # a new token replaces the old one; the log level goes to debug
        new = text.replace(f'token: "{harness.TOKEN}"', 'token: "rotated-token-2"') + "log_level: debug\n"
        with open(path, "w") as f:
            f.write(new)
        hup("event=config ")
        check(st.trigger("84915000002", "RL-2")[0] == 401, "the old token still works after the reload")
        code, body = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "84915000002",
                                                      "transaction_id": "RL-2", "agency": "ca-vinhphuc"},
                             token="rotated-token-2")
        check(code == 202, f"the new token: {code} {body}")
        wait_for(lambda: "level=debug" in st.log_text("hailongd"), 5, "debug lines after log_level: debug")
        # a broken file: refused with file:line, the running config stays
        with open(path, "w") as f:
            f.write(new.replace("  listen:", "  listen: [oops\n  listen:", 1))
        hup("event=config_refused")
        line = [l for l in st.log_text("hailongd").splitlines() if "event=config_refused" in l][-1]
        check(re.search(re.escape(os.path.basename(path)) + r":\d+", line), f"no file:line in {line}")
        code, _ = st.http("POST", "/v1/triggers", {"campaign": "default", "msisdn": "84915000003",
                                                   "transaction_id": "RL-3", "agency": "ca-vinhphuc"},
                          token="rotated-token-2")
        check(code == 202, f"the running config did not stay: {code}")
        check(st.http("GET", "/healthz")[0] == 200, "hailongd down after a broken reload")
        print("ok: SIGHUP rotates tokens and the log level; a broken config is refused with file:line")


if __name__ == "__main__":
    main()
