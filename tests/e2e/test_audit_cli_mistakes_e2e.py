#!/usr/bin/env python3
"""An inspector's mistakes with `hailong audit` (docs/audit.md): `--out`
naming a file that exists (the sample itself, the archive, an old output
that others may read) is refused and the file is left as it was; a day that
does not exist (2026-02-30, 2026-13-01) is refused by name, not taken as a
range or called "after --to"; `audit integrity` of a campaign the archive
does not hold (a typo) is an error, not "0 flags", and a unit counted twice
in --transactions is named with its line."""
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


def live_verify(d):
    """archive verify on an archive being written (hailongd writes while the
    office checks): each answer describes one moment of it, its links and
    surveys counted together (they were counted apart: "intact: 2000 links,
    4000 surveys")."""
    import json
    db = os.path.join(d, "live.db")
    camp = os.path.join(harness.ROOT, "config", "campaigns", "default.yaml")
    subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", camp, "--surveys", "2000"], check=True,
                   capture_output=True, timeout=60)
    writer = subprocess.Popen([SIM, "archive-gen", "--db", db, "--campaign", camp, "--surveys", "60000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = []
    try:
        while writer.poll() is None or len(seen) < 5:
            r = run("archive", "verify", "--db", db, "--format", "json")
            check(r.returncode == 0, f"verify while written: {r.returncode} {r.stdout[-300:]} {r.stderr}")
            v = json.loads(r.stdout)
            check(v["intact"] and v["links"] == v["surveys"], f"verify while written: {v}")
            seen.append(v["links"])
    finally:
        writer.wait(timeout=120)
    check(len(set(seen)) > 1, f"the archive grew while verified: {seen}")


def evidence_copy(d, db):
    """The office's copy of the archive (hailong archive backup) is read, never
    changed, by verify, sample, compare, integrity and optout count|list (its bytes stay the same:
    a copy kept as evidence keeps its checksum); on read-only media it is read
    too (with root: a read-only bind mount)."""
    import hashlib
    copy = os.path.join(d, "evidence", "copy.db")
    os.makedirs(os.path.dirname(copy))
    r = run("archive", "backup", "--db", db, copy)
    check(r.returncode == 0, f"backup: {r.stderr}")

    def digest():
        with open(copy, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    before = digest()
    reads = [["archive", "verify", "--db", copy],
             ["audit", "sample", "--db", copy, "--campaign", "default", "--from", "2026-09-01", "--to", "2026-12-31",
              "--size", "5", "--seed", "s"],
             ["audit", "integrity", "--db", copy],
             ["audit", "compare", "--db", copy, "--campaign", "default", "--audit-campaign", "audit"],
             ["optout", "count", "--db", copy], ["optout", "list", "--db", copy]]
    for args in reads:
        r = run(*args)
        check(r.returncode in (0, 1) and "readonly" not in r.stderr, f"{args[:2]}: {r.returncode} {r.stderr!r}")
        check(digest() == before and sorted(os.listdir(os.path.dirname(copy))) == ["copy.db"],
              f"hailong {' '.join(args[:2])} changed the copy it read: {sorted(os.listdir(os.path.dirname(copy)))}")
    r = run("archive", "verify", "--db", copy)
    check(r.returncode == 0 and "intact: 200 links" in r.stdout, f"verify the copy: {r.stdout} {r.stderr}")
    if os.geteuid() != 0:
        print("read-only media not tried: a bind mount needs root")
        return
    ro = os.path.join(d, "ro")
    os.makedirs(ro)
    if subprocess.run(["mount", "--bind", os.path.dirname(copy), ro], capture_output=True).returncode != 0:
        print("read-only media not tried: mount --bind refused")
        return
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True, capture_output=True)
        for args in reads:
            args = [os.path.join(ro, "copy.db") if a == copy else a for a in args]
            r = run(*args)
            check(r.returncode in (0, 1) and "readonly" not in r.stderr and "unable to open" not in r.stderr,
                  f"{args[:2]} on read-only media: {r.returncode} {r.stderr!r}")
        r = run("archive", "verify", "--db", os.path.join(ro, "copy.db"))
        check(r.returncode == 0 and "intact: 200 links" in r.stdout, f"verify on read-only media: {r.stderr!r}")
    finally:
        subprocess.run(["umount", "-l", ro], capture_output=True)


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

    # ---- integrity: a misspelt campaign is no clean bill of health; a unit counted twice is asked about ----
    r = run("audit", "integrity", "--db", db, "--campaign", "defualt")
    check(r.returncode == 1 and "campaign defualt has no survey in this archive" in r.stderr and "0 flags" not in r.stdout,
          f"integrity of a campaign not in the archive: {r.returncode} {r.stdout!r} {r.stderr!r}")
    tx = os.path.join(d, "transactions.csv")
    with open(tx, "w") as f:
        f.write("unit,transactions\nca-hanoi,100\nca-danang,80\nca-hanoi,50\n")
    r = run("audit", "integrity", "--db", db, "--transactions", tx)
    check(r.returncode == 1 and f"{tx}:4: unit ca-hanoi is counted twice" in r.stderr,
          f"a unit twice in --transactions: {r.returncode} {r.stderr!r}")

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
    check(not os.path.exists(new), "an --out file with nothing opened is not left in the way of the next run")
    r = run("audit", "open", "--secret-key", key, "--out", new, os.path.join(d, "nowhere.csv"))
    check(r.returncode == 1 and not os.path.exists(new), f"open of a missing sample: {r.returncode} {r.stderr!r}")

    evidence_copy(d, db)
    live_verify(d)
    # the sample saved again by a spreadsheet (a UTF-8 BOM, CRLF): still a sample
    excel = os.path.join(d, "sample-excel.csv")
    with open(excel, "wb") as f:
        f.write(b"\xef\xbb\xbf" + drawn.replace("\n", "\r\n").encode())
    r = run("audit", "open", "--secret-key", key, excel)
    check(r.returncode == 1 and "not a sample" not in r.stderr and "0 of 10 contacts opened" in r.stderr,
          f"a sample with a BOM: {r.returncode} {r.stderr[-300:]!r}")
    shutil.rmtree(d, ignore_errors=True)
    print("ok: --out never writes over a file; days that do not exist are refused by name; reading a copy"
          " leaves it as it was, and one on read-only media is read")


if __name__ == "__main__":
    main()
