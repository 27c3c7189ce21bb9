#!/usr/bin/env python3
"""The satisfaction report checked as an inspector would, with a recount of
its own written from SPEC §7/§10 straight over the archive's tables (surveys,
answers, campaign_questions), sharing nothing with gateway/report*.c:
- real SMS surveys through hailongd and the simulator, with a fixed-offset
  zone chosen so that local midnight falls while they are triggered (two
  local days), repeat citizens, opt-outs, expiries, several answers at once,
  comments, Vietnamese agency and procedure names;
- real USSD surveys (pushed screens, ignored pushes, released sessions);
- a hand-made archive: a month boundary and a Sunday/Monday boundary in
  Vietnam time (+07:00), every status, a question answered by nobody (its
  group empty: null, never NaN), a survey without a citizen hash, multi
  answers of several options, an empty comment.
Every figure (counts per value, share satisfied per question, group and
overall, pooled and mean of groups, mean score, Wilson 95 %, response rate by
survey and by citizen, the <30 flag) of the total and of every slice by
agency, procedure, channel, day, week and month is compared; /v1/report must
equal `hailong report --format json`, and the CSV cells (4 decimals) the
recount."""
import collections
import csv
import datetime
import io
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HAILONG = os.path.join(harness.BIN, "hailong")
SIM = os.path.join(harness.BIN, "hailong-sim")
Z = 1.959963984540054
STATUSES = ("completed", "expired", "abandoned", "opted_out", "failed", "suppressed", "cancelled")
failures = []
compared = [0]

CAMPAIGN = """id: ins
name: Kiểm tra độc lập — sự hài lòng
channel: sms
expire_after: 10s
reminder_after: 0
scales:
  likert5:
    satisfied: [5, 4]
    options:
      - {value: 5, label: Rất hài lòng, keys: ["1"]}
      - {value: 4, label: Hài lòng, keys: ["2"]}
      - {value: 3, label: Bình thường, keys: ["3"]}
      - {value: 2, label: Không hài lòng, keys: ["4"]}
      - {value: 1, label: Rất không hài lòng, keys: ["5"]}
  three:
    satisfied: [3]
    options:
      - {value: 3, label: Hài lòng, keys: ["1"]}
      - {value: 2, label: Bình thường, keys: ["2"]}
      - {value: 1, label: Không hài lòng, keys: ["3"]}
questions:
  - {id: a1, group: "Tiếp cận dịch vụ hành chính công", type: scale, scale: likert5, text: "Câu {n}/{total}: tiếp cận?"}
  - {id: a2, group: "Tiếp cận dịch vụ hành chính công", type: scale, scale: likert5, text: "Câu {n}/{total}: niêm yết?"}
  - {id: p1, group: "Thủ tục hành chính", type: scale, scale: three, text: "Câu {n}/{total}: thời hạn?"}
  - {id: o1, group: "Công chức trực tiếp giải quyết công việc", type: scale, scale: likert5, text: "Câu {n}/{total}: công chức?"}
  - {id: nob, group: "Tiếp nhận, giải quyết góp ý, phản ánh, kiến nghị", type: scale, scale: likert5, text: "Câu {n}/{total}: góp ý?"}
  - id: ch
    type: choice
    text: "Câu {n}: kênh?"
    options:
      - {value: 1, label: "Trực tiếp", keys: ["1"]}
      - {value: 2, label: "Bưu chính", keys: ["2"]}
      - {value: 3, label: "Trực tuyến", keys: ["3"]}
  - {id: yn, type: yesno, text: "Câu {n}: đúng hẹn?"}
  - id: mu
    type: multi
    text: "Câu {n}: cần cải thiện?"
    options:
      - {value: 1, label: "Thời gian", keys: ["1"]}
      - {value: 2, label: "Thái độ", keys: ["2"]}
      - {value: 3, label: "Cơ sở vật chất", keys: ["3"]}
  - {id: comment, type: text, optional: true, text: "Góp ý?"}
messages: {thanks: "Cảm ơn"}
"""


def check(cond, what):
    if not cond:
        failures.append(what)
        if len(failures) <= 40:  # one broken formula fails thousands of cells
            print("FAIL", what)


# ---- the recount ----

def wilson(x, n):
    if n == 0:
        return (None, None)
    p = x / n
    d = 1 + Z * Z / n
    c = (p + Z * Z / (2 * n)) / d
    h = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / d
    return (100 * (c - h), 100 * (c + h))


def load(db, camp, tz):
    """Questions of the newest recorded version; surveys with their answers and local day."""
    con = sqlite3.connect(db, timeout=10)
    ver = con.execute("SELECT campaign_version FROM campaign_versions WHERE campaign_id = ? ORDER BY rowid DESC"
                      " LIMIT 1", (camp,)).fetchone()[0]
    qs = {}
    for (qid, grp, typ, sat) in con.execute("SELECT question_id, grp, type, satisfied FROM campaign_questions"
                                            " WHERE campaign_id = ? AND campaign_version = ? ORDER BY position",
                                            (camp, ver)):
        qs[qid] = dict(grp=grp, type=typ, sat={int(x) for x in sat.split(",") if x})
    sv = {}
    for (sid, ag, pr, ch, st, h, t) in con.execute("SELECT survey_id, agency, procedure, channel, status,"
                                                   " msisdn_hash, triggered_at FROM surveys WHERE campaign_id = ?",
                                                   (camp,)):
        day = None
        if t:
            day = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc).astimezone(tz).date()
        sv[sid] = dict(agency=ag or "", procedure=pr or "", channel=ch or "", status=st, hash=h, day=day, ans=[])
    for (sid, q, v, text) in con.execute("SELECT a.survey_id, a.question_id, a.value, a.text FROM answers a"
                                         " JOIN surveys s USING (survey_id) WHERE s.campaign_id = ?", (camp,)):
        sv[sid]["ans"].append((q, v, text))
    con.close()
    return qs, list(sv.values())


def keyval(s, dim):
    d = s["day"]
    if dim in ("agency", "procedure", "channel"):
        return s[dim]
    if d is None:
        return ""
    if dim == "day":
        return d.isoformat()
    if dim == "week":
        return (d - datetime.timedelta(days=d.weekday())).isoformat()
    return d.strftime("%Y-%m")


def figures(qs, ss):
    f = {"surveys": len(ss)}
    st = collections.Counter(s["status"] for s in ss)
    f["by_status"] = {k: st.get(k, 0) for k in STATUSES}
    f["completed"] = st.get("completed", 0)
    cit = {s["hash"] for s in ss if s["hash"] is not None}
    done = {s["hash"] for s in ss if s["hash"] is not None and s["status"] == "completed"}
    f["by_survey_pct"] = 100 * f["completed"] / len(ss) if ss else None
    f["citizens"], f["citizens_completed"] = len(cit), len(done)
    f["by_citizen_pct"] = 100 * len(done) / len(cit) if cit else None
    rated = {q for q, d in qs.items() if d["sat"]}
    f["respondents"] = sum(1 for s in ss if any(q in rated and v is not None for (q, v, t) in s["ans"]))
    f["few_responses"] = f["respondents"] < 30
    f["questions"] = {}
    for q, d in qs.items():
        rows = [(v, t) for s in ss for (qq, v, t) in s["ans"] if qq == q]
        e = {"answers": len(rows)}
        cnt = collections.Counter()
        for v, t in rows:
            if d["type"] == "multi":
                for x in set((t or "").split()):
                    cnt[int(x)] += 1
            elif v is not None:
                cnt[v] += 1
        e["counts"] = {str(k): n for k, n in sorted(cnt.items())}
        if d["type"] == "text":
            e["comments"] = sum(1 for v, t in rows if t and t.strip())
        if d["sat"]:
            vals = [v for v, t in rows if v is not None]
            n, x = len(vals), sum(1 for v in vals if v in d["sat"])
            e.update(rated=n, satisfied=x, share_pct=100 * x / n if n else None, mean=sum(vals) / n if n else None,
                     few_responses=n < 30)
            e["ci_low_pct"], e["ci_high_pct"] = wilson(x, n)
        f["questions"][q] = e
    f["groups"] = {}
    for g in dict.fromkeys(d["grp"] for d in qs.values() if d["grp"] and d["sat"]):
        gq = {q for q, d in qs.items() if d["grp"] == g and d["sat"]}
        vals, resp = [], 0
        for s in ss:
            vv = [(q, v) for (q, v, t) in s["ans"] if q in gq and v is not None]
            resp += bool(vv)
            vals += vv
        n, x = len(vals), sum(1 for q, v in vals if v in qs[q]["sat"])
        lo, hi = wilson(x, n)
        f["groups"][g] = dict(respondents=resp, ratings=n, satisfied=x, share_pct=100 * x / n if n else None,
                              ci_low_pct=lo, ci_high_pct=hi, mean=sum(v for q, v in vals) / n if n else None,
                              few_responses=resp < 30)
    vals = [(q, v) for s in ss for (q, v, t) in s["ans"] if q in rated and v is not None]
    n, x = len(vals), sum(1 for q, v in vals if v in qs[q]["sat"])
    lo, hi = wilson(x, n)
    f["pooled"] = dict(ratings=n, satisfied=x, share_pct=100 * x / n if n else None, ci_low_pct=lo, ci_high_pct=hi,
                       mean=sum(v for q, v in vals) / n if n else None)
    shares = [g["share_pct"] for g in f["groups"].values() if g["share_pct"] is not None]
    f["mog"] = dict(groups=len(shares), share_pct=sum(shares) / len(shares) if shares else None)
    return f


def eq(where, name, ours, mine):
    compared[0] += 1
    if isinstance(mine, float) or isinstance(ours, float):
        ok = (ours is None and mine is None) if ours is None or mine is None else \
            abs(ours - mine) <= 1e-6 * max(1, abs(mine))
    else:
        ok = ours == mine
    check(ok, f"{where}: {name}: report {ours!r}, recount {mine!r}")


def compare(where, sl, f):
    for k in ("surveys", "completed", "by_status", "respondents", "few_responses"):
        eq(where, k, sl[k], f[k])
    for k in ("by_survey_pct", "by_citizen_pct", "citizens", "citizens_completed"):
        eq(where, "response_rate." + k, sl["response_rate"][k], f[k])
    oq = {q["id"]: q for q in sl["questions"]}
    for q, e in f["questions"].items():
        for k, v in e.items():
            eq(where, f"question {q} {k}", oq.get(q, {}).get(k, "<absent>"), v)
    og = {g["group"]: g for g in sl["groups"]}
    for g, e in f["groups"].items():
        if g not in og:
            check(e["ratings"] == 0, f"{where}: group {g} absent with {e['ratings']} ratings")
            continue
        for k, v in e.items():
            eq(where, f"group {g} {k}", og[g][k], v)
    for k, v in f["pooled"].items():
        eq(where, "pooled " + k, sl["overall"]["pooled"][k], v)
    for k, v in f["mog"].items():
        eq(where, "mean_of_groups " + k, sl["overall"]["mean_of_groups"][k], v)


def compare_doc(what, doc, qs, ss, by, keep=lambda s: True):
    ss = [s for s in ss if keep(s)]
    compare(f"{what} total", doc["total"], figures(qs, ss))
    if not by:
        return
    groups = collections.defaultdict(list)
    for s in ss:
        groups[tuple(keyval(s, d) for d in by)].append(s)
    got = {tuple(sl["key"][d] for d in by): sl for sl in doc["slices"]}
    for k, x in groups.items():
        if k not in got:
            check(False, f"{what}: no slice {k}")
            continue
        compare(f"{what} {dict(zip(by, k))}", got[k], figures(qs, x))
    for k, sl in got.items():
        check(k in groups or sl["surveys"] == 0, f"{what}: slice {k} has {sl['surveys']} surveys, none recounted")


def cli(db, camp, by=(), *extra, fmt="json"):
    r = subprocess.run([HAILONG, "report", "--db", db, "--campaign", camp, "--format", fmt, *extra]
                       + (["--by", ",".join(by)] if by else []), capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"hailong report: {r.stderr.decode()}")
    return json.loads(r.stdout) if fmt == "json" else r.stdout


def p4(x):
    return "" if x is None else f"{x:.4f}"


def compare_csv(what, db, camp, qs, ss, by):
    """The CSV's cells, 4 decimals, against the recount."""
    out = cli(db, camp, by, fmt="csv")
    check(out.startswith(b"\xef\xbb\xbf"), f"{what}: CSV without its byte order mark")
    rows = list(csv.reader(io.StringIO(out[3:].decode("utf-8"))))
    idx = {}
    for r in rows[1:]:
        r = dict(zip(rows[0], r))
        idx[(r["slice"], r["section"], r["group"] if r["section"] == "group" else r["id"], r["value"])] = r
    parts = [("total", ss)]
    if by:
        groups = collections.defaultdict(list)
        for s in ss:
            groups[tuple(keyval(s, d) for d in by)].append(s)
        parts += [(";".join(f"{d}={v if v else '(none)'}" for d, v in zip(by, k)), x) for k, x in groups.items()]
    for label, x in parts:
        f = figures(qs, x)
        cells = [("surveys", "", "", "n", str(f["surveys"])), ("surveys", "", "", "respondents", str(f["respondents"])),
                 ("response_rate", "by_survey", "", "share_pct", p4(f["by_survey_pct"])),
                 ("response_rate", "by_citizen", "", "share_pct", p4(f["by_citizen_pct"]))]
        cells += [("status", k, "", "n", str(n)) for k, n in f["by_status"].items()]
        for q, e in f["questions"].items():
            cells.append(("question", q, "", "n", str(e["answers"])))
            if "rated" in e:
                cells += [("question", q, "", k, p4(e[k])) for k in ("share_pct", "ci_low_pct", "ci_high_pct", "mean")]
                cells += [("question", q, "", "satisfied", str(e["satisfied"])),
                          ("question", q, "", "flag", "fewer_than_30" if e["few_responses"] else "")]
            cells += [("value", q, v, "n", str(n)) for v, n in e["counts"].items()]
        for g, e in f["groups"].items():
            cells += [("group", g, "", "n", str(e["ratings"])), ("group", g, "", "respondents", str(e["respondents"])),
                      ("group", g, "", "flag", "fewer_than_30" if e["few_responses"] else "")]
            cells += [("group", g, "", k, p4(e[k])) for k in ("share_pct", "ci_low_pct", "ci_high_pct", "mean")]
        cells += [("overall", "pooled", "", "n", str(f["pooled"]["ratings"]))]
        cells += [("overall", "pooled", "", k, p4(f["pooled"][k])) for k in ("share_pct", "ci_low_pct", "ci_high_pct", "mean")]
        cells += [("overall", "mean_of_groups", "", "share_pct", p4(f["mog"]["share_pct"]))]
        for (sec, ident, val, col, want) in cells:
            r = idx.get((label, sec, ident, val))
            compared[0] += 1
            check(r is not None and r[col] == want,
                  f"{what} CSV {label} {sec} {ident} {val} {col}: {None if r is None else r[col]!r}, recount {want!r}")


def compare_api(st, what, camp, tz, by=(), query="", keep=lambda s: True):
    code, body = st.http("GET", f"/v1/report?campaign={camp}" + ("&by=" + urllib.parse.quote(",".join(by)) if by else "")
                         + query)
    check(code == 200, f"{what}: /v1/report {code} {body[:200]}")
    if code != 200:
        return
    api = json.loads(body)
    extra = []
    for part in filter(None, query.split("&")):
        k, v = part.split("=", 1)
        extra += ["--" + k, urllib.parse.unquote(v)]
    doc = cli(st.db, camp, by, *extra)
    check(api == doc, f"{what}: /v1/report differs from hailong report in {[k for k in api if api[k] != doc.get(k)]}")
    qs, ss = load(st.db, camp, tz)
    compare_doc(what, api, qs, ss, by, keep)


# ---- 1. real SMS surveys across a local midnight ----

def sms_run(d):
    camps = os.path.join(d, "campaigns")
    os.makedirs(camps)
    with open(os.path.join(camps, "default.yaml"), "w", encoding="utf-8") as f:
        f.write(CAMPAIGN)  # the simulator answers the file named default.yaml
    ag = ["ca-vinhphuc", "Công an Hà Nội", "so-tuphap"]
    pr = ["cap-ho-chieu", "dang-ky-xe", "cấp hộ chiếu"]
    with harness.Stack(campaigns=camps) as st:
        # a fixed offset whose local midnight is the next minute boundary at least 15 s away
        now = time.time()
        target = (int(now) // 60 + 1) * 60
        if target - now < 15:
            target += 60
        off = (-(target // 60)) % 1440
        if off > 14 * 60:
            off -= 1440
        zone = "%s%02d:%02d" % ("+" if off >= 0 else "-", abs(off) // 60, abs(off) % 60)
        tz = datetime.timezone(datetime.timedelta(minutes=off))
        st.start_redis()
        st.start_sim(90, seed=7, think="20-300", extra=["--no-reply-share", "0.15", "--optout-share", "0.1",
                                                         "--multi-share", "0.05", "--comment-share", "0.4"])
        st.start_gateway(st.write_config(timezone=zone))
        accepted = 0

        def batch(lo, hi, tag):
            nonlocal accepted
            for i in range(lo, hi):
                code, body = st.trigger(harness.citizen(i), f"{tag}-{i}", campaign="ins", agency=ag[i % 3],
                                        procedure=pr[(i // 3) % 3])
                check(code == 202, f"trigger {tag}-{i}: {code} {body}")
                accepted += code == 202
        batch(1, 50, "B1")
        while time.time() < target + 1:
            time.sleep(0.2)
        batch(40, 91, "B2")  # 40..49 a second time

        def archived():
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("SELECT COUNT(*) FROM surveys WHERE campaign_id = 'ins'").fetchone()[0]
            except sqlite3.Error:
                return 0
        harness.wait_for(lambda: archived() >= accepted, 90, "every survey archived", step=0.3)
        qs, ss = load(st.db, "ins", tz)
        days = {s["day"] for s in ss}
        statuses = {s["status"] for s in ss}
        check(len(days) == 2, f"SMS surveys on {len(days)} local days of {zone}, not 2 (midnight crossed)")
        check({"completed", "expired", "opted_out"} <= statuses, f"SMS statuses {statuses}")
        check(any(s["status"] == "opted_out" and s["ans"] for s in ss), "an opt-out after some answers")
        for by in ((), ("agency",), ("day",), ("week",), ("procedure", "day"), ("channel",)):
            compare_api(st, f"SMS ({zone}) by={by}", "ins", tz, by)
        compare_api(st, "SMS completed of Công an Hà Nội", "ins", tz, (),
                    "&status=completed&agency=" + urllib.parse.quote("Công an Hà Nội"),
                    lambda s: s["status"] == "completed" and s["agency"] == "Công an Hà Nội")
        compare_csv("SMS", st.db, "ins", qs, ss, ("agency",))
        print(f"SMS: {len(ss)} surveys, zone {zone}, statuses {sorted(statuses)}", flush=True)


# ---- 2. real USSD surveys ----

def ussd_run():
    n, code_ = 30, "*8088#"
    with harness.Stack() as st:
        ussd = harness.ussd_campaigns(st, [("invite_after: 10m", "invite_after: 6s"),
                                           ("expire_after: 24h", "expire_after: 12s")])
        st.start_redis()
        st.start_sim(n, seed=9, think="20-150", extra=("--campaign", ussd, "--ussd", code_, "--ussd-ops",
                                                       "1,0x12,0x11,2", "--ussd-ignore-share", "0.3",
                                                       "--ussd-release-share", "0.2", "--no-reply-share", "0.1"))
        extra = ("    ussd:\n      service_code: \"%s\"\n"
                 "      ops: {pssr_indication: 1, pssr_response: 0x12, ussr_request: 0x11, ussr_confirm: 2}\n"
                 "      session_timeout: 5s\n" % code_)
        st.start_gateway(st.write_config(extra_smsc=extra))
        for i in range(1, n + 1):
            c, body = st.trigger(harness.local_citizen(i), "U-%d" % i, campaign="ussd-default",
                                 agency=["ca-vinhphuc", "Công an Hà Nội"][i % 2], procedure=["p1", "p2", "p3"][i % 3])
            check(c == 202, f"trigger U-{i}: {c} {body}")

        def archived():
            try:
                with sqlite3.connect(st.db, timeout=5) as c:
                    return c.execute("SELECT COUNT(*) FROM surveys WHERE campaign_id = 'ussd-default'").fetchone()[0]
            except sqlite3.Error:
                return 0
        harness.wait_for(lambda: archived() >= n, 90, "every USSD survey archived", step=0.3)
        tz = datetime.timezone(datetime.timedelta(hours=7))
        for by in ((), ("agency",), ("procedure", "channel")):
            compare_api(st, f"USSD by={by}", "ussd-default", tz, by)


# ---- 3. a hand-made archive: boundaries in Vietnam time, every status ----

def hand_archive(d):
    camp = os.path.join(d, "ins.yaml")
    with open(camp, "w", encoding="utf-8") as f:
        f.write(CAMPAIGN)
    db = os.path.join(d, "hand.db")
    r = subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", camp, "--surveys", "1500", "--seed", "5",
                        "--batch", "500"], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    con = sqlite3.connect(db)
    ver = con.execute("SELECT campaign_version FROM campaign_versions").fetchone()[0]
    con.execute("DELETE FROM answers WHERE question_id = 'nob'")  # answered by nobody
    rows = con.execute("SELECT survey_id, msisdn_hash FROM surveys ORDER BY survey_id").fetchall()
    for i, (sid, _) in enumerate(rows):
        if i % 3 == 0:
            con.execute("UPDATE surveys SET channel = 'ussd' WHERE survey_id = ?", (sid,))
        if i % 7 == 0:  # repeat citizens
            con.execute("UPDATE surveys SET msisdn_hash = ? WHERE survey_id = ?", (rows[(i * 13) % 40][1], sid))
        if i % 11 == 0:
            con.execute("UPDATE surveys SET agency = 'Sở Tư pháp, \"HN\"' WHERE survey_id = ?", (sid,))
        if i % 5 == 0:
            con.execute("UPDATE answers SET value = NULL, text = ? WHERE survey_id = ? AND question_id = 'mu'",
                        (["1 3", "1 2 3", "2 3"][i % 3], sid))

    def put(sid, st, h, t, ans, ch="sms", ag="ca-biên", pr="cấp hộ chiếu"):
        con.execute("INSERT INTO surveys(survey_id, campaign_id, campaign_version, transaction_id, agency, procedure,"
                    " msisdn_hash, channel, status, triggered_at, finished_at) VALUES (?, 'ins', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sid, ver, sid, ag, pr, h, ch, st, t, t))
        for (q, v, text) in ans:
            con.execute("INSERT INTO answers(survey_id, question_id, value, text, answered_at, campaign_id)"
                        " VALUES (?, ?, ?, ?, ?, 'ins')", (sid, q, v, text, t))
    full = lambda a: [("a1", a, None), ("a2", 4, None), ("p1", 3, None), ("o1", 2, None), ("ch", 2, None),  # noqa: E731
                      ("yn", 1, None), ("mu", None, "1 2")]
    put("h-m1", "completed", "cit-A", "2026-09-30T16:59:59Z", full(5), "ussd")  # Sep 30 23:59:59 in Hanoi
    put("h-m2", "completed", "cit-A", "2026-09-30T17:00:00Z", full(1), "ussd")  # Oct 1 00:00:00
    put("h-w1", "expired", "cit-B", "2026-11-22T16:59:59Z", [("a1", 5, None)])  # Sunday 23:59:59
    put("h-w2", "abandoned", "cit-B", "2026-11-22T17:00:00Z", [("a1", 3, None), ("comment", None, "")])  # Monday
    put("h-w3", "completed", "cit-B", "2026-11-22T23:30:00Z", full(4) + [("comment", None, "Cán bộ tận tình")])
    put("h-f", "failed", "cit-C", "2026-11-23T01:00:00Z", [])
    put("h-s", "suppressed", "cit-C", "2026-11-23T02:00:00Z", [])
    put("h-c", "cancelled", None, "2026-11-23T03:00:00Z", [], "ussd")
    put("h-o", "opted_out", "cit-D", "2026-11-23T04:00:00Z", [("a1", 4, None)])
    put("h-n", "completed", "cit-E", "2026-10-15T04:00:00Z", [("ch", 3, None)], None, None, None)
    # the rollups counted again from these rows when the archive is next opened (as for schema 2)
    for (typ, name) in con.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') AND name"
                                   " LIKE 'rollup%' AND name <> 'rollup_meta' ORDER BY type DESC").fetchall():
        con.execute(f"DROP {typ.upper()} {name}")
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()
    tz = datetime.timezone(datetime.timedelta(hours=7))
    qs, ss = load(db, "ins", tz)
    D = datetime.date
    for by in ((), ("agency",), ("procedure",), ("channel",), ("day",), ("week",), ("month",), ("agency", "month"),
               ("channel", "week")):
        compare_doc(f"hand by={by}", cli(db, "ins", by), qs, ss, by)
    week = {sl["key"]["week"]: sl for sl in cli(db, "ins", ("week",), "--agency", "ca-biên")["slices"]}
    check(week.get("2026-11-16", {}).get("surveys") == 1 and week.get("2026-11-23", {}).get("surveys") == 6,
          "Sunday 23:59:59 and Monday 00:00 in Hanoi in their weeks")
    for (extra, keep, by) in [
            (("--status", "opted_out"), lambda s: s["status"] == "opted_out", ()),
            (("--from", "2026-09-30", "--to", "2026-09-30"), lambda s: s["day"] == D(2026, 9, 30), ("day",)),
            (("--agency", "ca-biên"), lambda s: s["agency"] == "ca-biên", ("week",))]:
        compare_doc(f"hand {extra}", cli(db, "ins", by, *extra), qs, ss, by, keep)
    utc = datetime.timezone.utc
    qs_u, ss_u = load(db, "ins", utc)
    compare_doc("hand in UTC", cli(db, "ins", ("day",), "--timezone", "UTC"), qs_u, ss_u, ("day",))
    compare_csv("hand", db, "ins", qs, ss, ("agency",))
    compare_csv("hand", db, "ins", qs, ss, ("channel", "week"))
    doc = cli(db, "ins")
    nob = [q for q in doc["total"]["questions"] if q["id"] == "nob"][0]
    check(nob["rated"] == 0 and nob["share_pct"] is None and nob["few_responses"], f"the question nobody answered: {nob}")
    html = cli(db, "ins", ("agency",), fmt="html").decode("utf-8")
    check("NaN" not in html and "Sở Tư pháp, &quot;HN&quot;" in html, "HTML: no NaN, Vietnamese names escaped")


def main():
    d = tempfile.mkdtemp(prefix="hl-inspect-")
    try:
        hand_archive(d)
        sms_run(d)
        ussd_run()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print(f"{compared[0]} figures compared with the recount")
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
