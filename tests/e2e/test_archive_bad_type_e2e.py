#!/usr/bin/env python3
"""hl:archive:bad holding something other than a list (an operator's SET,
say) does not stall the archive: the pump's script renames it
hl:archive:bad:displaced:<unix time>, keeps it, starts a new list with the
unreadable records, and the archive's line empties. The gateway's log says
so. A second unreadable record goes to the same new list (nothing renamed
again). Made no list once more while the names of the next seconds are
taken already, it is renamed beside them (".1"), never over one.

Fails on the build whose script pushed to hl:archive:bad without looking:
its RPUSH failed (WRONGTYPE) on every pass and the batch stayed in line."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

check = harness.check
NOTE = "operator was here"


def line_empty(st):
    return st.redis("LLEN", "hl:archive") == "0" and not any(
        st.redis("LLEN", k) != "0" for k in st.redis("KEYS", "hl:archiving:*").split())


def main():
    with harness.Stack() as st:
        st.start_redis()
        st.redis("SET", "hl:archive:bad", NOTE)
        st.start_sim(0)
        st.start_gateway()
        wait_for(lambda: st.redis("SCARD", "hl:instances") == "1", 10, "the gateway registered")
        st.redis("RPUSH", "hl:archive", "not a record {")
        wait_for(lambda: line_empty(st), 10, "the archive's line and our list of the batch empty", step=0.1)
        typ = st.redis("TYPE", "hl:archive:bad")
        first = st.redis("LRANGE", "hl:archive:bad", 0, -1) if typ == "list" else None
        aside = st.redis("KEYS", "hl:archive:bad:displaced:*").split()
        kept = st.redis("GET", aside[0]) if len(aside) == 1 else None
        st.redis("RPUSH", "hl:archive", "{\"still\": \"bad\"")
        wait_for(lambda: line_empty(st) and st.redis("LLEN", "hl:archive:bad") == "2", 10,
                 "the second record kept", step=0.1)
        aside2 = st.redis("KEYS", "hl:archive:bad:displaced:*").split()
        # the names of the next seconds taken: the second rename goes beside
        now = int(st.redis("TIME").split()[0])
        taken = {"hl:archive:bad:displaced:%d" % t: "older %d" % t for t in range(now - 2, now + 30)}
        for k, v in taken.items():
            st.redis("SET", k, v)
        st.redis("DEL", "hl:archive:bad")
        st.redis("SET", "hl:archive:bad", NOTE + " again")
        st.redis("RPUSH", "hl:archive", "third {")
        wait_for(lambda: line_empty(st) and st.redis("TYPE", "hl:archive:bad") == "list", 10,
                 "the third record kept", step=0.1)
        third = st.redis("LRANGE", "hl:archive:bad", 0, -1)
        intact = all(st.redis("GET", k) == v for k, v in taken.items())
        beside = [k for k in st.redis("KEYS", "hl:archive:bad:displaced:*.*").split()
                  if st.redis("GET", k) == NOTE + " again"]
        log = st.log_text("hailongd")
        exit_rc = st.stop("hailongd")
        check(exit_rc == 0, f"hailongd exited {exit_rc}")
        check(first == "not a record {", f"hl:archive:bad holds {first!r} (type {typ})")
        check(kept == NOTE, f"what hl:archive:bad held was not kept aside: keys {aside}, value {kept!r}")
        check(aside2 == aside, f"renamed again: {aside2}")
        check(third == "third {", f"hl:archive:bad holds {third!r} after the second rename")
        check(intact, "a rename overwrote a name taken already")
        check(len(beside) == 1 and beside[0].endswith(".1"), f"the second one was not kept beside: {beside}")
        check("hl:archive:bad held no list" in log, "the log does not say hl:archive:bad was renamed")
        print("ok: hl:archive:bad holding no list is renamed aside and the archive goes on")


if __name__ == "__main__":
    main()
