#!/usr/bin/env python3
"""The post-check loop with the real binaries: the office's keys, surveys
archived with sealed contacts (no readable number in the file), the hash
chain verified and its head logged, a reproducible sample, its contacts
opened with the secret key only, the re-survey triggered with audit_of from
the opened CSV, and the comparison and integrity reports."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import inbox, mo, wait_for  # noqa: E402

HAILONG = os.path.join(harness.BIN, "hailong")


check = harness.check


def run(*args, ok=(0,)):
    r = subprocess.run([HAILONG] + list(args), capture_output=True, text=True, timeout=60)
    if r.returncode not in ok:
        raise AssertionError(f"hailong {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def answer(st, msisdn, start, total, replies):
    """Reply to items 1..len(replies) of the survey whose messages start at inbox index `start`."""
    for k, rep in enumerate(replies, start=1):
        marker = f"Câu {k}/{total}"
        wait_for(lambda: any(marker in t for t in inbox(st, msisdn)[start:]), 15,
                 f"{msisdn} to receive {marker}")
        mo(st, msisdn, rep)


def archived(st, campaign, n):
    def count():
        try:
            with closing(sqlite3.connect(st.db, timeout=5)) as c, c:
                return c.execute("select count(*) from surveys where campaign_id = ?", (campaign,)).fetchone()[0] >= n
        except sqlite3.Error:
            return False
    wait_for(count, 30, f"{n} surveys of {campaign} archived", step=0.1)


def main():
    camps = tempfile.mkdtemp(prefix="hailong-audit-camps-")
    shutil.copy(os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), camps)
    shutil.copy(os.path.join(harness.ROOT, "config", "audit", "audit.yaml"), camps)
    try:
        with harness.Stack(campaigns=camps) as st:
            key = os.path.join(st.dir, "office.key")
            r = run("audit", "keygen", "--out", key)
            check(os.stat(key).st_mode & 0o777 == 0o600, "secret key file mode 0600")
            pk = [l.split(":", 1)[1].strip() for l in r.stdout.splitlines() if "public_key:" in l][0]
            run("audit", "keygen", "--out", key, ok=(1,))  # never overwritten
            other = os.path.join(st.dir, "other.key")
            run("audit", "keygen", "--out", other)

            st.start_redis()
            st.start_sim(0, think="5")
            cfg = st.write_config()
            with open(cfg, "a") as f:
                f.write(f"audit:\n  public_key: {pk}\n  keep_contact_days: 30\n")
            st.start_gateway(cfg)

            # ---- six surveys at two units, all answered "very satisfied" ----
            nums = {i: "849130000%02d" % i for i in range(1, 7)}
            unit = {i: "U1" if i <= 3 else "U2" for i in nums}
            for i, m in nums.items():
                code, body = st.trigger(m, f"TX-{i}", agency=unit[i])
                check(code == 202, f"trigger {i}: {code} {body}")
            for i, m in nums.items():
                answer(st, m, 0, 6, ["1"] * 5 + ["0"])
            archived(st, "default", 6)

            # no readable number anywhere in the archive's files
            # read by another process: closing a file descriptor of the database in
            # this one would drop the POSIX locks of this process's SQLite connections
            raw = subprocess.run(["cat", st.db] + ([st.db + "-wal"] if os.path.exists(st.db + "-wal") else []),
                                 capture_output=True, timeout=30).stdout
            for m in nums.values():
                check(m.encode() not in raw and m[2:].encode() not in raw, f"{m} readable in the archive")
            with closing(sqlite3.connect(st.db)) as c, c:
                check(c.execute("select count(*) from contacts where sealed is not null").fetchone()[0] == 6,
                      "6 sealed contacts")

            # the chain is intact; the head is logged by hailongd at start
            r = run("archive", "verify", "--db", st.db, "--format", "json")
            v = json.loads(r.stdout)
            check(v["intact"] and v["links"] == 6 and v["surveys"] == 6, f"verify: {v}")
            check("event=archive_head seq=" in st.log_text("hailongd"), "head logged by hailongd")

            # ---- the sample: reproducible, 2 per unit ----
            today = time.strftime("%Y-%m-%d", time.gmtime())
            sample = os.path.join(st.dir, "sample.csv")
            args = ["audit", "sample", "--db", st.db, "--campaign", "default", "--from", today, "--to", today,
                    "--size", "4", "--floor", "2", "--seed", "xo-so-2026-11-28"]
            run(*args, "--out", sample)
            again = run(*args)
            with open(sample) as f:
                text = f.read()
            check(text == again.stdout, "the same seed draws the same sample")
            rows = text.strip().splitlines()[1:]
            check(len(rows) == 4, f"4 drawn: {rows}")
            check(sum(",U1," in r for r in rows) == 2 and sum(",U2," in r for r in rows) == 2, "2 per unit")
            check("access=5;procedure=5" in text, "answers in the sample")
            for m in nums.values():
                check(m not in text, "no number in the sample")

            # ---- open: only the secret key opens; output is a trigger CSV ----
            bad = run("audit", "open", "--secret-key", other, sample, ok=(1,))
            check("does not open" in bad.stderr, f"wrong key refused: {bad.stderr}")
            trig = os.path.join(st.dir, "audit-triggers.csv")
            run("audit", "open", "--secret-key", key, "--audit-campaign", "audit", "--out", trig, sample)
            check(os.stat(trig).st_mode & 0o077 == 0, "opened numbers readable by the owner only")
            with open(trig) as f:
                opened = [l.split(",") for l in f.read().strip().splitlines()[1:]]
            check(len(opened) == 4, f"4 opened: {opened}")
            by_num = {m: i for i, m in nums.items()}
            with closing(sqlite3.connect(st.db)) as c, c:
                for row in opened:
                    check(row[1] in by_num, f"{row[1]} is one of the numbers surveyed")
                    tx = c.execute("select transaction_id from surveys where survey_id = ?", (row[5],)).fetchone()[0]
                    check(tx == f"TX-{by_num[row[1]]}", f"contact of {row[5]} is the number of {tx}")

            # a bad audit_of is refused by the API
            code, body = st.trigger("84913000001", "BAD-AUDIT", campaign="audit", audit_of=5)
            check(code == 400 and body.get("field") == "audit_of", f"audit_of must be a string: {code} {body}")

            # ---- the re-survey, triggered from the opened CSV ----
            starts = {row[1]: len(inbox(st, row[1])) for row in opened}
            r = run("trigger", "--csv", trig, "--url", "http://127.0.0.1:%d" % st.http_port, "--token", harness.TOKEN)
            u2 = [row[1] for row in opened if row[3] == "U2"]
            for row in opened:
                m = row[1]
                if m == u2[0]:
                    answer(st, m, starts[m], 6, ["2", "HUY"])        # "I was never surveyed"
                elif m == u2[1]:
                    answer(st, m, starts[m], 6, ["1"] + ["5"] * 5)   # surveyed, but not satisfied at all
                else:
                    answer(st, m, starts[m], 6, ["1"] * 6)           # confirms the original answers
            archived(st, "audit", 4)
            with closing(sqlite3.connect(st.db)) as c, c:
                links = c.execute("select count(*) from audit_links l join surveys s on s.survey_id = l.audit_of"
                                  " where s.campaign_id = 'default'").fetchone()[0]
            check(links == 4, f"4 audit links: {links}")

            r = run("audit", "compare", "--db", st.db, "--campaign", "default", "--audit-campaign", "audit",
                    "--format", "json")
            cmp = json.loads(r.stdout)
            units = {u["unit"]: u for u in cmp["units"]}
            check(units["U1"]["reached"] == 2 and units["U1"]["agreement_pct"] == 100.0, f"U1: {units['U1']}")
            check(units["U2"]["never_surveyed"] == 1 and units["U2"]["reached"] == 1, f"U2: {units['U2']}")
            check(units["U2"]["original_higher"] == 1, f"U2 original higher: {units['U2']}")
            table = run("audit", "compare", "--db", st.db, "--campaign", "default", "--audit-campaign", "audit").stdout
            print(table)
            check("sign test" in table, "the method is stated")
            html = run("audit", "compare", "--db", st.db, "--campaign", "default", "--audit-campaign", "audit",
                       "--format", "html").stdout
            check(html.startswith("<!DOCTYPE html>") and "<td>U2</td>" in html, "the HTML page")
            run("audit", "compare", "--db", st.db, "--campaign", "default", "--audit-campaign", "audit",
                "--format", "pdf", ok=(2,))
            run("audit", "sample", "--db", st.db, "--campaign", "default", "--from", today, "--to", today,
                "--size", "4", ok=(2,))  # no seed: a usage error
            # replies from a number that was never surveyed, minutes after the
            # surveys went out: kept by hash (never the number), flagged per unit
            stray = "0988777666"
            def strays():
                with closing(sqlite3.connect(st.db, timeout=5)) as c:
                    return c.execute("select count(*) from stray_replies").fetchone()[0]
            for i in range(3):
                code, _ = mo(st, stray, str(i + 1))
                check(code in (200, 202), f"stray MO {i}: {code}")
                # one record per second and number, stamped when hailongd
                # reads the MO: wait until it has (the record is archived),
                # then let the clock pass to the next second
                wait_for(lambda: strays() >= i + 1, 20, f"stray reply {i + 1} archived", step=0.1)
                time.sleep(1.1)
            with closing(sqlite3.connect(st.db)) as c:
                rows = c.execute("select msisdn_hash, at from stray_replies").fetchall()
            check(len(rows) == 3 and len({h for h, _ in rows}) == 1 and all(len(h) == 64 for h, _ in rows),
                  f"stray replies by keyed hash: {rows}")
            # (grep in a process of its own: closing a descriptor of the file here would drop SQLite's locks)
            files = [p for p in (st.db, st.db + "-wal") if os.path.exists(p)]
            check(subprocess.run(["grep", "-q", "988777666", *files]).returncode == 1, "the archive holds no stray number")
            integ = json.loads(run("audit", "integrity", "--db", st.db, "--campaign", "default", "--format", "json").stdout)
            check(integ["stray_replies"]["total"] == 3 and integ["stray_replies"]["attributed"] == 3,
                  f"stray replies in the integrity signals: {integ['stray_replies']}")
            other = [x for x in integ["flags"] if x["signal"] == "other_number"]
            check(len(other) == 1 and other[0]["observed"] == 3, f"one unit flagged for them: {other}")

            # the chain still holds with the audits in it
            v = json.loads(run("archive", "verify", "--db", st.db, "--format", "json").stdout)
            check(v["intact"] and v["links"] == 10, f"verify after the audit: {v}")
            rc = st.stop("hailongd")
            check(rc == 0, f"hailongd exit status {rc}:\n{st.log_text('hailongd')[-3000:]}")
            # the JSON sample opens to the same numbers
            sj = os.path.join(st.dir, "sample.json")
            with open(sj, "w") as f:
                f.write(run(*args, "--format", "json").stdout)
            nums_csv = sorted(l.split(",")[3] for l in run("audit", "open", "--secret-key", key, sample).stdout.split()[1:])
            nums_json = sorted(l.split(",")[3] for l in run("audit", "open", "--secret-key", key, sj).stdout.split()[1:])
            check(nums_csv == nums_json and len(nums_csv) == 4, f"csv {nums_csv} json {nums_json}")

            # contacts older than keep_contact_days go when hailongd starts (and daily); the chain stays
            with closing(sqlite3.connect(st.db)) as c, c:
                c.execute("update contacts set stored_at = '2020-01-01T00:00:00Z' where survey_id in"
                          " (select survey_id from surveys where campaign_id = 'default')")
            st.start_gateway(cfg)
            wait_for(lambda: "sealed contacts purged\" count=6" in st.log_text("hailongd"), 10, "the purge")
            check(st.stop("hailongd") == 0, "hailongd stopped")
            with closing(sqlite3.connect(st.db)) as c, c:
                check(c.execute("select count(*) from contacts where sealed is not null").fetchone()[0] == 4,
                      "the audits' contacts stay")
            v = json.loads(run("archive", "verify", "--db", st.db, "--format", "json").stdout)
            check(v["intact"] and v["links"] == 10, f"verify after the purge: {v}")
            sample2 = os.path.join(st.dir, "sample2.csv")
            run(*args, "--out", sample2)  # drawn again: the same surveys, no contacts left to draw
            r = run("audit", "open", "--secret-key", key, sample2, ok=(1,))
            check(r.stderr.count("no sealed contact") == 4, f"the purged contacts are named: {r.stderr}")

            # an edit of the file is named
            with closing(sqlite3.connect(st.db)) as c, c:
                sid = c.execute("select survey_id from chain where seq = 3").fetchone()[0]
                c.execute("update answers set value = 1 where survey_id = ? and question_id = 'officer'", (sid,))
            r = run("archive", "verify", "--db", st.db, ok=(1,))
            check(f"link 3: survey {sid}: changed" in r.stdout, f"verify names the edit: {r.stdout}")
            print("audit e2e ok")
    finally:
        shutil.rmtree(camps, ignore_errors=True)


if __name__ == "__main__":
    main()
