#!/usr/bin/env python3
"""bench: measures hailong on this machine and prints one JSON object as its last line.

1. saturation: `hailong-sim load --rate 0` (as fast as hailongd takes triggers) with
   citizens who answer at once -> survey steps per second (one step = a citizen's
   answer taken and the next message sent);
   (Redis over its unix socket; the same saturation over TCP follows, for the ratio);
2. latency at half that rate: reply (deliver_sm sent) -> next question (submit_sm
   received), p50/p95/p99/max;
3. Redis memory per active survey: INFO memory before and after N surveys that wait
   for an answer (numbers no citizen answers);
4. archive rows per second: `hailong-sim archive-gen` writes surveys + answers (in the order
   they finish, as hailongd archives them; again with any of 90 days per survey) through
   gateway/archive.c (the gateway's own code path), timed around archive_put;
5. report over one million archived surveys: the same generator into a temporary
   database, then `build/bin/hailong report` (whole campaign, and --by agency,month)
   timed, the median of three runs each;
6. the simulator alone: tests/peer/esme.js (node-smpp) drives the citizens directly;
7. hailongd against Kannel: one neutral load generator (tests/peer/loadgen.js, node-smpp
   playing the SMSC and closed-loop citizens, one-part messages) measures hailongd
   (a 5-question yes/no campaign, window 10) and Kannel (bearerbox + smsbox answering
   every MO with a fixed text, max-pending-submits 10) in the same run: round trips
   MO -> submit_sm per second (`vs_kannel` = hailongd / Kannel), then hailongd at half
   that rate for latency (relay_latency_p50_ms/_p99_ms: the MOs released every 1 ms,
   an even pace; relay_burst_latency_*: the same rate released every 10 ms, each
   tick's MOs at once; relay_loadgen_delay_p99_ms: how late the generator's own
   event loop ran meanwhile, a floor under what it can measure; relay_handed: how
   the next questions reached the session,
   hailong_mt_handed_total), and Redis commands per step (hailongd's own count of the
   commands it sent, and INFO commandstats with the commands run inside scripts)
   and the bytes its append-only file grew by per step (redis_aof_bytes_per_step);
8. USSD: hailong-sim as the USSD centre (--ussd), citizens answering each screen at
   once: answers per second at saturation, then answer -> next screen latency p50/p99
   at half that rate (ussd_latency_p50_ms, ussd_latency_p99_ms);
9. reading bias: tests/e2e/test_reading_bias_e2e.py (citizens who answer as people
   text, `--answer-mode written`): the largest gap, in points, between the share of a
   value in the archive and in the simulator's ledger -> reading_bias_max_pts.

Every loop is bounded in count and time; everything binds to 127.0.0.1.
--short runs a small version of each step (tests/e2e/test_bench_short.py)."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import harness  # noqa: E402

SIM = os.path.join(harness.BIN, "hailong-sim")
CAMPAIGN = os.path.join(harness.ROOT, "config", "campaigns", "default.yaml")
PEER = os.path.join(harness.ROOT, "tests", "peer")


def say(msg):
    print("bench: " + msg, flush=True)


def load(st, citizens, first, count, rate, duration, drain, conns=8, campaign="default"):
    argv = [SIM, "load", "--api", "http://127.0.0.1:%d" % st.http_port, "--token", harness.TOKEN,
            "--control", "127.0.0.1:%d" % st.control_port, "--citizens", str(citizens),
            "--first", str(first), "--count", str(count), "--rate", "%g" % rate,
            "--duration", "%g" % duration, "--drain", "%g" % drain, "--connections", str(conns),
            "--campaign", campaign]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=duration + drain + 60)
    if r.returncode != 0:
        raise RuntimeError("hailong-sim load failed: " + r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def redis_used(st):
    for line in st.redis("INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory in INFO")


def settle(st, what, cond, timeout):
    harness.wait_for(cond, timeout, what, step=0.2)


def tcp_part(a, out):
    """Saturation again with Redis over TCP on 127.0.0.1 instead of the unix
    socket, for the ratio (same run, same machine)."""
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(a.citizens, think="0", extra=["--log-level", "warn"])
        st.start_gateway(config=st.write_config(window=100, tps=100000))
        say(f"saturation over TCP: {a.sat_count} triggers")
        sat = load(st, a.citizens, 1, a.sat_count, 0, a.duration, a.duration * 2)
        say("saturation over TCP: " + json.dumps(sat))
        out["steps_per_s_tcp"] = round(sat["steps_per_s"], 1)
        st.stop_sim()


def gateway_part(a, out):
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(a.citizens, think="0", extra=["--log-level", "warn"])
        # the SMPP bind's TPS limit is set far above what one machine does;
        # Redis on the same host over its unix socket (as docs/config.md advises)
        st.start_gateway(config=st.write_config(window=100, tps=100000, unix=True))

        say(f"saturation: {a.sat_count} triggers as fast as hailongd takes them")
        sat = load(st, a.citizens, 1, a.sat_count, 0, a.duration, a.duration * 2)
        say("saturation: " + json.dumps(sat))
        steps = sat["steps_per_s"]
        out["saturation"] = sat
        out["steps_per_s"] = round(steps, 1)
        # every message accepted gets its delivery state from a receipt
        try:
            def receipts_in(m):
                return m.get('hailong_receipts_total{state="delivered"}', 0) >= m.get("hailong_mt_sent_total", 1)
            settle(st, "the last receipts", lambda: receipts_in(st.metrics()), 10)
        except TimeoutError:
            pass  # the figures below tell
        m = st.metrics()
        out["messages_sent"] = int(m.get("hailong_mt_sent_total", 0))
        out["receipts_recorded"] = int(sum(v for k, v in m.items() if k.startswith("hailong_receipts_total")))

        steps_per_survey = max(1.0, sat["steps"] / max(1, sat["surveys_completed"]))
        rate = max(1.0, steps / 2 / steps_per_survey)
        count = max(10, int(rate * a.half_s))
        say(f"half rate: {rate:.1f} triggers/s ({steps / 2:.0f} steps/s) for {a.half_s}s")
        half = load(st, a.citizens, 1, count, rate, a.half_s + 5, a.duration)
        say("half rate: " + json.dumps(half))
        out["half_rate"] = half
        lat = half["latency_ms"]
        out["latency_p50_ms"] = lat.get("p50")
        out["latency_p95_ms"] = lat.get("p95")
        out["latency_p99_ms"] = lat.get("p99")
        out["latency_max_ms"] = lat.get("max")

        # Redis memory: surveys for numbers no citizen answers stay active
        settle(st, "an idle gateway", lambda: st.redis("LLEN", "hl:queue") == "0"
               and st.redis("LLEN", "hl:archive") == "0", 30)
        time.sleep(1)
        before = redis_used(st)
        n = a.active
        say(f"redis: {n} active surveys")
        load(st, n, a.citizens + 1, n, 0, a.duration, 0)
        settle(st, "the active surveys started", lambda: st.redis("LLEN", "hl:queue") == "0", 60)
        time.sleep(1)
        after = redis_used(st)
        out["redis_active_surveys"] = n
        out["redis_bytes_per_survey"] = round((after - before) / n)
        say(f"redis: used_memory {before} -> {after}: {out['redis_bytes_per_survey']} bytes per survey")
        out["sim_stats"] = st.stop_sim()


def archive_part(a, out):
    tmp = tempfile.mkdtemp(prefix="hailong-bench-")
    try:
        db = os.path.join(tmp, "archive.db")
        say(f"archive: {a.archive_n} surveys through archive_put")
        r = subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", CAMPAIGN, "--surveys",
                            str(a.archive_n)], capture_output=True, text=True, timeout=600, check=True)
        g = json.loads(r.stdout.strip().splitlines()[-1])
        say("archive: " + json.dumps(g))
        out["archive"] = g
        out["archive_rows_per_s"] = g["rows_per_s"]
        os.unlink(db)
        # the worst case too: every survey on any of the 90 days (archive-gen's
        # order before 2026-11-29), so that each batch touches nearly every rollup row
        r = subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", CAMPAIGN, "--surveys",
                            str(a.archive_n), "--order", "random"], capture_output=True, text=True,
                           timeout=600, check=True)
        g = json.loads(r.stdout.strip().splitlines()[-1])
        say("archive, random days: " + json.dumps(g))
        out["archive_rows_per_s_random_days"] = g["rows_per_s"]
        os.unlink(db)

        db = os.path.join(tmp, "report.db")
        say(f"report: generating {a.report_n} archived surveys")
        r = subprocess.run([SIM, "archive-gen", "--db", db, "--campaign", CAMPAIGN, "--surveys",
                            str(a.report_n), "--batch", "5000"], capture_output=True, text=True,
                           timeout=1800, check=True)
        say("report: generated " + r.stdout.strip())
        out["report_surveys"] = a.report_n
        for key, extra in [("", []), ("_by_agency_month", ["--by", "agency,month"])]:
            times = []
            for _ in range(3):  # the median of three runs
                t = time.time()
                r = subprocess.run([os.path.join(harness.BIN, "hailong"), "report", "--db", db, "--campaign",
                                    "default", "--format", "json", *extra], capture_output=True, text=True,
                                   timeout=1800)
                times.append(time.time() - t)
                if r.returncode != 0:
                    raise RuntimeError("hailong report failed: " + r.stderr)
            el = sorted(times)[1]
            out[("report_1m_s" if a.report_n == 1000000 else "report_s") + key] = round(el, 3)
            if a.report_n != 1000000:
                out["report_1m_s" + key] = round(el * 1000000 / a.report_n, 3)  # scaled (short run only)
            say(f"report{' ' + ' '.join(extra) if extra else ''}: {el:.3f}s over {a.report_n} surveys "
                f"(runs: {', '.join('%.3f' % x for x in times)})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sim_part(a, out):
    if not os.path.isdir(os.path.join(PEER, "node_modules", "smpp")) or not shutil.which("node"):
        say("sim alone: skipped (no node or node_modules)")
        return
    with harness.Stack() as st:
        st.start_sim(a.sim_citizens, think="0", extra=["--log-level", "warn", "--receipts", "off"])
        say(f"sim alone: node-smpp ESME, {a.sim_citizens} citizens, {a.sim_s}s")
        r = subprocess.run(["node", os.path.join(PEER, "esme.js"), "bench", str(st.smsc_port),
                            str(st.control_port), str(a.sim_citizens), str(a.sim_s)],
                           capture_output=True, text=True, timeout=a.sim_s + 60)
        if r.returncode != 0:
            raise RuntimeError("esme.js bench failed: " + r.stderr)
        b = json.loads(r.stdout.strip().splitlines()[-1])
        stats = st.stop_sim()
        say("sim alone: " + json.dumps(b))
        out["sim_alone"] = {"steps_per_s": round(b["steps_per_s"], 1), "esme": b,
                            "sim_latency_ms": stats.get("latency_ms") if stats else None}
        out["sim_steps_per_s"] = round(b["steps_per_s"], 1)


def ussd_part(a, out):
    """USSD: hailong-sim as the operator's USSD centre, its citizens answering each
    screen at once (config/examples/ussd.yaml, 5 items: a push, then 5 answers each
    followed by the next screen or the final one). Saturation first, then half that
    rate: answer (its deliver_sm sent) -> next screen (its submit_sm received)."""
    with harness.Stack() as st:
        camps = os.path.join(st.dir, "campaigns")
        os.makedirs(camps)
        shutil.copy(CAMPAIGN, camps)
        ussd = os.path.join(camps, "ussd.yaml")
        shutil.copy(os.path.join(harness.ROOT, "config", "examples", "ussd.yaml"), ussd)
        st.campaigns = camps
        st.start_redis()
        st.start_sim(a.ussd_citizens, think="0", extra=["--log-level", "warn", "--campaign", ussd,
                                                        "--ussd", "*8088#"])
        cfg = st.write_config(window=100, tps=100000, unix=True,
                              extra_smsc="    ussd: {service_code: \"*8088#\"}\n")
        st.start_gateway(config=cfg)
        say(f"ussd: {a.ussd_count} USSD surveys as fast as hailongd takes them")
        sat = load(st, a.ussd_citizens, 1, a.ussd_count, 0, a.duration, a.duration * 2, campaign="ussd-default")
        say("ussd saturation: " + json.dumps(sat))
        steps_per_survey = max(1.0, sat["steps"] / max(1, sat["surveys_completed"]))
        rate = max(1.0, sat["steps_per_s"] / 2 / steps_per_survey)
        count = max(10, int(rate * a.half_s))
        settle(st, "an idle gateway", lambda: st.redis("ZCARD", "hl:ussd:sessions") == "0", 30)
        say(f"ussd half rate: {rate:.1f} surveys/s ({sat['steps_per_s'] / 2:.0f} answers/s) for {a.half_s}s")
        c0 = st.metrics().get("hailong_redis_commands_total", 0)
        half = load(st, a.ussd_citizens, 1, count, rate, a.half_s + 5, a.duration,
                    campaign="ussd-default")
        say("ussd half rate: " + json.dumps(half))
        m = st.metrics()
        # hailongd's own Redis commands (scripts count one) over the answers of that run, its
        # triggers, pushes, session timers and archiving included
        out["ussd_redis_commands_per_answer"] = round(
            (m.get("hailong_redis_commands_total", 0) - c0) / max(1, half["steps"]), 2)
        ev = lambda e: int(m.get('hailong_ussd_sessions_total{event="%s"}' % e, 0))  # noqa: E731
        lat = half["latency_ms"]
        out["ussd"] = {"saturation": sat, "half_rate": half,
                       "sessions": {e: ev(e) for e in ("opened", "completed", "timed_out", "resumed")}}
        out["ussd_answers_per_s"] = round(sat["steps_per_s"], 1)
        out["ussd_latency_p50_ms"] = lat.get("p50")
        out["ussd_latency_p99_ms"] = lat.get("p99")
        if not sat["all_ended"] or not half["all_ended"] or ev("completed") != a.ussd_count + count:
            raise RuntimeError(f"ussd: not every survey completed: {out['ussd']['sessions']}")


def reading_part(a, out):
    env = dict(os.environ, E2E_READING_CITIZENS=str(a.reading_n))
    say(f"reading bias: {a.reading_n} citizens answering as people text")
    r = subprocess.run([sys.executable, os.path.join(harness.ROOT, "tests", "e2e", "test_reading_bias_e2e.py")],
                       capture_output=True, text=True, timeout=600, env=env)
    for line in r.stdout.splitlines():
        if line.startswith("reading_bias_max_pts="):
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            out["reading_bias_max_pts"] = float(f["reading_bias_max_pts"])
            out["reading_abandoned"] = int(f["abandoned"])
            say("reading bias: " + line)
    if r.returncode != 0:
        raise RuntimeError("reading bias test failed: " + r.stdout[-2000:] + r.stderr[-2000:])


RELAY_CAMPAIGN = """# written by scripts/bench.py: one-part GSM messages, 5 questions
id: relay
channel: sms
encoding: unaccented
reminder_after: 0
expire_after: 1h
questions:
%s
messages: {invalid: "SAI.", reminder: "NHAC LAI.", thanks: "CAM ON, HET.", stopped: "DA DUNG.",
           help: "GIUP.", expired: "HET HAN."}
""" % "".join('  - {id: q%d, type: yesno, text: "Cau %d: tot khong?"}\n' % (i, i) for i in range(1, 6))

KANNEL_CONF = """# written by scripts/bench.py: Kannel relaying every MO to a fixed reply
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = bench
admin-allow-ip = 127.0.0.1
smsbox-port = {box}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{dir}/bearerbox.log"
log-level = 3

group = smsc
smsc = smpp
smsc-id = gen
host = 127.0.0.1
port = {smsc}
transceiver-mode = true
smsc-username = kannel
smsc-password = secret
system-type = ""
max-pending-submits = {window}
enquire-link-interval = 30

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 3

group = sms-service
keyword = default
text = "Cam on, da nhan."
catch-all = true
max-messages = 1
"""


def loadgen(port, citizens, seconds, warmup, rate=0, trigger=None, tick=10):
    """Starts tests/peer/loadgen.js on port; returns the process (stdout piped).
    The closed-loop runs that give vs_kannel (Kannel's and hailongd's) write
    each PDU at once, as the generator always did: Kannel's figure varies
    too much from run to run (1 060-2 070 round trips/s in eight alternated
    runs) to tell whether batched writes change it, so the ratio stays on
    the old ground. The paced runs, hailongd alone, batch each callback's
    writes: less of the generator's own time in the latency it measures."""
    argv = ["node", os.path.join(PEER, "loadgen.js"), "--port", str(port), "--citizens", str(citizens),
            "--seconds", str(seconds), "--warmup", str(warmup), "--rate", "%g" % rate, "--tick", "%g" % tick,
            "--batch", "1" if rate > 0 else "0"]
    if trigger:
        argv += ["--trigger", trigger["url"], "--token", trigger["token"], "--campaign", "relay", "--end", "CAM ON"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    harness.wait_for(lambda: harness.Stack._port_open(port) or p.poll() is not None, 10, "loadgen to listen")
    return p


def loadgen_result(p, timeout):
    out, err = p.communicate(timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("loadgen failed: " + err[-2000:])
    return json.loads(out.strip().splitlines()[-1])


def redis_aof(st):
    """The append-only file's size now and the rewrites so far (a rewrite
    starts the file over: a difference across one means nothing)."""
    info = dict(l.split(":", 1) for l in st.redis("INFO", "persistence").splitlines() if ":" in l)
    return int(info.get("aof_current_size", 0) or 0), int(info.get("aof_rewrites", 0) or 0)


def redis_calls(st):
    """INFO commandstats: total calls (commands inside scripts included) and script runs."""
    total = scripts = 0
    for line in st.redis("INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line.split(":", 1)
            calls = int(rest.split(",")[0].split("=")[1])
            if name in ("cmdstat_info", "cmdstat_memory"):
                continue  # the bench's own
            total += calls
            if name in ("cmdstat_evalsha", "cmdstat_eval"):
                scripts += calls
    return total, scripts


def kannel_part(a, out):
    if not shutil.which("bearerbox") or not shutil.which("smsbox") or not shutil.which("node"):
        say("kannel: skipped (no bearerbox/smsbox or node; scripts/deps.sh installs kannel)")
        return
    tmp = tempfile.mkdtemp(prefix="hailong-kannel-")
    procs = []
    try:
        smsc = harness.free_port()
        conf = os.path.join(tmp, "kannel.conf")
        with open(conf, "w") as f:
            f.write(KANNEL_CONF.format(admin=harness.free_port(), box=harness.free_port(), smsc=smsc,
                                       sendsms=harness.free_port(), dir=tmp, window=a.relay_window))
        say(f"kannel: {a.relay_citizens} closed-loop citizens, window {a.relay_window}, {a.relay_s}s")
        lg = loadgen(smsc, a.relay_citizens, a.relay_s, a.relay_warmup)
        for box in ("bearerbox", "smsbox"):
            procs.append(subprocess.Popen([box, "-v", "4", conf], stdout=subprocess.DEVNULL,
                                          stderr=open(os.path.join(tmp, box + ".out"), "w"),
                                          start_new_session=True))
            time.sleep(1.0)  # smsbox connects to a listening bearerbox
        r = loadgen_result(lg, a.relay_s + a.relay_warmup + 60)
        say("kannel: " + json.dumps(r))
        out["kannel"] = r
        out["kannel_relay_steps_per_s"] = round(r["steps_per_s"], 1)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def relay_half(a, out, camp, rate, tick, pre):
    """hailongd at the given rate (half its saturation), the MOs released every
    tick ms; figures named relay_{pre}...; the first run also counts Redis
    commands per step."""
    with harness.Stack(campaigns=camp) as st:
        st.start_redis()
        trig = {"url": "http://127.0.0.1:%d" % st.http_port, "token": harness.TOKEN}
        say(f"hailongd relay at half saturation: {rate:.0f} MO/s for {a.relay_s}s, released every {tick:g} ms")
        lg = loadgen(st.smsc_port, a.relay_citizens, a.relay_s, a.relay_warmup, rate=rate, trigger=trig,
                     tick=tick)
        st.start_gateway(config=st.write_config(window=a.relay_window, tps=100000, unix=True))
        m0, (c0, s0), aof0 = st.metrics(), redis_calls(st), redis_aof(st)
        time.sleep(a.relay_warmup)  # hailongd's own latency: the measured seconds only, not the start's
        mw = st.metrics()
        h = loadgen_result(lg, a.relay_s + a.relay_warmup + 60)
        m1, (c1, s1), aof1 = st.metrics(), redis_calls(st), redis_aof(st)
        say("hailongd relay at half saturation: " + json.dumps(h))
        out["relay_%shalf" % pre] = h
        lat = h["latency_ms"]
        out["relay_%slatency_p50_ms" % pre] = lat.get("p50")
        out["relay_%slatency_p99_ms" % pre] = lat.get("p99")
        # how late the generator's own loop ran meanwhile: what it adds to any latency it measures
        out["relay_%sloadgen_delay_p99_ms" % pre] = (h.get("loop_delay_ms") or {}).get("p99")
        # hailongd's own share: reply read -> next question handed to the session
        hs = "hailong_reply_to_next_question_seconds"
        n = m1.get(hs + "_count", 0) - mw.get(hs + "_count", 0)
        if n > 0:
            out["relay_%sgateway_mean_ms" % pre] = round(1000 * (m1.get(hs + "_sum", 0) - mw.get(hs + "_sum", 0)) / n, 3)
            # its p50 and p99 as histogram bounds: the least "le" holding that share
            bk = sorted((float(k.split('le="')[1].split('"')[0]), v - mw.get(k, 0)) for k, v in m1.items()
                        if k.startswith(hs + '_bucket{le="') and "+Inf" not in k)
            for q in (50, 99):
                le = next((b for b, c in bk if c >= n * q / 100), None)
                out["relay_%sgateway_p%d_le_ms" % (pre, q)] = round(le * 1000, 3) if le is not None else None
        # how the next questions reached the session (hailong_mt_handed_total)
        out["relay_%shanded" % pre] = {p: int(m1.get('hailong_mt_handed_total{path="%s"}' % p, 0)
                                               - m0.get('hailong_mt_handed_total{path="%s"}' % p, 0))
                                        for p in ("direct", "queued", "outbox")}
        if pre:
            st.stop("hailongd")
            return
        # the steps of the whole run (warm-up included) against the commands of
        # that run: hailongd's own count of what it sent, and Redis's count
        # of every command it ran (those inside scripts too)
        steps = max(1, h["steps_all"])
        sent = m1.get("hailong_redis_commands_total", 0) - m0.get("hailong_redis_commands_total", 0)
        out["redis_commands_per_step"] = round(sent / steps, 2)
        out["redis_ops_per_step"] = round((c1 - c0) / steps, 2)
        out["redis_scripts_per_step"] = round((s1 - s0) / steps, 2)
        # what Redis's append-only file grew by per step (what its rewrites,
        # a fork and a new file each time the file doubles, follow)
        out["redis_aof_bytes_per_step"] = round((aof1[0] - aof0[0]) / steps) if aof1[1] == aof0[1] else None
        st.stop("hailongd")


def relay_part(a, out):
    """hailongd under the same load generator and window as Kannel."""
    if not shutil.which("node"):
        return
    camp = tempfile.mkdtemp(prefix="hailong-relay-")
    try:
        with open(os.path.join(camp, "relay.yaml"), "w") as f:
            f.write(RELAY_CAMPAIGN)
        with harness.Stack(campaigns=camp) as st:
            st.start_redis()
            trig = {"url": "http://127.0.0.1:%d" % st.http_port, "token": harness.TOKEN}
            say(f"hailongd relay: {a.relay_citizens} closed-loop citizens, window {a.relay_window}, {a.relay_s}s")
            lg = loadgen(st.smsc_port, a.relay_citizens, a.relay_s, a.relay_warmup, trigger=trig)
            st.start_gateway(config=st.write_config(window=a.relay_window, tps=100000, unix=True))
            r = loadgen_result(lg, a.relay_s + a.relay_warmup + 60)
            say("hailongd relay: " + json.dumps(r))
            out["relay"] = r
            out["relay_steps_per_s"] = round(r["steps_per_s"], 1)
            st.stop("hailongd")

        rate = max(1.0, r["steps_per_s"] / 2)
        relay_half(a, out, camp, rate, a.relay_tick, "")
        # the same rate released in 10 ms bursts (each tick's MOs at once):
        # what a burstier SMSC gives
        relay_half(a, out, camp, rate, 10, "burst_")
    finally:
        shutil.rmtree(camp, ignore_errors=True)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="a few seconds, for make test")
    ap.add_argument("--relay-tick", type=float, default=float(os.environ.get("BENCH_RELAY_TICK", "1")),
                    help="ms between the paced load's releases at half rate (a 10 ms run follows)")
    ap.add_argument("--only", default="", help="comma-separated parts to run (gateway,tcp,sim,kannel,"
                    "relay,ussd,archive,reading); default all")
    a = ap.parse_args()
    if a.short:
        a.citizens, a.sat_count, a.duration, a.half_s, a.active = 200, 200, 20, 2, 100
        a.archive_n, a.report_n, a.sim_citizens, a.sim_s = 2000, 5000, 50, 1
        a.reading_n = 200
        a.ussd_citizens, a.ussd_count = 100, 100
        a.relay_citizens, a.relay_s, a.relay_warmup = 20, 1, 1
    else:
        a.citizens = int(os.environ.get("BENCH_CITIZENS", "3000"))
        a.sat_count = int(os.environ.get("BENCH_TRIGGERS", "3000"))
        a.duration, a.half_s, a.active = 60, 10, int(os.environ.get("BENCH_ACTIVE", "5000"))
        a.archive_n = int(os.environ.get("BENCH_ARCHIVE", "200000"))
        a.report_n = int(os.environ.get("BENCH_REPORT", "1000000"))
        a.sim_citizens, a.sim_s = 500, 10
        a.reading_n = int(os.environ.get("BENCH_READING", "2000"))
        a.relay_citizens = int(os.environ.get("BENCH_RELAY_CITIZENS", "200"))
        a.relay_s, a.relay_warmup = 10, 5
        a.ussd_citizens = int(os.environ.get("BENCH_USSD", "2000"))
        a.ussd_count = a.ussd_citizens
    a.relay_window = 10
    out = {"machine": machine(), "short": a.short}
    t0 = time.time()
    parts = [("gateway", gateway_part), ("tcp", tcp_part), ("sim", sim_part), ("kannel", kannel_part),
             ("relay", relay_part), ("ussd", ussd_part), ("archive", archive_part), ("reading", reading_part)]
    only = [p for p in a.only.split(",") if p]
    unknown = set(only) - {n for n, _ in parts}
    if unknown:
        ap.error("--only: unknown part(s) " + ",".join(sorted(unknown)))
    for name, part in parts:
        if not only or name in only:
            part(a, out)
    out["bench_s"] = round(time.time() - t0, 1)
    if out.get("sim_steps_per_s") and out.get("steps_per_s"):
        out["sim_over_gateway"] = round(out["sim_steps_per_s"] / out["steps_per_s"], 1)
    if out.get("kannel_relay_steps_per_s") and out.get("relay_steps_per_s"):
        out["vs_kannel"] = round(out["relay_steps_per_s"] / out["kannel_relay_steps_per_s"], 2)
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
