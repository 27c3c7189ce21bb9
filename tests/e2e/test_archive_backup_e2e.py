#!/usr/bin/env python3
"""`hailong archive backup`: a copy taken while another process keeps writing
batches into the archive (hailong-sim archive-gen, 1000 surveys per
transaction) is consistent as of one moment (a whole number of batches, no
half transaction), passes integrity_check and is readable by `hailong
report`; a second backup to the same file is refused and leaves the first
intact; a missing archive is an error."""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CLI = os.path.join(harness.BIN, "hailong")
SIM = os.path.join(harness.BIN, "hailong-sim")
CAMPAIGN = os.path.join(harness.ROOT, "config", "campaigns", "default.yaml")


check = harness.check


def main():
    tmp = tempfile.mkdtemp(prefix="hailong-backup-")
    try:
        db = os.path.join(tmp, "a.db")
        # a first batch, then a writer that keeps going while the backups run
        subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", CAMPAIGN, "--surveys", "1000",
                        "--batch", "1000", "--seed", "1"], check=True, capture_output=True, timeout=60)
        writer = subprocess.Popen([SIM, "archive-gen", "--db", db, "--campaign", CAMPAIGN,
                                   "--surveys", "200000", "--batch", "1000", "--seed", "2"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        counts = []
        try:
            time.sleep(0.5)
            for k in range(3):
                out = os.path.join(tmp, "copy-%d.db" % k)
                r = subprocess.run([CLI, "archive", "backup", "--db", db, out], capture_output=True,
                                   text=True, timeout=120)
                check(r.returncode == 0, f"backup {k}: {r.returncode} {r.stdout} {r.stderr}")
                check("checked" in r.stdout, r.stdout)
                with sqlite3.connect(out) as c:
                    check(c.execute("pragma integrity_check").fetchone()[0] == "ok", "integrity_check")
                    n = c.execute("select count(*) from surveys").fetchone()[0]
                    a = c.execute("select count(*) from answers").fetchone()[0]
                    orphans = c.execute("select count(*) from answers where survey_id not in "
                                        "(select survey_id from surveys)").fetchone()[0]
                check(n % 1000 == 0 and n >= 1000, f"backup {k}: {n} surveys, not a whole number of batches")
                check(a > 0 and orphans == 0, f"backup {k}: {a} answers, {orphans} without their survey")
                check(not os.path.exists(out + ".partial"), "a .partial file was left")
                counts.append(n)
                time.sleep(0.3)
        finally:
            writer.terminate()
            writer.wait(timeout=30)
        check(counts[-1] > counts[0], f"the writer added nothing between backups: {counts}")
        # the copy is a usable archive
        r = subprocess.run([CLI, "report", "--db", os.path.join(tmp, "copy-0.db"), "--campaign", "default",
                            "--format", "json"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and r.stdout.strip().startswith("{"), f"report on the copy: {r.stderr}")
        # `hailong report --integrity` is `hailong audit integrity` (docs/audit.md)
        copy0 = os.path.join(tmp, "copy-0.db")
        a = subprocess.run([CLI, "report", "--db", copy0, "--campaign", "default", "--integrity"],
                           capture_output=True, text=True, timeout=60)
        b = subprocess.run([CLI, "audit", "integrity", "--db", copy0, "--campaign", "default"],
                           capture_output=True, text=True, timeout=60)
        check(a.returncode == b.returncode == 0 and a.stdout == b.stdout and "Integrity signals" in a.stdout,
              f"report --integrity: {a.returncode} {a.stdout[:300]!r} vs {b.stdout[:300]!r}")
        # never over an existing file; a missing archive is an error
        before = os.path.getsize(os.path.join(tmp, "copy-0.db"))
        r = subprocess.run([CLI, "archive", "backup", "--db", db, os.path.join(tmp, "copy-0.db")],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and "exists" in r.stderr, f"overwrite: {r.returncode} {r.stderr}")
        check(os.path.getsize(os.path.join(tmp, "copy-0.db")) == before, "the first copy changed")
        r = subprocess.run([CLI, "archive", "backup", "--db", os.path.join(tmp, "nope.db"),
                            os.path.join(tmp, "x.db")], capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and "no such archive" in r.stderr, f"missing: {r.returncode} {r.stderr}")
        check(not os.path.exists(os.path.join(tmp, "nope.db")), "a missing archive was created")
        print(f"ok: three backups under a writer, {counts} surveys each, consistent")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
