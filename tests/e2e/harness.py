"""harness: starts a private redis-server, hailong-sim and hailongd on loopback
for the demo, the end-to-end tests and the benchmark, and stops them all."""
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("HAILONG_BIN", "build/bin"))
TOKEN = "e2e-token"
HASH_KEY = "e2e-hash-key-not-for-production"


def msisdn_hash(msisdn, hash_key=HASH_KEY):
    """The archive's msisdn_hash (and hl:optout's members): BLAKE2b-256 of the
    canonical number keyed with BLAKE2b-256 of privacy.hash_key (docs/design.md)."""
    import hashlib
    key = hashlib.blake2b(hash_key.encode(), digest_size=32).digest()
    return hashlib.blake2b(msisdn.encode(), key=key, digest_size=32).hexdigest()


def check(cond, msg):
    """Fails the test with msg unless cond."""
    if not cond:
        raise AssertionError(msg)


_ports_given = set()


def smsc_entry(name, port, tps=100, routes=(), window=10):
    """One more entry of the config's `smsc:` list (the YAML text, for
    Stack.write_config's extra_smsc): a session to 127.0.0.1:port bound as
    hailong/secret from 8088, with these routes (number prefixes)."""
    return ("  - name: %s\n    host: 127.0.0.1\n    port: %d\n    system_id: hailong\n    password: secret\n"
            "    source_addr: \"8088\"\n    window: %d\n    tps: %s\n    routes: [%s]\n"
            % (name, port, window, tps, ", ".join('"%s"' % r for r in routes)))


def free_port():
    """A free loopback port, never one this process was given before: the
    kernel may well hand a port it gave (and that was closed since) again,
    and a Stack picks four before anything binds them (two equal ones, about
    once in 14 000 pairs, stop a test with "address in use"). With
    E2E_PORT_LANE set (0 or 1: tests run side by side by
    scripts/run-tests.sh), only ports whose second lowest bit is the lane
    (bind(2) to port 0 hands out odd ports only, so not their parity), so
    that two tests running at once never pick the same one either."""
    lane = os.environ.get("E2E_PORT_LANE")
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if lane in ("0", "1") and (port >> 1) & 1 != int(lane):
            continue
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no fresh free port in 200 tries")


def parse_metrics(text):
    """/metrics text as {series: value} (comment lines left out)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def default_campaign_reminding(after):
    """A campaigns folder (a temporary directory: the caller removes it)
    holding the default campaign with reminder_after `after` instead of its
    2 h: an item whose fate a crash left unknown is asked again soon."""
    camp = tempfile.mkdtemp(prefix="hailong-remind-")
    with open(os.path.join(ROOT, "config", "campaigns", "default.yaml"), encoding="utf-8") as f:
        text = f.read()
    check("reminder_after: 2h\n" in text, "the default campaign's reminder_after moved")
    with open(os.path.join(camp, "default.yaml"), "w", encoding="utf-8") as f:
        f.write(text.replace("reminder_after: 2h\n", "reminder_after: %s\n" % after, 1))
    return camp


def run_parts(path, side, then=()):
    """The test file `path`'s parts named in `side` side by side, each in a
    process (and a Stack) of its own, then those in `then` one after the
    other, each as `path part`; raises when any fails."""
    procs = {n: subprocess.Popen([sys.executable, path, n]) for n in side}
    bad = [n for n, p in procs.items() if p.wait(timeout=240) != 0]
    for n in then:
        if not bad and subprocess.run([sys.executable, path, n], timeout=240).returncode != 0:
            bad.append(n)
    if bad:
        raise AssertionError(f"part(s) failed: {bad}")


def wait_for(cond, timeout, what, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError("timed out waiting for " + what)


class Stack:
    """A private set of processes in one directory. Use as a context manager."""

    def __init__(self, workdir=None, keep=False, campaigns=None, smsc_port=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="hailong-e2e-")
        os.makedirs(self.dir, exist_ok=True)
        self.keep = keep or workdir is not None
        self.procs = {}
        self.logs = {}
        self.campaigns = campaigns or os.path.join(ROOT, "config", "campaigns")
        self.redis_port = free_port()
        self.smsc_port = smsc_port or free_port()
        self.http_port = free_port()
        self.control_port = free_port()
        self.db = os.path.join(self.dir, "hailong.db")
        self.ledger = os.path.join(self.dir, "ledger.jsonl")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()
        if not self.keep and exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def _spawn(self, name, argv, env=None):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        self.logs[name] = log
        p = subprocess.Popen(argv, stdout=log if name != "sim" else subprocess.PIPE,
                             stderr=log, cwd=ROOT, env=env, start_new_session=True)
        self.procs[name] = p
        return p

    def log_text(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # ---- redis ----
    def start_redis(self):
        rdir = os.path.join(self.dir, "redis")
        os.makedirs(rdir, exist_ok=True)
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                              "--dir", rdir, "--unixsocket", os.path.join(rdir, "redis.sock"),
                              "--unixsocketperm", "700", "--save", "", "--appendonly", "yes",
                              "--appendfsync", "everysec", "--protected-mode", "yes",
                              "--daemonize", "no", "--logfile", ""])
        wait_for(lambda: self.redis("PING") == "PONG", 10, "redis-server")

    def redis(self, *args):
        """One command through redis-cli; returns its raw output, stripped (bytes
        that are no UTF-8, such as a survey id kept in raw bytes, replaced)."""
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.redis_port), "--raw"] +
                           [str(a) for a in args], capture_output=True, text=True, errors="replace", timeout=10)
        return r.stdout.strip()

    # ---- the simulator ----
    def start_sim(self, citizens, seed=1, think="20-200", extra=()):
        argv = [os.path.join(BIN, "hailong-sim"), "--listen", "127.0.0.1:%d" % self.smsc_port,
                "--system-id", "hailong", "--password", "secret",
                "--campaign", os.path.join(self.campaigns, "default.yaml"),
                "--citizens", str(citizens), "--ledger", self.ledger, "--seed", str(seed),
                "--think-ms", think, "--control", "127.0.0.1:%d" % self.control_port] + list(extra)
        self._spawn("sim", argv)
        wait_for(lambda: self._port_open(self.smsc_port), 10, "hailong-sim to listen")

    def stop_sim(self):
        """SIGTERM the simulator; returns its statistics (last JSON line on stdout)."""
        p = self.procs.pop("sim", None)
        if not p:
            return None
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
        lines = [l for l in out.decode("utf-8", "replace").splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else None

    # ---- the gateway ----
    def write_config(self, window=10, tps=500, extra_smsc="", unix=False, timezone="Asia/Ho_Chi_Minh"):
        url = ("unix:" + os.path.join(self.dir, "redis", "redis.sock") if unix
               else "redis://127.0.0.1:%d/0" % self.redis_port)
        cfg = f"""# written by tests/e2e/harness.py
smpp:
  - name: sim
    host: 127.0.0.1
    port: {self.smsc_port}
    system_id: hailong
    password: secret
    bind: transceiver
    source_addr: "8088"
    window: {window}
    tps: {tps}
{extra_smsc}redis:
  url: {url}
storage:
  sqlite: {self.db}
http:
  listen: 127.0.0.1:{self.http_port}
  tokens:
    - name: e2e
      token: "{TOKEN}"
      agencies: ["*"]
    - name: only-police
      token: "police-token"
      agencies: ["ca-vinhphuc"]
campaigns: {self.campaigns}
timezone: "{timezone}"
privacy:
  hash_key: "{HASH_KEY}"
"""
        path = os.path.join(self.dir, "hailongd.yaml")
        with open(path, "w") as f:
            f.write(cfg)
        return path

    def start_gateway(self, config=None, wait_ready=True):
        config = config or self.write_config()
        self._spawn("hailongd", [os.path.join(BIN, "hailongd"), "-c", config])
        wait_for(lambda: self._port_open(self.http_port) or self._dead("hailongd"), 10, "hailongd http")
        if self._dead("hailongd"):
            raise RuntimeError("hailongd exited:\n" + self.log_text("hailongd"))
        if wait_ready:
            wait_for(lambda: self.http("GET", "/readyz")[0] == 200, 15, "hailongd ready")

    def stop(self, name, sig=signal.SIGTERM, timeout=20):
        p = self.procs.pop(name, None)
        if not p:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        return p.returncode

    def stop_all(self):
        for name in ["hailongd", "sim", "redis"] + list(self.procs):
            if name in self.procs:
                try:
                    self.stop(name, timeout=10)
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass
        for log in self.logs.values():
            log.close()
        self.logs = {}

    def _dead(self, name):
        p = self.procs.get(name)
        return p is not None and p.poll() is not None

    @staticmethod
    def _port_open(port):
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    # ---- HTTP ----
    def http(self, method, path, body=None, token=TOKEN, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.http_port, path), data=data,
                                     method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def trigger(self, msisdn, txid, campaign="default", agency="ca-vinhphuc", **kw):
        body = {"campaign": campaign, "msisdn": msisdn, "transaction_id": txid, "agency": agency}
        body.update(kw)
        code, text = self.http("POST", "/v1/triggers", body)
        try:
            return code, json.loads(text)
        except ValueError:
            return code, text

    def metrics(self):
        code, text = self.http("GET", "/metrics")
        # the exposition format: each family's lines in one group, after its
        # HELP/TYPE; every family typed (once)
        seen, last, histograms, typed = set(), None, set(), set()
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                if line.split()[2] in typed:
                    raise AssertionError(f"/metrics: {line.split()[2]} typed twice:\n{text}")
                typed.add(line.split()[2])
            if line.startswith("# TYPE ") and line.endswith(" histogram"):
                histograms.add(line.split()[2])
            fam = line.split()[2] if line.startswith(("# TYPE ", "# HELP ")) else line.split("{")[0].split(" ")[0]
            for suffix in ("_bucket", "_sum", "_count"):
                if fam.endswith(suffix) and fam[:-len(suffix)] in histograms:
                    fam = fam[:-len(suffix)]
            if line and not line.startswith("#") and fam not in typed:
                raise AssertionError(f"/metrics: {fam} has no # TYPE line before its samples:\n{text}")
            if fam != last:
                if fam in seen:
                    raise AssertionError(f"/metrics: the lines of {fam} are not in one group:\n{text}")
                seen.add(fam)
                last = fam
        return parse_metrics(text)

    def finished(self):
        m = self.metrics()
        return int(sum(v for k, v in m.items() if k.startswith("hailong_surveys_finished_total")))


class SlowRedis:
    """A relay between hailongd and redis-server that holds every reply
    `delay` seconds (commands go through at once), as on a loaded or distant
    Redis. `delay` may be changed while it runs: it applies to the replies
    read from then on. cut() breaks every connection, as a Redis cut off."""

    def __init__(self, redis_port, delay):
        self.redis_port, self.delay = redis_port, delay
        self.is_cut = False
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
                if self.is_cut:
                    c.close()
                    continue
                s = socket.create_connection(("127.0.0.1", self.redis_port))
            except OSError:
                return
            for x in (c, s):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.socks += [c, s]
            q = queue.Queue()
            threading.Thread(target=self._pipe, args=(c, s, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(s, c, q), daemon=True).start()
            threading.Thread(target=self._late, args=(q, c, s), daemon=True).start()

    def _pipe(self, src, dst, q):
        while True:
            try:
                b = src.recv(65536)
            except OSError:
                b = b""
            if q is not None:
                q.put((time.monotonic() + self.delay, b))
            elif b:
                try:
                    dst.sendall(b)
                except OSError:
                    b = b""
            if not b:
                for x in (src, dst):
                    try:
                        x.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                return

    def _late(self, q, dst, src):
        while True:
            due, b = q.get()
            time.sleep(max(0.0, due - time.monotonic()))
            if not b:
                return
            try:
                dst.sendall(b)
            except OSError:
                return

    def cut(self, on=True):
        """on: every connection through the relay breaks now (what was sent
        gets no reply), and one made meanwhile is closed at once; off:
        relayed again."""
        self.is_cut = on
        for x in self.socks if on else ():
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def config(self, st, **kw):
        """st's gateway config (write_config's keywords), with Redis reached through this relay."""
        cfg = st.write_config(**kw)
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("127.0.0.1:%d/" % st.redis_port, "127.0.0.1:%d/" % self.port))
        return cfg

    def close(self):
        for x in [self.lsock] + self.socks:
            try:
                x.close()
            except OSError:
                pass


def citizen(i):
    """The phone number of virtual citizen i (1-based), as the simulator numbers them."""
    return "8491%07d" % i


def local_citizen(i):
    return "091%07d" % i


# ---- helpers for tests that drive citizens themselves (added for the lifecycle tests) ----
def ussd_campaigns(st, replace=None):
    """A campaigns folder for a USSD test: the default campaign and
    config/examples/ussd.yaml, with each (old, new) of replace applied to the
    latter (each old must be there). Makes it the stack's folder; returns the
    path of ussd.yaml (for the simulator's --campaign)."""
    camps = os.path.join(st.dir, "campaigns")
    os.makedirs(camps, exist_ok=True)
    shutil.copy(os.path.join(ROOT, "config", "campaigns", "default.yaml"), camps)
    with open(os.path.join(ROOT, "config", "examples", "ussd.yaml"), encoding="utf-8") as f:
        src = f.read()
    for old, new in replace or ():
        if old not in src:
            raise AssertionError(f"config/examples/ussd.yaml no longer holds {old!r}")
        src = src.replace(old, new, 1)
    ussd = os.path.join(camps, "ussd.yaml")
    with open(ussd, "w", encoding="utf-8") as f:
        f.write(src)
    st.campaigns = camps
    return ussd


def sim_get(st, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (st.control_port, path), timeout=10) as r:
        return json.loads(r.read().decode())


def sim_post(st, path, body):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (st.control_port, path),
                                 data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read().decode()


def inbox(st, msisdn):
    """The texts the simulator delivered to msisdn (canonical 84...), oldest first."""
    return sim_get(st, "/inbox/" + msisdn)


def mo(st, msisdn, text):
    """An MO from msisdn, through the simulator's control API."""
    return sim_post(st, "/mo", {"from": msisdn, "text": text})


def campaign_version(path):
    """The campaign version hailong computes: FNV-1a 64 of the file's bytes, 16 hex digits."""
    h = 0xcbf29ce484222325
    with open(path, "rb") as f:
        for b in f.read():
            h ^= b
            h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def completed_surveys(st, like="%"):
    """Surveys archived as completed (transaction id LIKE like); 0 while the
    archive cannot be read yet."""
    import sqlite3
    try:
        with sqlite3.connect(st.db, timeout=5) as c:
            return c.execute("select count(*) from surveys where status='completed' and transaction_id like ?",
                             (like,)).fetchone()[0]
    except sqlite3.Error:
        return 0


def ledger_completed(st):
    """How many citizens the simulator's ledger shows as thanked (completed)."""
    n = 0
    try:
        with open(st.ledger, encoding="utf-8") as f:
            for line in f:
                n += '"event":"completed"' in line.replace(" ", "")
    except OSError:
        pass
    return n


def wait_thanked(st, n, timeout=15):
    """Waits until the simulator has delivered n thanks messages (the last
    ones leave just after their surveys are archived)."""
    wait_for(lambda: ledger_completed(st) >= n, timeout, f"{n} thanks delivered", step=0.1)


def compare_with_ledger(st, prefix, n):
    """The archive equals the simulator's ledger: the n surveys whose
    transaction id is prefix + citizen index are archived completed, each with
    exactly the answers that citizen gave. Returns the ledger's answers."""
    import sqlite3

    def check(cond, msg):
        if not cond:
            raise AssertionError(msg)
    ledger, completed = {}, set()
    with open(st.ledger, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if e.get("event") == "completed":
                completed.add(e["msisdn"])
            elif "question" in e and not e.get("skip") and e.get("reply") != "0":
                ledger.setdefault(e["msisdn"], {})[e["question"]] = e
    with sqlite3.connect(st.db) as c:
        rows = c.execute("select survey_id, transaction_id, status from surveys where transaction_id like ?",
                         (prefix + "%",)).fetchall()
        check(len(rows) == n, f"{len(rows)} surveys archived, want {n}")
        for sid, txid, status in rows:
            check(status == "completed", f"{txid}: {status}")
            m = citizen(int(txid[len(prefix):]))
            got = {q: (v, t) for q, v, t in c.execute(
                "select question_id, value, text from answers where survey_id=?", (sid,))}
            want = ledger.get(m, {})
            check(set(got) == set(want), f"{txid}: archived {sorted(got)} != ledger {sorted(want)}")
            for q, e in want.items():
                exp = e["value"] if e.get("value") is not None else e.get("text")
                val = got[q][0] if e.get("value") is not None else got[q][1]
                check(val == exp, f"{txid} {q}: archived {got[q]} != ledger {e}")
    check(len(completed) >= n, f"the simulator saw {len(completed)} thanks, want {n}")
    return ledger


class BusyRedis:
    """Holds the stack's redis-server busy: a Lua script that spins `seconds`
    (every other client waits meanwhile). Returns once the script runs (a
    PING left unanswered), so that what the caller sends next meets a busy
    Redis even on a slow machine; done() waits for its end and returns
    (start, end) in epoch seconds, as Redis's clock (this machine's) saw them."""

    def __init__(self, st, seconds):
        us = int(seconds * 1e6)
        self.p = subprocess.Popen(
            ["redis-cli", "-p", str(st.redis_port), "EVAL",
             "local t0 = redis.call('TIME') local e = t0[1] * 1e6 + t0[2] + %d local t "
             "repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= e "
             "return {t0[1], t0[2], t[1], t[2]}" % us, "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        end = time.time() + 10
        while time.time() < end and self.p.poll() is None:
            with socket.create_connection(("127.0.0.1", st.redis_port), timeout=5) as s:
                s.settimeout(0.2)
                s.sendall(b"PING\r\n")
                try:
                    s.recv(64)
                except socket.timeout:
                    return  # Redis did not answer within 0.2 s: the script runs
            time.sleep(0.005)
        raise AssertionError("the busy script never held Redis (it ended, or never started)")

    def done(self):
        out, _ = self.p.communicate(timeout=30)
        v = [int(x) for x in out.split()]
        if len(v) != 4:
            raise AssertionError(f"the busy script's answer: {out!r}")
        return v[0] + v[1] / 1e6, v[2] + v[3] / 1e6
