#!/usr/bin/env python3
"""Every command answers --help with its usage on stdout and exit status 0, and
an unknown option is named on stderr with exit status 2: hailongd, every
`hailong` command (read from `hailong --help`, so a new one is covered the day
it is added), hailong-sim and each of its modes (read from its usage)."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=20)


def main():
    b = harness.BIN
    top = run([os.path.join(b, "hailong"), "--help"])
    assert top.returncode == 0 and top.stdout.startswith("usage:"), top
    cmds = re.findall(r"^  ([a-z][a-z -]*?) (?:\[|--|[A-Z]|$)", top.stdout, re.M)
    cmds = [c.strip() for c in cmds if c.strip()]
    assert {"report", "campaign check", "trigger", "help"} <= set(cmds), cmds
    sim = run([os.path.join(b, "hailong-sim"), "--help"])
    assert sim.returncode == 0, sim
    modes = re.findall(r"hailong-sim ([a-z][a-z-]+) ", sim.stdout)
    assert {"load", "phone", "archive-gen"} <= set(modes), modes
    progs = [[os.path.join(b, "hailongd")], [os.path.join(b, "hailong-sim")]]
    progs += [[os.path.join(b, "hailong")] + c.split() for c in cmds]
    progs += [[os.path.join(b, "hailong-sim"), m] for m in sorted(set(modes))]
    for p in progs:
        name = " ".join(os.path.basename(x) if i == 0 else x for i, x in enumerate(p))
        for flag in ("--help", "-h"):
            r = run(p + [flag])
            assert r.returncode == 0, f"{name} {flag}: exit {r.returncode} {r.stderr!r}"
            assert "usage" in r.stdout.lower(), f"{name} {flag}: no usage on stdout: {r.stdout!r}"
        if p[-1] == "help":
            continue  # `hailong help WORD` names an unknown command, tested below
        r = run(p + ["--no-such-option"])
        assert r.returncode == 2, f"{name} --no-such-option: exit {r.returncode}"
        assert "--no-such-option" in r.stderr, f"{name}: the unknown option is not named: {r.stderr!r}"
        print(f"ok {name}")
    # a group of commands ("optout", "audit"...): its word with --help lists them; a word that is none of them is named
    groups = sorted({c.split()[0] for c in cmds if " " in c})
    assert {"optout", "audit", "archive", "campaign"} <= set(groups), groups
    for grp in groups:
        r = run([os.path.join(b, "hailong"), grp, "--help"])
        subs = [c for c in cmds if c.startswith(grp + " ")]
        assert r.returncode == 0 and all(("hailong " + c) in r.stdout for c in subs), f"hailong {grp} --help: {r}"
        r = run([os.path.join(b, "hailong"), grp, "no-such-sub"])
        assert r.returncode == 2 and "no-such-sub" in r.stderr and subs[0] in r.stderr, f"hailong {grp} no-such-sub: {r}"
        print(f"ok hailong {grp} (group of {len(subs)})")
    r = run([os.path.join(b, "hailong"), "help", "no-such-command"])
    assert r.returncode == 2 and "no-such-command" in r.stderr, r
    for extra in (["report", "--bogus"], ["campaign", "check", "x"]):
        r = run([os.path.join(b, "hailong"), "help"] + extra)
        assert r.returncode == 2 and extra[-1] in r.stderr, f"hailong help {' '.join(extra)}: {r}"
    r = run([os.path.join(b, "hailong"), "help", "campaign", "check"])
    assert r.returncode == 0 and "campaign check" in r.stdout, r
    print(f"ok: {len(progs)} commands answer --help and name an unknown option")


if __name__ == "__main__":
    main()
