#!/usr/bin/env python3
"""An inspector's mistakes with `hailong audit` (docs/audit.md): `--out`
naming a file that exists (the sample itself, the archive, an old output
that others may read) is refused and the file is left as it was; a day that
does not exist (2026-02-30, 2026-13-01) is refused by name, not taken as a
range or called "after --to"."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

HAILONG = os.path.join(harness.BIN, "hailong")
SIM = os.path.join(harness.BIN, "hailong-sim")
check = harness.check


def run(*args):
    return subprocess.run([HAILONG] + list(args), capture_output=True, text=True, timeout=60)


def main():
    d = tempfile.mkdtemp(prefix="hailong-e2e-auditcli-")
    db = os.path.join(d, "hailong.db")
    subprocess.run([SIM, "archive-gen", "--db", db, "--campaign",
                    os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), "--surveys", "200"],
                   check=True, capture_output=True, timeout=60)
    r = run("audit", "keygen", "--out", os.path.join(d, "office.key"))
    check(r.returncode == 0, f"keygen: {r.stderr}")
    key = os.path.join(d, "office.key")
    sample = os.path.join(d, "sample.csv")
    base = ["audit", "sample", "--db", db, "--campaign", "default", "--size", "10", "--floor", "1", "--seed", "s"]

    # ---- days that do not exist ----
    for frm, to in (("2026-02-30", "2026-12-31"), ("2026-13-01", "2026-12-31"), ("2026-09-01", "2026-11-31")):
        r = run(*base, "--from", frm, "--to", to)
        bad = frm if frm in ("2026-02-30", "2026-13-01") else to
        check(r.returncode == 2 and f"'{bad}' is not a day" in r.stderr and "after" not in r.stderr,
              f"sample --from {frm} --to {to}: exit {r.returncode}, {r.stderr!r}")
        r = run("audit", "integrity", "--db", db, "--from", frm, "--to", to)
        check(r.returncode == 2 and f"'{bad}' is not a day" in r.stderr,
              f"integrity --from {frm} --to {to}: exit {r.returncode}, {r.stderr!r}")
    r = run(*base, "--from", "2026-12-31", "--to", "2026-09-01")
    check(r.returncode == 2 and "--from 2026-12-31 is after --to 2026-09-01" in r.stderr, r.stderr)

    # ---- the sample; --out never writes over a file ----
    r = run(*base, "--from", "2026-09-01", "--to", "2026-12-31", "--out", sample)
    check(r.returncode == 0, f"sample: {r.stderr}")
    with open(sample) as f:
        drawn = f.read()
    check(len(drawn.strip().splitlines()) == 11, f"10 drawn: {drawn}")
    with open(db, "rb") as f:
        db_bytes = f.read()
    r = run(*base, "--from", "2026-09-01", "--to", "2026-12-31", "--out", db)
    check(r.returncode == 1 and "exists" in r.stderr, f"sample --out the archive: {r.returncode} {r.stderr!r}")
    with open(db, "rb") as f:
        check(f.read() == db_bytes, "the archive was written over by sample --out")
    r = run(*base, "--from", "2026-09-01", "--to", "2026-12-31", "--out", sample)
    check(r.returncode == 1 and "exists" in r.stderr, f"sample --out an existing file: {r.stderr!r}")

    # ---- open --out: the sample itself, or an old file others may read ----
    r = run("audit", "open", "--secret-key", key, "--out", sample, sample)
    check(r.returncode == 1 and "exists" in r.stderr, f"open --out the sample: {r.returncode} {r.stderr!r}")
    with open(sample) as f:
        check(f.read() == drawn, "open --out the sample destroyed the sample")
    old = os.path.join(d, "opened.csv")
    with open(old, "w") as f:
        f.write("old\n")
    os.chmod(old, 0o644)
    r = run("audit", "open", "--secret-key", key, "--out", old, sample)
    check(r.returncode == 1 and "exists" in r.stderr, f"open --out a 0644 file: {r.returncode} {r.stderr!r}")
    with open(old) as f:
        check(f.read() == "old\n", "open --out wrote numbers into a file others may read")
    # a new --out file is created 0600 (archive-gen stores no contacts: each row is named, exit 1)
    new = os.path.join(d, "new.csv")
    r = run("audit", "open", "--secret-key", key, "--out", new, sample)
    check(r.returncode == 1 and "no sealed contact" in r.stderr, f"open without contacts: {r.stderr!r}")
    check(stat.S_IMODE(os.stat(new).st_mode) == 0o600, "the opened file is readable by its owner only")
    shutil.rmtree(d, ignore_errors=True)
    print("ok: --out never writes over a file; days that do not exist are refused by name")


if __name__ == "__main__":
    main()
