#!/usr/bin/env python3
"""`hailongd --check` (docs/operations.md, Install: run as root right after
`make install`, and the unit's ExecStartPre) writes nothing: without
privacy.hash_key it does not generate the DB.key file (made by root, the
service's user could not read it and hailongd would not start), nor the
archive; a DB.key that is there is read and a bad one named. And an archive
whose folder is read-only stops the start with the reason, not SQLite's bare
"unable to open database file" (with root: a read-only bind mount)."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import check  # noqa: E402


def read_only_folder(d, lines):
    if os.geteuid() != 0:
        print("read-only archive folder not tried: a bind mount needs root")
        return
    src, ro = os.path.join(d, "state"), os.path.join(d, "ro")
    os.makedirs(src)
    os.makedirs(ro)
    subprocess.run([os.path.join(harness.BIN, "hailong-sim"), "archive-gen", "--db", os.path.join(src, "hailong.db"),
                    "--campaign", os.path.join(harness.ROOT, "config", "campaigns", "default.yaml"), "--surveys", "3"],
                   check=True, capture_output=True, timeout=60)
    if subprocess.run(["mount", "--bind", src, ro], capture_output=True).returncode != 0:
        print("read-only archive folder not tried: mount --bind refused")
        return
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True, capture_output=True)
        out = []
        for line in lines:
            s = line.strip()
            if s.startswith("sqlite:"):
                line = line[:line.index("sqlite:")] + "sqlite: " + os.path.join(ro, "hailong.db")
            elif s.startswith("listen:"):
                line = line[:line.index("listen:")] + "listen: 127.0.0.1:%d" % harness.free_port()
            elif s.startswith("# hash_key:"):
                line = line[:line.index("#")] + 'hash_key: "a key for this test only"'
            out.append(line)
        path = os.path.join(d, "ro.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")
        r = subprocess.run([os.path.join(harness.BIN, "hailongd"), "-c", path], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 1 and "hailong.db: unable to open database file (its folder cannot be written:"
              in r.stderr, f"a read-only archive folder: {r.returncode} {r.stderr[-800:]!r}")
    finally:
        subprocess.run(["umount", "-l", ro], capture_output=True)


def main():
    d = tempfile.mkdtemp(prefix="hailong-e2e-check-")
    with open(os.path.join(harness.ROOT, "config", "hailongd.yaml"), encoding="utf-8") as f:
        cfg = f.read()
    lines = []
    for line in cfg.splitlines():
        s = line.strip()
        if s.startswith("sqlite:"):
            line = line[:line.index("sqlite:")] + "sqlite: " + os.path.join(d, "hailong.db")
        elif s.startswith("campaigns:"):
            line = "campaigns: " + os.path.join(harness.ROOT, "config", "campaigns")
        lines.append(line)
    check(not any(l.strip().startswith("hash_key:") for l in lines), "the example sets no privacy.hash_key")
    path = os.path.join(d, "hailongd.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([os.path.join(harness.BIN, "hailongd"), "-c", path, "--check"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and ": ok" in r.stdout + r.stderr, f"--check: {r.returncode} {r.stdout} {r.stderr}")
    check(sorted(os.listdir(d)) == ["hailongd.yaml"], f"--check wrote files: {sorted(os.listdir(d))}")
    with open(os.path.join(d, "hailong.db.key"), "w") as f:
        f.write("not a key\n")
    r = subprocess.run([os.path.join(harness.BIN, "hailongd"), "-c", path, "--check"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 1 and "hailong.db.key" in r.stderr, f"a bad DB.key named: {r.returncode} {r.stderr}")
    read_only_folder(d, lines)
    shutil.rmtree(d, ignore_errors=True)
    print("ok: --check writes nothing; a bad DB.key is named")


if __name__ == "__main__":
    main()
