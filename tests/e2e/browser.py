"""Headless Chromium for the e2e tests: the DOM a page turns into, a PNG
screenshot, and the checks of what a person sees on a report page."""
import html.parser
import os
import shutil
import subprocess
import tempfile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", "--mute-audio"]


def _run(args, timeout=90):
    profile = tempfile.mkdtemp(prefix="hl-chromium-")
    try:
        r = subprocess.run([CHROMIUM, *FLAGS, "--user-data-dir=" + profile, *args], capture_output=True,
                           timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if r.returncode != 0:
        raise RuntimeError("chromium: exit %d: %s" % (r.returncode, r.stderr.decode()[-2000:]))
    return r.stdout.decode("utf-8")


def dump_dom(url):
    return _run(["--dump-dom", url])


def screenshot(url, png, width=1000, height=2600):
    os.makedirs(os.path.dirname(png), exist_ok=True)
    _run(["--window-size=%d,%d" % (width, height), "--screenshot=" + png, url])
    with open(png, "rb") as f:
        head = f.read(8)
    return head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 10000


class Page(html.parser.HTMLParser):
    """What the DOM holds: bars per chart, the text of marked cells, all text."""

    def __init__(self, dom):
        super().__init__(convert_charrefs=True)
        self.charts = []          # (class, attrs, [bar attrs])
        self.cells = {}           # ("data-k"|"data-q"|"data-unit", value) -> text
        self.text = []
        self.external = []        # src/href pointing outside the page
        self._cell = None
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if k in a and not a[k].startswith("#"):
                self.external.append(a[k])
        if tag == "link" or (tag == "script" and "src" in a):
            self.external.append(tag)
        if tag == "svg":
            self.charts.append((a.get("class", ""), a, []))
        if tag == "rect" and "bar" in a.get("class", "").split() and self.charts:
            self.charts[-1][2].append(a)
        for k in ("data-k", "data-q", "data-unit"):
            if k in a and tag == "td":
                self._cell = (k, a[k])
                self.cells[self._cell] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell:
            self.cells[self._cell] += data

    def chart(self, cls):
        return [c for c in self.charts if cls in c[0].split()]

    def all_text(self):
        return "".join(self.text)


def fmt_pct(v):
    return "–" if v is None else "%.2f%%" % v


def check_report_page(page, doc, check, where):
    """The charts have the right number of bars, the numbers equal the JSON's,
    the Vietnamese wording is intact, and nothing is fetched from outside."""
    check(not page.external, f"{where}: external references {page.external[:5]}")
    total = doc["total"]
    defs = {q["id"]: q for q in doc["questions"]}
    rated = [q for q in total["questions"] if defs[q["id"]]["rated"]]
    qchart = page.chart("chart-questions")
    check(len(qchart) == 1, f"{where}: one question chart")
    if qchart:
        with_data = [q for q in rated if q["share_pct"] is not None]
        bars = qchart[0][2]
        check(len(bars) == len(with_data), f"{where}: question bars {len(bars)} vs {len(with_data)}")
        for b, q in zip(bars, with_data):
            check(abs(float(b["data-value"]) - q["share_pct"]) < 0.006, f"{where}: bar of {q['id']}")
    for q in rated:
        got = page.cells.get(("data-q", q["id"]))
        check(got == fmt_pct(q["share_pct"]), f"{where}: share of {q['id']}: page {got!r}, JSON {q['share_pct']}")
    units = doc["ranking"]["units"]
    rchart = page.chart("chart-ranking")
    check(len(rchart) == 1 and len(rchart[0][2]) == len([u for u in units if u["share_pct"] is not None]),
          f"{where}: ranking bars")
    for u in units:
        check(page.cells.get(("data-unit", u["unit"])) == fmt_pct(u["share_pct"]), f"{where}: unit {u['unit']}")
    periods = doc["trend"]["periods"]
    tchart = page.chart("chart-trend")
    n = len([p for p in periods if p["overall"]["pooled"]["share_pct"] is not None])
    check(len(tchart) == 1 and len(tchart[0][2]) == n, f"{where}: trend bars {tchart and len(tchart[0][2])} vs {n}")
    counts = page.chart("chart-counts")
    with_opts = [q for q in doc["questions"] if q["options"]]
    check(len(counts) == len(with_opts), f"{where}: {len(counts)} answer-value charts vs {len(with_opts)}")
    for c in counts:
        q = defs[c[1]["data-q"]]
        tq = [x for x in total["questions"] if x["id"] == q["id"]][0]
        vals = [int(b["data-value"]) for b in c[2]]
        exp = [tq["counts"].get(str(o["value"]), 0) for o in q["options"]]
        check(vals == exp, f"{where}: counts of {q['id']}: page {vals}, JSON {exp}")
    pooled = total["overall"]["pooled"]
    got = page.cells.get(("data-k", "pooled_share_pct"), "")
    check(got.startswith(fmt_pct(pooled["share_pct"]) + " (%d/%d)" % (pooled["satisfied"], pooled["ratings"])),
          f"{where}: pooled {got!r}")
    got = page.cells.get(("data-k", "by_survey_pct"), "")
    check(got.startswith(fmt_pct(total["response_rate"]["by_survey_pct"])), f"{where}: response rate {got!r}")
    check(page.cells.get(("data-k", "surveys")) == str(total["surveys"]), f"{where}: surveys")
    text = page.all_text()
    for q in doc["questions"]:
        check(q["text"] in text, f"{where}: wording of {q['id']} not intact in the page")
        if q["group"]:
            check(q["group"] in text, f"{where}: group {q['group']} not intact")
