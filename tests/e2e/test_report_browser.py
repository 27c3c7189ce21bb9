#!/usr/bin/env python3
"""`hailong report --format html` in headless Chromium: one self-contained
file whose charts have the right number of bars, whose numbers equal those
of `--format json`, and whose Vietnamese reads as written. A screenshot goes
to build/test-logs/report.png."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("HAILONG_BIN", "build/bin"))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def main():
    if not browser.CHROMIUM:
        print("FAIL chromium is not installed (scripts/deps.sh installs it)")
        sys.exit(1)
    d = tempfile.mkdtemp(prefix="hl-html-")
    db = os.path.join(d, "a.db")
    subprocess.run([os.path.join(BIN, "hailong-sim"), "archive-gen", "--db", db, "--campaign",
                    os.path.join(ROOT, "config", "campaigns", "default.yaml"), "--surveys", "3000",
                    "--seed", "5"], check=True, capture_output=True, timeout=120)
    for args, png in [(["--by", "agency,month"], "report.png"), (["--by", "procedure", "--agency", "ca-hanoi"], None)]:
        base = [os.path.join(BIN, "hailong"), "report", "--db", db, "--campaign", "default", *args]
        doc = json.loads(subprocess.run(base + ["--format", "json"], check=True, capture_output=True).stdout)
        page_path = os.path.join(d, "report.html")
        with open(page_path, "wb") as f:
            f.write(subprocess.run(base + ["--format", "html"], check=True, capture_output=True).stdout)
        with open(page_path, encoding="utf-8") as f:
            src = f.read()
        check('<meta charset="utf-8">' in src, "meta charset")
        check("@page{size:A4" in src, "A4 print CSS")
        for bad in ("http://", "https://", "<script", "<link", "url("):
            check(bad not in src, f"{args}: the page refers to something outside it: {bad}")
        page = browser.Page(browser.dump_dom("file://" + page_path))
        browser.check_report_page(page, doc, check, " ".join(args))
        check("Đo lường sự hài lòng về dịch vụ hành chính công" in page.all_text(), "campaign name in the page")
        if png:
            out = os.path.join(ROOT, "build", "test-logs", png)
            check(browser.screenshot("file://" + page_path, out), "screenshot " + out)
            print("screenshot:", out)
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
