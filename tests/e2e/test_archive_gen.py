#!/usr/bin/env python3
"""`hailong-sim archive-gen --order`: `finish` (the default) writes surveys
about in the order they end, as hailongd archives them, so that one batch
spans a couple of days and the run the 90 days; `random` puts each survey on
any of the 90 days, so that one batch spans nearly all of them. Both store
the same surveys and a valid hash chain; a bad --order is a usage error.
And the archive's rollup_citizens_recent (schema 9) is merged into
rollup_citizens past its threshold, nothing lost or counted twice."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SIM = os.path.join(harness.BIN, "hailong-sim")
CLI = os.path.join(harness.BIN, "hailong")
CAMPAIGN = os.path.join(harness.ROOT, "config", "campaigns", "default.yaml")
N, BATCH = 3000, 500


def gen(db, *extra):
    r = subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", CAMPAIGN, "--surveys", str(N),
                        "--batch", str(BATCH), *extra], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r
    return db


def batch_days(db):
    """(first day, last day) of triggered_at per batch of BATCH surveys, in GEN-K order."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT CAST(substr(transaction_id, 5) AS INTEGER), julianday(triggered_at)"
                       " FROM surveys ORDER BY 1").fetchall()
    con.close()
    assert len(rows) == N, len(rows)
    out = []
    for b in range(0, N, BATCH):
        days = [d for _, d in rows[b:b + BATCH]]
        out.append((min(days), max(days)))
    return out


def merged(tmp):
    """Past 32768 citizens rows, rollup_citizens_recent is merged into
    rollup_citizens: the two hold one row per (citizen, local day, unit,
    status) between them, and the report counts each citizen once."""
    db = os.path.join(tmp, "merge.db")
    r = subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", CAMPAIGN, "--surveys", "40000"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r
    con = sqlite3.connect(db)
    recent = con.execute("SELECT COUNT(*) FROM rollup_citizens_recent").fetchone()[0]
    main_n = con.execute("SELECT COUNT(*) FROM rollup_citizens").fetchone()[0]
    both = con.execute("SELECT COUNT(*) FROM (SELECT * FROM rollup_citizens"
                       " UNION SELECT * FROM rollup_citizens_recent)").fetchone()[0]
    want = con.execute("SELECT COUNT(DISTINCT msisdn_hash || date(triggered_at, '+7 hours') || agency || procedure"
                       " || channel || status) FROM surveys").fetchone()[0]
    citizens = con.execute("SELECT COUNT(DISTINCT msisdn_hash) FROM surveys").fetchone()[0]
    con.close()
    assert 0 < recent < 32768 and main_n >= 32768, (recent, main_n)
    assert both == want == 40000, (both, want)
    r = subprocess.run([CLI, "report", "--db", db, "--campaign", "default", "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r
    rr = json.loads(r.stdout)["total"]["response_rate"]
    assert rr["citizens"] == citizens == 40000, (rr, citizens)


def main():
    with tempfile.TemporaryDirectory(prefix="hailong-gen-") as tmp:
        fin = batch_days(gen(os.path.join(tmp, "finish.db")))
        rnd = batch_days(gen(os.path.join(tmp, "random.db"), "--order", "random"))
        for lo, hi in fin:
            assert hi - lo < 32, f"finish: one batch spans {hi - lo:.1f} days"
        assert fin[0][1] < fin[-1][0], f"finish: the run does not move forward in time: {fin}"
        assert fin[-1][1] - fin[0][0] > 80, f"finish: the run spans {fin[-1][1] - fin[0][0]:.1f} days, not 90"
        for lo, hi in rnd:
            assert hi - lo > 80, f"random: one batch spans only {hi - lo:.1f} days"
        for db in ("finish.db", "random.db"):
            r = subprocess.run([CLI, "archive", "verify", "--db", os.path.join(tmp, db)],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, (db, r.stdout[-500:], r.stderr[-500:])
        merged(tmp)
        r = subprocess.run([SIM, "archive-gen", "--db", os.path.join(tmp, "x.db"), "--campaign", CAMPAIGN,
                            "--surveys", "10", "--order", "sorted"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "--order is finish or random" in r.stderr, r
        assert not os.path.exists(os.path.join(tmp, "x.db")), "a usage error created the database"
    print("ok: archive-gen --order finish and random")


if __name__ == "__main__":
    main()
