#!/usr/bin/env python3
"""make install into a DESTDIR: the binaries, the example config (0640, never
written over an operator's edited one), the default campaign, the docs, the
system user and the systemd unit, which `systemd-analyze verify` accepts and
whose hardening `systemd-analyze security --offline` rates; the installed
config passes `hailongd --check`. Then the Type=notify protocol of the real
hailongd on a datagram socket of the test's own (as systemd gives it in
$NOTIFY_SOCKET): no READY=1 while Redis is away, READY=1 once it answers,
RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM."""
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


check = harness.check


def install(dest):
    r = subprocess.run(["make", "-s", "--no-print-directory", "install", "DESTDIR=" + dest],
                       cwd=harness.ROOT, capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"make install: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def installed(dest, tmp):
    for b in ("hailongd", "hailong", "hailong-sim"):
        p = os.path.join(dest, "usr/local/bin", b)
        check(os.access(p, os.X_OK), f"{p} not installed executable")
    cfg = os.path.join(dest, "etc/hailong/hailongd.yaml")
    mode = stat.S_IMODE(os.stat(cfg).st_mode)
    check(mode == 0o640, f"config mode {oct(mode)}, want 0640 (it holds passwords and tokens)")
    text = open(cfg).read()
    check("sqlite: /var/lib/hailong/hailong.db" in text and "campaigns: /etc/hailong/campaigns" in text,
          "the installed config does not point at the installed paths")
    check(os.path.exists(os.path.join(dest, "etc/hailong/campaigns/default.yaml")), "default campaign")
    check(os.path.exists(os.path.join(dest, "usr/local/share/doc/hailong/campaigns.md")), "docs")
    users = open(os.path.join(dest, "etc/sysusers.d/hailong.conf")).read()
    check(re.search(r"^u hailong ", users, re.M), "sysusers.d entry for the hailong user")
    unit = os.path.join(dest, "usr/local/lib/systemd/system/hailongd.service")
    u = open(unit).read()
    for want in ("Type=notify", "User=hailong", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 "ReadWritePaths=/var/lib/hailong", "Restart=on-failure",
                 "ExecStart=/usr/local/bin/hailongd -c /etc/hailong/hailongd.yaml",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        check(want in u, f"unit lacks {want!r}")
    # verify with the ExecStart paths pointing into DESTDIR (the host has no /usr/local/bin/hailongd)
    local = os.path.join(tmp, "hailongd.service")
    with open(local, "w") as f:
        f.write(u.replace("/usr/local/bin/", os.path.join(dest, "usr/local/bin") + "/"))
    r = subprocess.run(["systemd-analyze", "verify", local], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and not r.stderr.strip(), f"systemd-analyze verify: {r.returncode} {r.stderr}")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", local],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for hailongd.service: ([0-9.]+)", r.stdout)
    check(m and float(m.group(1)) <= 3.0, f"exposure level {m.group(1) if m else r.stdout[-500:]}, want <= 3.0")
    print(f"ok: installed; unit verified, exposure {m.group(1)}")
    # the installed config, pointed at this DESTDIR, validates
    mine = os.path.join(tmp, "installed.yaml")
    with open(mine, "w") as f:
        f.write(text.replace("/etc/hailong/campaigns", os.path.join(dest, "etc/hailong/campaigns"))
                    .replace("/var/lib/hailong/hailong.db", os.path.join(tmp, "hailong.db")))
    r = subprocess.run([os.path.join(dest, "usr/local/bin/hailongd"), "-c", mine, "--check"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"hailongd --check of the installed config: {r.stdout} {r.stderr}")
    return cfg


def reinstall_keeps(dest, cfg):
    with open(cfg, "a") as f:
        f.write("# edited by the operator\n")
    out = install(dest)
    check(open(cfg).read().endswith("# edited by the operator\n"), "make install wrote over an edited config")
    check("exists, kept" in out, f"make install did not say it kept the config: {out!r}")
    check(os.path.exists(cfg + ".example"), "no hailongd.yaml.example beside the kept config")
    print("ok: a second install keeps the operator's config")


def notify(st):
    path = os.path.join(st.dir, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    got = []

    def drain(until, want, timeout):
        end = time.time() + timeout
        while time.time() < end:
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
            if until():
                return
        raise AssertionError(f"{want}: messages so far {got}")

    env = dict(os.environ, NOTIFY_SOCKET=path)
    config = st.write_config()
    st._spawn("hailongd", [os.path.join(harness.BIN, "hailongd"), "-c", config], env=env)
    drain(lambda: any("waiting for Redis" in m for m in got), "STATUS while Redis is away", 10)
    check(not any("READY=1" in m for m in got), f"READY=1 before Redis answered: {got}")
    st.start_redis()
    drain(lambda: any("READY=1" in m for m in got), "READY=1 once Redis answers", 15)
    n = len(got)
    st.procs["hailongd"].send_signal(signal.SIGHUP)
    drain(lambda: any("RELOADING=1" in m for m in got[n:]) and
          any(m.startswith("READY=1") for m in got[n:]), "RELOADING=1 then READY=1 on SIGHUP", 10)
    n = len(got)
    st.procs["hailongd"].send_signal(signal.SIGTERM)
    drain(lambda: any("STOPPING=1" in m for m in got[n:]), "STOPPING=1 on SIGTERM", 10)
    check(st.procs["hailongd"].wait(timeout=20) == 0, "hailongd exit status")
    st.procs.pop("hailongd")
    sock.close()
    print(f"ok: notify protocol {[m.split(chr(10))[0] for m in got]}")


def main():
    tmp = tempfile.mkdtemp(prefix="hailong-install-")
    try:
        dest = os.path.join(tmp, "dest")
        install(dest)
        cfg = installed(dest, tmp)
        reinstall_keeps(dest, cfg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with harness.Stack() as st:
        notify(st)


if __name__ == "__main__":
    main()
