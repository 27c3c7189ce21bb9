#!/usr/bin/env python3
"""`hailong report`: every figure of every slice checked against a recount
done here, in SQL over the archive's own rows (surveys, answers,
campaign_questions), never its rollups; the rollups themselves checked
against a full recount after random inserts, replays and a writer killed
between batches; periods in the configured time zone (--timezone, or the
zone the archive was written in; a writer in another zone counts the
rollups again, exactly); bad input (unknown --by, bad date, unknown campaign) gives
one error line and exit status 2; `hailong comments` masks numbers."""
import datetime
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zoneinfo

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("HAILONG_BIN", "build/bin"))
HAILONG = os.path.join(BIN, "hailong")
SIM = os.path.join(BIN, "hailong-sim")
Z = 1.959963984540054

def zone_of(name):
    """A tzinfo for an IANA name or a fixed offset such as +05:30."""
    if name[0] in "+-":
        sign = -1 if name[0] == "-" else 1
        h, m = (name[1:].split(":") + ["0"])[:2]
        return datetime.timezone(sign * datetime.timedelta(hours=int(h), minutes=int(m)))
    return datetime.timezone.utc if name == "UTC" else zoneinfo.ZoneInfo(name)


ZONE = zone_of("Asia/Ho_Chi_Minh")  # the zone the recount counts local days in


def set_zone(name):
    global ZONE
    ZONE = zone_of(name)


def archive_zone(db):
    con = sqlite3.connect(db)
    row = con.execute("SELECT value FROM rollup_meta WHERE key = 'timezone'").fetchone()
    con.close()
    return row[0] if row else "Asia/Ho_Chi_Minh"

GA = "Tiếp cận dịch vụ"
GB = "Công chức giải quyết công việc"
CAMPAIGN = f"""id: ca-fig
name: Kiểm thử số liệu
channel: sms
expire_after: 24h
scales:
  likert5:
    satisfied: [5, 4]
    options:
      - {{value: 5, label: Rất hài lòng, keys: ["1"]}}
      - {{value: 4, label: Hài lòng, keys: ["2"]}}
      - {{value: 3, label: Bình thường, keys: ["3"]}}
      - {{value: 2, label: Không hài lòng, keys: ["4"]}}
      - {{value: 1, label: Rất không hài lòng, keys: ["5"]}}
questions:
  - {{id: access, group: {GA}, type: scale, scale: likert5, text: "Câu {{n}}: tiếp cận dịch vụ?"}}
  - {{id: staff, group: {GB}, type: scale, scale: likert5, text: "Câu {{n}}: thái độ công chức?"}}
  - {{id: guide, group: {GB}, type: scale, scale: likert5, text: "Câu {{n}}: hướng dẫn?"}}
  - id: improve
    type: multi
    text: "Câu {{n}}: cần cải thiện?"
    options:
      - {{value: 1, label: Thời gian, keys: ["1"]}}
      - {{value: 2, label: Thái độ, keys: ["2"]}}
      - {{value: 3, label: Cơ sở vật chất, keys: ["3"]}}
  - {{id: comment, type: text, optional: true, text: "Góp ý?"}}
messages: {{thanks: "Cảm ơn"}}
"""

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def run(*args, ok=(0,)):
    r = subprocess.run([HAILONG, *args], capture_output=True, timeout=120)
    if r.returncode not in ok:
        raise RuntimeError(f"hailong {' '.join(args)}: exit {r.returncode}: {r.stderr.decode()}")
    return r


def report(db, *args):
    return json.loads(run("report", "--db", db, "--campaign", "ca-fig", "--format", "json", *args).stdout)


# ---- the independent recount ----------------------------------------------

def local_day(iso):
    if iso is None:
        return ""
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(ZONE).strftime("%Y-%m-%d")


def label(dim, day, row):
    if dim in ("agency", "procedure", "channel"):
        return row[dim] or ""
    if not day:
        return ""
    d = datetime.date.fromisoformat(day)
    if dim == "day":
        return day
    if dim == "week":
        return (d - datetime.timedelta(days=d.weekday())).isoformat()
    if dim == "month":
        return day[:7]
    if dim == "quarter":
        return f"{d.year:04d}-Q{(d.month + 2) // 3}"
    return day[:4]


def next_period(dim, lab):
    if dim == "day":
        return (datetime.date.fromisoformat(lab) + datetime.timedelta(days=1)).isoformat()
    if dim == "week":
        return (datetime.date.fromisoformat(lab) + datetime.timedelta(days=7)).isoformat()
    if dim == "month":
        y, m = int(lab[:4]), int(lab[5:7])
        return f"{y + (m == 12):04d}-{1 if m == 12 else m + 1:02d}"
    if dim == "quarter":
        y, q = int(lab[:4]), int(lab[6])
        return f"{y + (q == 4):04d}-Q{1 if q == 4 else q + 1}"
    return f"{int(lab) + 1:04d}"


def wilson(x, n):
    if n == 0:
        return None, None
    p = x / n
    den = 1 + Z * Z / n
    mid = (p + Z * Z / (2 * n)) / den
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / den
    return max(0.0, mid - half) * 100, min(1.0, mid + half) * 100


def pct(x, n):
    return x / n * 100 if n else None


def recount(db, by, frm=None, to=None, agency=None, procedure=None, status=None):
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    version = con.execute(
        "SELECT campaign_version FROM campaign_versions WHERE campaign_id = 'ca-fig'"
        " ORDER BY EXISTS(SELECT 1 FROM surveys s WHERE s.campaign_id = 'ca-fig'"
        " AND s.campaign_version = campaign_versions.campaign_version) DESC, rowid DESC LIMIT 1").fetchone()[0]
    qs = [dict(r) for r in con.execute(
        "SELECT question_id, COALESCE(grp, '') AS grp, type, satisfied FROM campaign_questions"
        " WHERE campaign_id = 'ca-fig' AND campaign_version = ? ORDER BY position", (version,))]
    for q in qs:
        q["sat"] = {int(v) for v in q["satisfied"].split(",") if v}
    qtype = {q["question_id"]: q for q in qs}
    surveys = []
    for s in con.execute("SELECT * FROM surveys WHERE campaign_id = 'ca-fig'"):
        s = dict(s)
        s["day"] = local_day(s["triggered_at"])
        if frm and not (s["day"] and s["day"] >= frm):
            continue
        if to and not (s["day"] and s["day"] <= to):
            continue
        if agency and s["agency"] != agency:
            continue
        if procedure and s["procedure"] != procedure:
            continue
        if status and s["status"] != status:
            continue
        surveys.append(s)
    answers = {}
    for a in con.execute("SELECT survey_id, question_id, value, text FROM answers WHERE campaign_id = 'ca-fig'"):
        answers.setdefault(a[0], []).append(a)
    # per-survey facts, by the survey's own version's definitions (one version here)
    def key_of(s, dims):
        return tuple(label(d, s["day"], s) for d in dims)

    def empty():
        return {"surveys": 0, "status": {}, "cit": set(), "cit_done": set(), "rated": 0,
                "q": {}, "grp": {}}

    def add(acc, s):
        acc["surveys"] += 1
        acc["status"][s["status"]] = acc["status"].get(s["status"], 0) + 1
        if s["msisdn_hash"] is not None:
            acc["cit"].add(s["msisdn_hash"])
            if s["status"] == "completed":
                acc["cit_done"].add(s["msisdn_hash"])
        groups = set()
        for (_, qid, value, text) in answers.get(s["survey_id"], []):
            q = acc["q"].setdefault(qid, {"rows": 0, "valued": 0, "sat": 0, "sum": 0, "texts": 0, "counts": {}})
            d = qtype.get(qid)
            q["rows"] += 1
            if value is not None:
                q["valued"] += 1
                q["sum"] += value
                q["counts"][value] = q["counts"].get(value, 0) + 1
                if d and value in d["sat"]:
                    q["sat"] += 1
                if d and d["sat"]:
                    groups.add(d["grp"])
            elif d and d["type"] == "multi":
                for v in (text or "").split():
                    q["counts"][int(v)] = q["counts"].get(int(v), 0) + 1
            elif text:
                q["texts"] += 1
        if groups:
            acc["rated"] += 1
        for g in groups:
            acc["grp"][g] = acc["grp"].get(g, 0) + 1

    def view(dims):
        out = {}
        for s in surveys:
            add(out.setdefault(key_of(s, dims), empty()), s)
        # every combination of the values seen, periods filled in between
        vals = []
        for i, d in enumerate(dims):
            v = {k[i] for k in out}
            if d not in ("agency", "procedure", "channel"):
                if frm:
                    v.add(label(d, frm, {}))
                if to:
                    v.add(label(d, to, {}))
                real = sorted(x for x in v if x)
                if real:
                    x = real[0]
                    while x < real[-1]:
                        x = next_period(d, x)
                        v.add(x)
            vals.append(sorted(v))
        if not dims:
            out.setdefault((), empty())
        elif len(dims) == 1:
            for a in vals[0]:
                out.setdefault((a,), empty())
        else:
            for a in vals[0]:
                for b in vals[1]:
                    out.setdefault((a, b), empty())
        return out

    return qs, view, con


def expect_slice(acc, qs):
    """The figures of one slice, as the report should give them."""
    e = {"surveys": acc["surveys"], "completed": acc["status"].get("completed", 0),
         "respondents": acc["rated"], "few_responses": acc["rated"] < 30,
         "by_survey_pct": pct(acc["status"].get("completed", 0), acc["surveys"]),
         "citizens": len(acc["cit"]), "citizens_completed": len(acc["cit_done"]),
         "by_citizen_pct": pct(len(acc["cit_done"]), len(acc["cit"])), "status": acc["status"],
         "questions": {}, "groups": {}}
    tot_n = tot_x = tot_sum = 0
    group_shares = []
    groups = []
    for q in qs:
        if q["sat"] and q["grp"] not in groups:
            groups.append(q["grp"])
    for q in qs:
        a = acc["q"].get(q["question_id"], {"rows": 0, "valued": 0, "sat": 0, "sum": 0, "texts": 0, "counts": {}})
        eq = {"answers": a["rows"], "counts": {str(k): v for k, v in a["counts"].items()}}
        if q["type"] == "text":
            eq["comments"] = a["texts"]
        if q["sat"]:
            lo, hi = wilson(a["sat"], a["valued"])
            eq.update(rated=a["valued"], satisfied=a["sat"], share_pct=pct(a["sat"], a["valued"]),
                      ci_low_pct=lo, ci_high_pct=hi, few_responses=a["valued"] < 30,
                      mean=a["sum"] / a["valued"] if a["valued"] else None)
            tot_n += a["valued"]
            tot_x += a["sat"]
            tot_sum += a["sum"]
        e["questions"][q["question_id"]] = eq
    for g in groups:
        n = x = sm = 0
        for q in qs:
            if q["sat"] and q["grp"] == g:
                a = acc["q"].get(q["question_id"], {"valued": 0, "sat": 0, "sum": 0})
                n += a["valued"]
                x += a["sat"]
                sm += a["sum"]
        lo, hi = wilson(x, n)
        resp = acc["grp"].get(g, 0)
        e["groups"][g] = {"respondents": resp, "ratings": n, "satisfied": x, "share_pct": pct(x, n),
                          "ci_low_pct": lo, "ci_high_pct": hi, "mean": sm / n if n else None,
                          "few_responses": resp < 30}
        if n:
            group_shares.append(x / n * 100)
    lo, hi = wilson(tot_x, tot_n)
    e["pooled"] = {"ratings": tot_n, "satisfied": tot_x, "share_pct": pct(tot_x, tot_n), "ci_low_pct": lo,
                   "ci_high_pct": hi, "mean": tot_sum / tot_n if tot_n else None}
    e["mean_of_groups"] = {"groups": len(group_shares),
                           "share_pct": sum(group_shares) / len(group_shares) if group_shares else None}
    return e


def same(a, b):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) < 1e-6
    return a == b


def compare(where, got, e):
    n = 0

    def eq(name, g, x):
        nonlocal n
        n += 1
        check(same(g, x), f"{where}: {name}: report {g!r}, recount {x!r}")

    eq("surveys", got["surveys"], e["surveys"])
    eq("completed", got["completed"], e["completed"])
    eq("respondents", got["respondents"], e["respondents"])
    eq("few_responses", got["few_responses"], e["few_responses"])
    for st in ("completed", "expired", "abandoned", "opted_out", "failed", "suppressed"):
        eq("by_status." + st, got["by_status"][st], e["status"].get(st, 0))
    rr = got["response_rate"]
    for k in ("by_survey_pct", "by_citizen_pct", "citizens", "citizens_completed"):
        eq(k, rr[k], e[k])
    for q in got["questions"]:
        x = e["questions"][q["id"]]
        for k in ("answers", "comments", "rated", "satisfied", "share_pct", "ci_low_pct", "ci_high_pct",
                  "few_responses", "mean"):
            if k in x or k in q:
                eq(f"{q['id']}.{k}", q.get(k), x.get(k))
        eq(f"{q['id']}.counts", q["counts"], x["counts"])
    check(len(got["groups"]) == len(e["groups"]), f"{where}: groups {len(got['groups'])} vs {len(e['groups'])}")
    for g in got["groups"]:
        x = e["groups"][g["group"]]
        for k in x:
            eq(f"group {g['group']}.{k}", g[k], x[k])
    p = got["overall"]["pooled"]
    for k in e["pooled"]:
        eq("pooled." + k, p[k], e["pooled"][k])
    m = got["overall"]["mean_of_groups"]
    eq("mean_of_groups.groups", m["groups"], e["mean_of_groups"]["groups"])
    eq("mean_of_groups.share_pct", m["share_pct"], e["mean_of_groups"]["share_pct"])
    return n


def check_report(db, by=(), tz=None, **flt):
    set_zone(tz or archive_zone(db))
    args = ["--timezone", tz] if tz else []
    if by:
        args += ["--by", ",".join(by)]
    for k, v in flt.items():
        if v:
            args += ["--" + k.replace("frm", "from"), v]
    got = report(db, *args)
    check(got["timezone"] == (tz or archive_zone(db)), f"{args}: timezone {got['timezone']}")
    qs, view, con = recount(db, list(by), **flt)
    con.close()
    figures = 0
    total = view([])
    figures += compare(f"{db} {args} total", got["total"], expect_slice(total[()], qs))
    exp = view(list(by)) if by else {}
    if by:
        keys = [tuple(s["key"][d] for d in by) for s in got["slices"]]
        check(sorted(keys) == sorted(exp), f"{args}: slices {sorted(keys)[:8]}... vs {sorted(exp)[:8]}...")
        for s in got["slices"]:
            k = tuple(s["key"][d] for d in by)
            if k in exp:
                figures += compare(f"{args} slice {k}", s, expect_slice(exp[k], qs))
    # ranking: rank = 1 + units whose whole interval lies above; overlaps named
    units = got["ranking"]["units"]
    udim = got["ranking"]["by"]
    uexp = view([udim])
    check(sorted(u["unit"] for u in units) == sorted(k[0] for k in uexp), f"{args}: ranking units")
    for u in units:
        x = expect_slice(uexp[(u["unit"],)], qs)["pooled"]
        figures += 1
        check(same(u["share_pct"], x["share_pct"]), f"{args}: ranking {u['unit']} share")
        if u["ci_low_pct"] is None:
            continue
        above = [w for w in units if w is not u and w["ci_low_pct"] is not None and w["ci_low_pct"] > u["ci_high_pct"]]
        over = [w["unit"] for w in units if w is not u and w["ci_low_pct"] is not None
                and not w["ci_low_pct"] > u["ci_high_pct"] and not w["ci_high_pct"] < u["ci_low_pct"]]
        check(u["rank"] == len(above) + 1, f"{args}: rank of {u['unit']}")
        check(sorted(u["overlaps_with"]) == sorted(over), f"{args}: overlaps of {u['unit']}")
    shares = [u["share_pct"] for u in units if u["share_pct"] is not None]
    check(shares == sorted(shares, reverse=True), f"{args}: ranking order")
    pdim = got["trend"]["by"]
    texp = view([pdim])
    check(sorted(p["key"][pdim] for p in got["trend"]["periods"]) == sorted(k[0] for k in texp),
          f"{args}: trend periods")
    for p in got["trend"]["periods"]:
        figures += compare(f"{args} trend {p['key']}", p, expect_slice(texp[(p["key"][pdim],)], qs))
    return got, figures


# ---- the archives -----------------------------------------------------------

def gen(db, camp, n, seed, first=0, batch=200, tz=None):
    r = subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", camp, "--surveys", str(n),
                        "--seed", str(seed), "--first", str(first), "--batch", str(batch)]
                       + (["--timezone", tz] if tz else []),
                       capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())


HAND = [
    # survey, agency, procedure, channel, status, hash, triggered_at (UTC), answers (qid, value, text)
    # pc08 has one respondent only; ca-x has a survey with no rated answer; citizen h-rep answers twice
    ("hand-1", "pc08", "dang-ky-xe", "sms", "completed", "h-one", "2026-03-31T17:30:00Z",  # local 2026-04-01
     [("access", 5, None), ("staff", 3, None), ("improve", None, "1 3"), ("comment", None, "Gọi 0912 345 678 nhé")]),
    ("hand-2", "ca-x", "cap-ho-chieu", "ussd", "completed", "h-rep", "2026-03-31T16:59:59Z",  # local 2026-03-31
     [("access", 4, None), ("staff", 4, None), ("guide", 1, None), ("comment", None, "")]),
    ("hand-3", "ca-x", "cap-ho-chieu", "sms", "expired", "h-rep", "2026-04-15T01:00:00Z",
     [("access", 2, None)]),  # skipped everything after the first item
    ("hand-4", "ca-x", None, "sms", "opted_out", None, "2026-04-16T01:00:00Z", []),
    ("hand-5", "ca-x", "dang-ky-xe", "sms", "abandoned", "h-five", "2026-06-02T01:00:00Z",
     [("improve", None, "2"), ("comment", None, "CCCD 001099012345, cảm ơn")]),
    ("hand-6", "ca-y", "dang-ky-xe", "sms", "completed", "h-rep", "2026-06-03T01:00:00Z",
     [("access", 5, None), ("staff", 5, None), ("guide", 4, None), ("improve", None, "1 2 3")]),
]


def hand_archive(db, camp):
    """A few surveys written row by row; the rollups are then rebuilt from
    the rows as for an archive of schema 2."""
    gen(db, camp, 1, 7)  # the schema and the campaign's questions
    con = sqlite3.connect(db)
    version = con.execute("SELECT campaign_version FROM campaign_versions").fetchone()[0]
    for (sid, ag, pr, ch, st, h, t, ans) in HAND:
        con.execute("INSERT INTO surveys(survey_id, campaign_id, campaign_version, transaction_id, agency,"
                    " procedure, msisdn_hash, channel, status, triggered_at, finished_at)"
                    " VALUES (?, 'ca-fig', ?, ?, ?, ?, ?, ?, ?, ?, ?)", (sid, version, sid, ag, pr, h, ch, st, t, t))
        for (q, v, text) in ans:
            con.execute("INSERT INTO answers(survey_id, question_id, value, text, answered_at, campaign_id)"
                        " VALUES (?, ?, ?, ?, ?, 'ca-fig')", (sid, q, v, text, t))
    # every rollup table and view but rollup_meta (schema 8: tables keyed by
    # integers behind views with the names and columns of schema 3)
    for (typ, name) in con.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')"
                                   " AND name LIKE 'rollup%' AND name <> 'rollup_meta' ORDER BY type DESC").fetchall():
        con.execute(f"DROP {typ.upper()} {name}")
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()


STATUSES = ["completed", "expired", "abandoned", "opted_out", "failed", "suppressed"]


def fnv64(s):
    h = 1469598103934665603
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h - (1 << 64) if h >= 1 << 63 else h  # as SQLite stores it (signed)


def day_number(day):
    return (datetime.date.fromisoformat(day) - datetime.date(1970, 1, 1)).days if day else -1000000


def rollup_recount(db):
    """The rollups as they should be, from the rows."""
    con = sqlite3.connect(db)
    rc = set()
    for (c, h, ag, pr, ch, st, t) in con.execute("SELECT campaign_id, msisdn_hash, agency, procedure, channel,"
                                                 " status, triggered_at FROM surveys WHERE msisdn_hash IS NOT NULL"):
        rc.add((c, fnv64(h), day_number(local_day(t)), ag or "", pr or "", ch or "", STATUSES.index(st)))
    qt = {}
    for (c, v, q, t, g, sat) in con.execute("SELECT campaign_id, campaign_version, question_id, type,"
                                            " COALESCE(grp, ''), satisfied FROM campaign_questions"):
        qt[(c, v, q)] = (t, g, sat != "")
    rs, ra, rg = {}, {}, {}
    ans = {}
    for (sid, q, v, text) in con.execute("SELECT survey_id, question_id, value, text FROM answers"):
        ans.setdefault(sid, []).append((q, v, text))
    for (sid, c, ver, ag, pr, ch, st, t) in con.execute(
            "SELECT survey_id, campaign_id, campaign_version, agency, procedure, channel, status, triggered_at"
            " FROM surveys"):
        k = (c, local_day(t), ag or "", pr or "", ch or "", st)
        groups = set()
        for (q, v, text) in ans.get(sid, []):
            typ, g, rated = qt.get((c, ver, q), ("?", "", False))
            def inc(kind, value):
                kk = k + (q, kind, value)
                ra[kk] = ra.get(kk, 0) + 1
            if v is not None:
                inc(0, v)
                if rated:
                    groups.add(g)
            else:
                inc(2, 0)
                if typ == "multi":
                    for x in (text or "").split():
                        inc(1, int(x))
                elif text:
                    inc(3, 0)
        s = rs.setdefault(k, [0, 0])
        s[0] += 1
        s[1] += 1 if groups else 0
        for g in groups:
            rg[k + (g,)] = rg.get(k + (g,), 0) + 1
    con.close()
    return {kk: tuple(v) for kk, v in rs.items()}, ra, rg, rc


def rollup_stored(db):
    con = sqlite3.connect(db)
    rs = {tuple(r[:6]): (r[6], r[7]) for r in con.execute("SELECT * FROM rollup_surveys")}
    ra = {tuple(r[:9]): r[9] for r in con.execute("SELECT * FROM rollup_answers")}
    rg = {tuple(r[:7]): r[7] for r in con.execute("SELECT * FROM rollup_groups")}
    rc = set(con.execute("SELECT c.campaign_id, c.cid, (c.k >> 24) - 1000000, u.agency, u.procedure, u.channel,"
                         " c.k & 15 FROM (SELECT * FROM rollup_citizens UNION SELECT * FROM rollup_citizens_recent) c"
                         " JOIN rollup_units u ON u.uid = (c.k >> 4) & 1048575"))
    con.close()
    return rs, ra, rg, rc


def check_rollups(db, what):
    set_zone(archive_zone(db))
    exp, got = rollup_recount(db), rollup_stored(db)
    for name, e, g in zip(("surveys", "answers", "groups"), exp, got):
        check(e == g, f"{what}: rollup_{name} differs from a recount: "
                      f"{sorted(set(e.items()) ^ set(g.items()))[:5]}")
    check(exp[3] == got[3], f"{what}: rollup_citizens differs from a recount: {sorted(exp[3] ^ got[3])[:5]}")


def main():
    d = tempfile.mkdtemp(prefix="hl-fig-")
    camp = os.path.join(d, "ca-fig.yaml")
    with open(camp, "w") as f:
        f.write(CAMPAIGN)
    figures = 0

    # 1. random surveys, written survey by survey through archive_put
    a = os.path.join(d, "gen.db")
    gen(a, camp, 3000, 11)
    check_rollups(a, "after 3000 surveys")
    gen(a, camp, 3000, 11)  # a replay: the same surveys again, nothing changes
    gen(a, camp, 500, 12, first=2800)  # 300 new, 200 already there (same transaction ids)
    n = sqlite3.connect(a).execute("SELECT COUNT(*) FROM surveys").fetchone()[0]
    check(n == 3300, f"surveys after the replays: {n}")
    check_rollups(a, "after replays")
    # a writer killed between (or in) its batches: whatever it committed is counted exactly
    p = subprocess.Popen([SIM, "archive-gen", "--db", a, "--campaign", camp, "--surveys", "200000",
                          "--seed", "13", "--first", "10000", "--batch", "100"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        time.sleep(0.2)
        if sqlite3.connect(a).execute("SELECT COUNT(*) FROM surveys").fetchone()[0] > 3700:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    n2 = sqlite3.connect(a).execute("SELECT COUNT(*) FROM surveys").fetchone()[0]
    check(3300 < n2 < 203300, f"the killed writer committed some batches: {n2}")
    check_rollups(a, "after a writer was killed")

    today = datetime.date.today()
    frm = (today - datetime.timedelta(days=40)).isoformat()
    to = (today - datetime.timedelta(days=10)).isoformat()
    for by, flt in [((), {}), (("agency",), {}), (("agency", "month"), {}), (("procedure", "week"), {}),
                    (("quarter",), {}), (("year", "agency"), {}), (("day",), {"frm": frm, "to": to}),
                    (("agency",), {"status": "completed"}), (("month",), {"agency": "ca-hanoi"}),
                    (("channel", "procedure"), {"procedure": "dang-ky-xe", "frm": frm})]:
        _, n = check_report(a, by, **flt)
        figures += n

    # periods in another zone: a report with --timezone counts in its own
    # TEMP tables and leaves the archive's rollups (Hanoi's days) alone
    for by, tz, flt in [(("day",), "America/New_York", {"frm": frm, "to": to}), (("agency", "week"), "UTC", {}),
                        (("month",), "+05:30", {"status": "completed"})]:
        _, n = check_report(a, by, tz=tz, **flt)
        figures += n
    check(archive_zone(a) == "Asia/Ho_Chi_Minh", f"a report changed the archive's zone: {archive_zone(a)}")
    check_rollups(a, "after reports in other zones")
    # a writer in another zone (hailongd's timezone changed): the rollups are
    # counted again in its zone before its first batch, and stay exact
    gen(a, camp, 300, 21, first=60000, tz="Europe/Paris")
    check(archive_zone(a) == "Europe/Paris", f"zone after a Paris writer: {archive_zone(a)}")
    check_rollups(a, "after a writer in Europe/Paris")
    _, n = check_report(a, ("day",), frm=frm)  # the archive's zone by default
    figures += n
    r = run("report", "--db", a, "--campaign", "ca-fig", "--timezone", "Mars/Olympus", ok=(2,))
    lines = r.stderr.decode().strip().splitlines()
    check(len(lines) == 1 and "Mars/Olympus" in lines[0], f"unknown zone: {lines}")

    # 2. surveys written row by row: one-respondent slices, skipped items,
    # a citizen with several surveys, empty months between, no number, no procedure
    b = os.path.join(d, "hand.db")
    hand_archive(b, camp)
    got, n = check_report(b, ("agency", "month"))
    figures += n
    check_rollups(b, "rebuilt rollups")
    for by, flt in [(("month",), {}), (("agency",), {}), (("procedure", "day"), {"frm": "2026-03-30", "to": "2026-04-02"}),
                    (("channel",), {"status": "completed"}), (("week",), {"frm": "2026-04-01", "to": "2026-06-30"})]:
        g2, n = check_report(b, by, **flt)
        figures += n
    # a few figures known by hand, so the recount is not the only judge
    pc08 = [s for s in got["slices"] if s["key"] == {"agency": "pc08", "month": "2026-04"}][0]
    check(pc08["surveys"] == 1 and pc08["respondents"] == 1 and pc08["few_responses"], "pc08: one respondent")
    check(pc08["overall"]["pooled"]["ratings"] == 2 and pc08["overall"]["pooled"]["satisfied"] == 1, "pc08 pooled 1/2")
    lo, hi = wilson(1, 2)
    check(same(pc08["overall"]["pooled"]["ci_low_pct"], lo), "pc08 wilson")
    empty = [s for s in got["slices"] if s["key"] == {"agency": "pc08", "month": "2026-05"}][0]
    check(empty["surveys"] == 0 and empty["overall"]["pooled"]["share_pct"] is None
          and empty["response_rate"]["by_survey_pct"] is None, "an empty slice has zeros and nulls")
    march = [s for s in got["slices"] if s["key"] == {"agency": "ca-x", "month": "2026-03"}][0]
    check(march["surveys"] == 1, "16:59:59Z is still March 31st in Hanoi")
    # 17:30Z on March 31st is April 1st in Hanoi, still March 31st in UTC
    utc, n = check_report(b, ("agency", "day"), tz="UTC", frm="2026-03-31", to="2026-04-01")
    figures += n
    pc08d = {s["key"]["day"]: s["surveys"] for s in utc["slices"] if s["key"]["agency"] == "pc08"}
    check(pc08d == {"2026-03-31": 1, "2026-04-01": 0}, f"pc08 by UTC day {pc08d}")
    hanoi = report(b, "--by", "agency,day", "--from", "2026-03-31", "--to", "2026-04-01")
    pc08d = {s["key"]["day"]: s["surveys"] for s in hanoi["slices"] if s["key"]["agency"] == "pc08"}
    check(pc08d == {"2026-03-31": 0, "2026-04-01": 1}, f"pc08 by Hanoi day {pc08d}")
    # the hand-written surveys alone (archive-gen's one is in the last 90 days)
    tot = report(b, "--to", "2026-06-30")["total"]
    check(tot["response_rate"]["citizens"] == 3 and tot["response_rate"]["citizens_completed"] == 2, f"distinct citizens: {tot['response_rate']['citizens']}")
    staff = [q for q in tot["questions"] if q["id"] == "staff"][0]
    check(staff["counts"] == {"3": 1, "4": 1, "5": 1}, f"staff counts {staff['counts']}")
    improve = [q for q in tot["questions"] if q["id"] == "improve"][0]
    check(improve["answers"] == 3 and improve["counts"] == {"1": 2, "2": 2, "3": 2}, f"improve {improve}")
    gb = [g for g in tot["groups"] if g["group"] == GB][0]
    check(gb["respondents"] == 3 and gb["ratings"] == 5, f"group GB {gb}")
    qdef = [q for q in got["questions"] if q["id"] == "guide"][0]
    check(qdef["text"] == "Câu 3: hướng dẫn?" and qdef["group"] == GB, f"question wording {qdef['text']}")

    # comments: slice info, numbers masked
    c = json.loads(run("comments", "--db", b, "--campaign", "ca-fig", "--format", "json").stdout)
    texts = sorted(x["text"] for x in c)
    check(texts == ["CCCD 00********45, cảm ơn", "Gọi 09** *** *78 nhé"], f"comments {texts}")
    one = [x for x in c if x["survey_id"] == "hand-1"][0]
    check(one["agency"] == "pc08" and one["date"] == "2026-04-01" and one["question"] == "comment"
          and one["question_text"] == "Góp ý?", f"comment slice {one}")
    c = json.loads(run("comments", "--db", b, "--campaign", "ca-fig", "--format", "json", "--timezone", "UTC",
                       "--to", "2026-03-31").stdout)
    check([x["survey_id"] for x in c] == ["hand-1"] and c[0]["date"] == "2026-03-31", f"comments in UTC {c}")
    csv = run("comments", "--db", b, "--campaign", "ca-fig", "--agency", "ca-x").stdout
    check(csv.startswith(b"\xef\xbb\xbfdate,agency,") and b"CCCD 00********45" in csv and b"pc08" not in csv,
          "comments CSV: BOM, filter, mask")

    # bad input: one clear line, exit status 2
    for args, word in [(["--by", "agency,colour"], "colour"), (["--by", "month,week"], "period"),
                       (["--from", "2026-02-30"], "2026-02-30"), (["--to", "yesterday"], "yesterday"),
                       (["--status", "happy"], "happy"), (["--format", "pdf"], "pdf")]:
        r = run("report", "--db", b, "--campaign", "ca-fig", *args, ok=(2,))
        lines = r.stderr.decode().strip().splitlines()
        check(len(lines) == 1 and word in lines[0] and r.stdout == b"", f"{args}: {lines}")
    r = run("report", "--db", b, "--campaign", "no-such", ok=(2,))
    lines = r.stderr.decode().strip().splitlines()
    check(len(lines) == 1 and "no-such" in lines[0], f"unknown campaign: {lines}")

    print(f"{figures} figures compared with the recount")
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
