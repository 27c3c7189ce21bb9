#!/usr/bin/env python3
"""`hailong campaign check`: exit status, file:line errors, and the encodings,
lengths and SMS parts of a small campaign counted by hand (the same campaign
as tests/test_campaign_check.c), in text and JSON."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HAILONG = os.path.join(ROOT, os.environ.get("HAILONG_BIN", "build/bin"), "hailong")

X160 = "x" * 160
Y70 = "y" * 70
TINY = f"""id: tiny
encoding: auto
questions:
  - {{id: q1, type: text, text: "Q{{n}}: {X160}"}}
  - id: q2
    type: yesno
    text: "Câu {{n}}/{{total}}?"
    options:
      - {{value: 1, label: Có, keys: ["1"]}}
      - {{value: 2, label: Không, keys: ["2"]}}
messages:
  intro: "Xin chào"
  invalid: "Sai [1-2]"
  reminder: "Nhac lai"
  help: "Giúp"
  thanks: "Cảm ơn {Y70}"
  stopped: "Da dung"
  expired: "Het han"
"""

BAD = """id: Bad Id
questions:
  - {id: q1, type: scale, scale: nope, text: "Q"}
messages: {thanks: "ok"}
"""

# (kind, item, as written: encoding, length, parts, unaccented: encoding, length, parts)
WANT = [
    ("first", 1, "gsm7", 173, 2, "gsm7", 173, 2),
    ("item", 1, "gsm7", 164, 2, "gsm7", 164, 2),
    ("item", 2, "ucs2", 21, 1, "gsm7", 21, 1),
    ("invalid", 1, "gsm7", 176, 2, "gsm7", 176, 2),
    ("invalid", 2, "ucs2", 31, 1, "gsm7", 33, 1),
    ("reminder", 1, "gsm7", 173, 2, "gsm7", 173, 2),
    ("reminder", 2, "ucs2", 30, 1, "gsm7", 30, 1),
    ("help", 1, "ucs2", 169, 3, "gsm7", 169, 2),
    ("help", 2, "ucs2", 26, 1, "gsm7", 26, 1),
    ("thanks", None, "ucs2", 77, 2, "gsm7", 77, 1),
    ("stopped", None, "gsm7", 7, 1, "gsm7", 7, 1),
    ("expired", None, "gsm7", 7, 1, "gsm7", 7, 1),
]


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def run(*args):
    p = subprocess.run([HAILONG, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def main():
    d = tempfile.mkdtemp(prefix="hailong-cli-")
    try:
        cases(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("ok")


def cases(d):
    tiny = os.path.join(d, "tiny.yaml")
    bad = os.path.join(d, "bad.yaml")
    with open(tiny, "w", encoding="utf-8") as f:
        f.write(TINY)
    with open(bad, "w", encoding="utf-8") as f:
        f.write(BAD)

    # JSON: exact numbers
    rc, out, err = run("campaign", "check", "--format", "json", tiny)
    check(rc == 0, f"tiny: exit {rc}: {err}")
    doc = json.loads(out)
    check(doc["ok"] is True, "ok")
    f = doc["files"][0]
    check(f["file"] == tiny and f["ok"] and f["campaign"] == "tiny" and f["encoding"] == "auto", f)
    check(f["sent"] == "as_written", f["sent"])
    msgs = f["messages"]
    check(len(msgs) == len(WANT), f"{len(msgs)} messages")
    for m, w in zip(msgs, WANT):
        a, u = m["variants"]["as_written"], m["variants"]["unaccented"]
        got = (m["kind"], m["item"], a["encoding"], a["length"], a["parts"],
               u["encoding"], u["length"], u["parts"])
        check(got == w, f"got {got}, want {w}")
    check(msgs[2]["variants"]["as_written"]["text"] == "Câu 2/2?\n1-Có 2-Không", msgs[2])
    check(msgs[2]["variants"]["unaccented"]["text"] == "Cau 2/2?\n1-Co 2-Khong", msgs[2])
    check(msgs[0]["variants"]["as_written"]["text"] == "Xin chào\nQ1: " + X160, msgs[0])
    check(f["cost"] == {"as_written": 5, "unaccented": 4}, f["cost"])
    check(f["warnings"] == ["item 1 (q1) takes 2 SMS parts"], f["warnings"])
    check(f["errors"] == [], f["errors"])

    # text: the same numbers, the warning and the cost line
    rc, out, err = run("campaign", "check", tiny)
    check(rc == 0, f"text: exit {rc}: {err}")
    check("as written (sent)      GSM 03.38   173 septets  2 parts" in out, out)
    check("unaccented             GSM 03.38   169 septets  2 parts" in out, out)
    check("as written (sent)      UCS-2       169 chars    3 parts" in out, out)
    check(f"{tiny}: WARNING: item 1 (q1) takes 2 SMS parts (GSM 03.38, 164 septets)" in out, out)
    check("WARNING: item 2" not in out, out)
    check(f"{tiny}: cost of a completed survey (first message, items 2..2, thanks): "
          "5 SMS parts as written (sent), 4 SMS parts unaccented" in out, out)
    check("      | Cau 2/2?\n      | 1-Co 2-Khong" in out, out)

    # unaccented campaign: sent folded, as written beside it
    un = os.path.join(d, "un.yaml")
    with open(un, "w", encoding="utf-8") as fh:
        fh.write(TINY.replace("encoding: auto", "encoding: unaccented"))
    rc, out, _ = run("campaign", "check", "--format=json", un)
    f = json.loads(out)["files"][0]
    check(rc == 0 and f["sent"] == "unaccented", f["sent"])
    check(f["cost"] == {"unaccented": 4, "as_written": 5}, f["cost"])
    check(f["messages"][9]["variants"]["unaccented"]["text"] == "Cam on " + Y70, f["messages"][9])

    # ucs2: one variant
    u2 = os.path.join(d, "u2.yaml")
    with open(u2, "w", encoding="utf-8") as fh:
        fh.write(TINY.replace("encoding: auto", "encoding: ucs2"))
    rc, out, _ = run("campaign", "check", "--format", "json", u2)
    f = json.loads(out)["files"][0]
    check(list(f["messages"][0]["variants"]) == ["as_written"], f["messages"][0])
    check(f["cost"] == {"as_written": 6}, f["cost"])

    # a bad file: file:line errors on stderr, exit 1, the good file still shown
    rc, out, err = run("campaign", "check", tiny, bad)
    check(rc == 1, f"bad: exit {rc}")
    check(f"{bad}:1: " in err and f"{bad}:3: " in err, err)
    check("unknown scale" in err, err)
    check(f"{tiny}: cost of a completed survey" in out, out)
    rc, out, err = run("campaign", "check", "--format", "json", bad, tiny)
    doc = json.loads(out)
    check(rc == 1 and doc["ok"] is False, out)
    check(doc["files"][0]["ok"] is False and doc["files"][1]["ok"] is True, out)
    check(any(e.startswith(f"{bad}:3: ") for e in doc["files"][0]["errors"]), doc["files"][0])

    # a message too long to send is an error
    long_ = os.path.join(d, "long.yaml")
    with open(long_, "w", encoding="utf-8") as fh:
        fh.write('id: long\nencoding: ucs2\nquestions:\n  - {id: q1, type: text, text: "'
                 + "x" * 1100 + '"}\nmessages: {thanks: "ok"}\n')
    rc, out, _ = run("campaign", "check", long_)
    check(rc == 1 and "ERROR: first: item 1 (q1): too long: more than 16 SMS parts" in out, out)

    # missing file, usage errors
    rc, _, err = run("campaign", "check", os.path.join(d, "nope.yaml"))
    check(rc == 1 and "cannot read" in err, err)
    check(run("campaign", "check")[0] == 2, "no file")
    check(run("campaign", "check", "--format", "xml", tiny)[0] == 2, "bad format")
    check(run("campaign", "check", "--bogus", tiny)[0] == 2, "bad option")
    rc, out, _ = run("help", "campaign", "check")
    check(rc == 0 and "campaign check" in out, out)
    # the shipped campaign passes
    rc, out, err = run("campaign", "check", os.path.join(ROOT, "config", "campaigns", "default.yaml"))
    check(rc == 0, f"default.yaml: exit {rc}: {err}")
    # a USSD campaign: every screen with its length on one screen; JSON says whether it fits
    ussd = os.path.join(ROOT, "config", "examples", "ussd.yaml")
    rc, out, err = run("campaign", "check", ussd)
    check(rc == 0, f"ussd example: exit {rc}: {err}")
    check("channel ussd" in out and "/182 septets on one USSD screen" in out, out[:800])
    rc, out, _ = run("campaign", "check", "--format", "json", ussd)
    j = json.loads(out)
    sent = [m["variants"]["unaccented"] for m in j["files"][0]["messages"] if m["kind"] in ("first", "item")]
    check(sent and all(v["fits_screen"] and v["screen_capacity"] == 182 for v in sent), sent[:2])
    # ... and the same campaign as written (UCS-2, 80 a screen): refused with the lines at fault
    long_ussd = os.path.join(d, "ussd-long.yaml")
    with open(ussd, encoding="utf-8") as f:
        text = f.read().replace("encoding: unaccented", "encoding: auto")
    with open(long_ussd, "w", encoding="utf-8") as f:
        f.write(text)
    rc, out, err = run("campaign", "check", long_ussd)
    check(rc == 1, f"a USSD campaign whose screens do not fit: exit {rc}")
    check(long_ussd + ":26: questions: item 1 'access': its USSD screen alone is" in out + err and
          "a screen holds 80 (UCS-2)" in out + err and "encoding: unaccented" in out + err, out + err)
    # report is still there
    rc, _, err = run("report", "--db", os.path.join(d, "none.db"), "--campaign", "x")
    check(rc == 1 and "cannot open archive" in err, err)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("FAIL:", e, file=sys.stderr)
        sys.exit(1)
