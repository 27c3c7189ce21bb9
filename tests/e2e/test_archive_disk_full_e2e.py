#!/usr/bin/env python3
"""The archive's disk fills up while surveys finish (docs/operations.md, "When
something goes away"): nothing is lost (the finished surveys wait in Redis,
hailong_archive_backlog shows them), the journal says so once and then once a
minute (not five lines a second into a journal on the same full disk), and
once there is room again every survey is written, the chain intact, and
`msg="writing again"` is logged. The archive lives on a small tmpfs mounted
for the test: needs root (skipped, saying so, otherwise)."""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import check, wait_for  # noqa: E402

N = 60


def archived(db):
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return c.execute("select count(*) from surveys").fetchone()[0]
    except sqlite3.Error:
        return -1


def main():
    mnt = tempfile.mkdtemp(prefix="hailong-e2e-tmpfs-")
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt],
                                           capture_output=True).returncode != 0:
        os.rmdir(mnt)
        print("skipped: mounting a small tmpfs needs root")
        return
    try:
        with harness.Stack() as st:
            st.db = os.path.join(mnt, "hailong.db")
            st.start_redis()
            st.start_sim(N, think="5")
            st.start_gateway()
            wait_for(lambda: archived(st.db) == 0, 10, "the archive created")
            # the disk full: a filler takes every free block
            subprocess.run(["dd", "if=/dev/zero", "of=" + os.path.join(mnt, "filler"), "bs=4k"],
                           capture_output=True)
            for i in range(1, N + 1):
                code, body = st.trigger(harness.citizen(i), f"DF-{i}")
                check(code == 202, f"trigger {i}: {code} {body}")
            wait_for(lambda: st.finished() >= N, 60, f"{N} surveys finished", step=0.2)
            try:
                wait_for(lambda: st.metrics().get("hailong_archive_backlog", 0) >= N // 2, 20,
                         "the finished surveys waiting in Redis", step=0.2)
            except TimeoutError:
                raise AssertionError(f"backlog: {st.metrics().get('hailong_archive_backlog')}, archived "
                                     f"{archived(st.db)}") from None
            time.sleep(5)  # some 25 more tries
            check(archived(st.db) == 0, "nothing written while the disk is full")
            log = st.log_text("hailongd")
            fails = [l for l in log.splitlines() if 'msg="cannot write' in l]
            check(1 <= len(fails) <= 3 and "disk is full" in fails[0] and "failures=1" in fails[0],
                  f"the full disk logged once (then once a minute), not at every try: {len(fails)} lines\n"
                  + "\n".join(fails[:5]))
            # room again
            os.unlink(os.path.join(mnt, "filler"))
            wait_for(lambda: archived(st.db) == N, 30, f"all {N} surveys written once there is room", step=0.2)
            wait_for(lambda: st.metrics().get("hailong_archive_backlog", 1) == 0, 10, "the backlog empty")
            wait_for(lambda: 'msg="writing again" failed_before=' in st.log_text("hailongd"), 5,
                     "writing again logged")
            with sqlite3.connect(st.db) as c:
                check(c.execute("select count(*) from surveys where status='completed'").fetchone()[0] == N,
                      "every survey completed")
            v = subprocess.run([os.path.join(harness.BIN, "hailong"), "archive", "verify", "--db", st.db],
                               capture_output=True, text=True, timeout=60)
            check(v.returncode == 0 and f"intact: {N} links" in v.stdout, f"chain: {v.stdout}")
        # a backup onto a disk too small: the message names the copy, not the archive
        subprocess.run(["umount", "-l", mnt], check=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], check=True)
        src = os.path.join(tempfile.mkdtemp(prefix="hailong-e2e-bk-"), "hailong.db")
        subprocess.run([os.path.join(harness.BIN, "hailong-sim"), "archive-gen", "--db", src, "--campaign",
                        os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), "--surveys", "500"],
                       check=True, capture_output=True, timeout=60)
        dst = os.path.join(mnt, "copy.db")
        r = subprocess.run([os.path.join(harness.BIN, "hailong"), "archive", "backup", "--db", src, dst],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and r.stderr.startswith(f"hailong archive backup: {dst}: ") and "full" in r.stderr
              and src not in r.stderr, f"a full backup disk named as such: {r.returncode} {r.stderr!r}")
        check(os.listdir(mnt) == [], f"no partial copy left: {os.listdir(mnt)}")
        shutil.rmtree(os.path.dirname(src), ignore_errors=True)
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)
    print(f"ok: disk full: {N} surveys kept in Redis, logged once, all written once there is room, chain intact")


if __name__ == "__main__":
    main()
