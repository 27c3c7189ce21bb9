#!/usr/bin/env python3
"""hailong-sim with a third-party ESME: Kannel (Debian's bearerbox + smsbox),
bound first as a transceiver, then as a separate transmitter + receiver of
the same account. In each layout:

- MTs through smsbox's sendsms (GSM with the extension-table characters
  `{}[]~^|EUR\\`, UCS-2 Vietnamese, a long text Kannel splits into UDH parts),
  each received intact exactly once by its citizen (the simulator's inbox);
- every delivery receipt matched by Kannel: its dlr-url (dlr-mask 31, served
  by a listener here) is called with "delivered" (type 1) for every message,
  and bearerbox never logs a receipt it could not match;
- MOs from the simulator's POST /mo (GSM, UCS-2, a long UCS-2 text in parts)
  reach smsbox's sms-service get-url intact;
- with throttling and a dropped link switched on at run time (POST /faults),
  nothing is lost: every MT reaches its citizen and is receipted, every MO
  reaches smsbox;
- and, as a check that the matching above means something, with the fault
  early_receipt_share on, Kannel misses exactly the receipts sent before
  their response.

The simulator runs with its default, handset-like receipt delays."""
import http.server
import os
import shutil
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

SENDSMS_USER, SENDSMS_PASS = "tester", "kpw"
GSM_SPECIAL = "Lich hen {08:00} [P.2] a~b ^c| phi 5€ \\ xong"
UCS2_VI = "Cảm ơn ông/bà đã sử dụng dịch vụ công trực tuyến của tỉnh"
LONG_GSM = ("Thong bao: ho so cua ong/ba da duoc tiep nhan tai bo phan mot cua. "
            "Vui long mang CCCD {ban goc} khi den nhan ket qua [ngay 12/05]. ") * 4


check = harness.check


class Listener:
    """The HTTP side of Kannel's world: dlr-url callbacks and the sms-service get-url."""

    def __init__(self):
        self.lock = threading.Lock()
        self.dlr = []  # {"ref", "type", "id"}
        self.mo = []   # {"from", "to", "text"}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                args = {}
                for pair in query.split("&"):
                    k, _, v = pair.partition("=")
                    args[k] = urllib.parse.unquote_to_bytes(v.replace("+", " "))
                with outer.lock:
                    if path == "/dlr":
                        outer.dlr.append({k: args.get(k, b"").decode() for k in ("ref", "type", "id")})
                    elif path == "/mo":
                        coding = args.get("coding", b"0").decode()
                        charset = args.get("charset", b"").decode() or "UTF-8"
                        raw = args.get("bin", b"")
                        text = raw.decode("utf-16-be" if coding == "2" else charset, "replace")
                        outer.mo.append({"from": args.get("from", b"").decode().lstrip("+"),
                                         "to": args.get("to", b"").decode(), "text": text})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.port = harness.free_port()
        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def delivered(self, ref):
        with self.lock:
            return any(d["ref"] == ref and d["type"] == "1" for d in self.dlr)

    def mo_texts(self, msisdn):
        with self.lock:
            return [m["text"] for m in self.mo if m["from"] == msisdn]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def kannel_conf(d, smsc_port, listener_port, split, ports):
    """The configuration docs/simulator.md shows, with this run's ports and files."""
    smsc = f"""group = smsc
smsc = smpp
smsc-id = hailong-sim
host = 127.0.0.1
%s
smsc-username = hailong
smsc-password = secret
system-type = ""
source-addr-ton = 3
source-addr-npi = 0
dest-addr-ton = 1
dest-addr-npi = 1
reconnect-delay = 1
enquire-link-interval = 5
max-pending-submits = 10
wait-ack = 10
wait-ack-expire = 0x01
"""
    if split:
        # Kannel 1.4.5 wants the transmitter and the receiver in two groups
        # with the same smsc-id (receipts are matched per smsc-id)
        binds = smsc % ("port = %d" % smsc_port) + "\n" + smsc % ("receive-port = %d" % smsc_port)
    else:
        binds = smsc % ("port = %d\ntransceiver-mode = true" % smsc_port)
    return f"""group = core
admin-port = {ports['admin']}
admin-password = kadmin
admin-allow-ip = "127.0.0.1"
smsbox-port = {ports['smsbox']}
box-allow-ip = "127.0.0.1"
log-file = "{d}/bearerbox.log"
log-level = 1
sms-resend-freq = 1
sms-resend-retry = -1
dlr-storage = internal

{binds}
group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports['smsbox']}
sendsms-port = {ports['sendsms']}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 1

group = sendsms-user
username = {SENDSMS_USER}
password = {SENDSMS_PASS}
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "http://127.0.0.1:{listener_port}/mo?from=%p&to=%P&coding=%c&charset=%C&bin=%b"
"""


def sendsms(port, listener_port, to, text, coding, ref):
    dlr = "http://127.0.0.1:%d/dlr?ref=%s&type=%%d&id=%%F" % (listener_port, ref)
    q = urllib.parse.urlencode({"username": SENDSMS_USER, "password": SENDSMS_PASS, "from": "8088",
                                "to": to, "text": text, "charset": "UTF-8", "coding": coding,
                                "dlr-mask": "31", "dlr-url": dlr})
    with urllib.request.urlopen("http://127.0.0.1:%d/cgi-bin/sendsms?%s" % (port, q), timeout=10) as r:
        body = r.read().decode()
    check(r.status == 202, f"sendsms {ref}: {r.status} {body}")


def run_layout(st, lis, split, base):
    """One Kannel (bearerbox + smsbox) bound as split or transceiver; citizens base+1.."""
    name = "split" if split else "trx"
    d = os.path.join(st.dir, "kannel-" + name)
    os.makedirs(d, exist_ok=True)
    ports = {k: harness.free_port() for k in ("admin", "smsbox", "sendsms")}
    conf = os.path.join(d, "kannel.conf")
    with open(conf, "w") as f:
        f.write(kannel_conf(d, st.smsc_port, lis.port, split, ports))
    binds0 = harness.sim_get(st, "/stats")["binds"]
    st._spawn("bearerbox-" + name, [shutil.which("bearerbox"), conf])
    harness.wait_for(lambda: harness.sim_get(st, "/stats")["binds"] >= binds0 + (2 if split else 1), 15,
                     "Kannel to bind (%s)" % name, step=0.1)
    st._spawn("smsbox-" + name, [shutil.which("smsbox"), conf])
    harness.wait_for(lambda: st._port_open(ports["sendsms"]), 15, "smsbox sendsms", step=0.1)
    simlog = st.log_text("sim")
    for kind in (["bind_transmitter", "bind_receiver"] if split else ["bind_transceiver"]):
        check(kind + " " in simlog, f"{name}: no {kind} in the simulator's log")

    def cit(i):
        return harness.citizen(base + i)

    stats0 = harness.sim_get(st, "/stats")
    # ---- MTs: GSM specials, UCS-2 Vietnamese, a long text split by Kannel ----
    mts = [(cit(1), GSM_SPECIAL, 0), (cit(2), UCS2_VI, 2), (cit(3), LONG_GSM, 0)]
    for k, (to, text, coding) in enumerate(mts):
        sendsms(ports["sendsms"], lis.port, to, text, coding, "%s-mt%d" % (name, k))
    harness.wait_for(lambda: all(text in harness.inbox(st, to) for to, text, _ in mts), 15,
                     f"{name}: the MTs at their citizens", step=0.1)
    # ---- MOs: GSM, UCS-2, a long UCS-2 text in parts ----
    mos = [(cit(4), "Rất hài lòng, cán bộ nhiệt tình"), (cit(5), "ok [1] ~ ^ | € {x} \\ gsm"),
           (cit(6), "Thủ tục nhanh gọn, cán bộ hướng dẫn tận tình, chu đáo; "
                    "tôi sẽ giới thiệu dịch vụ công trực tuyến cho người quen. Cảm ơn!")]
    for frm, text in mos:
        code, body = harness.sim_post(st, "/mo", {"from": frm, "to": "8088", "text": text})
        check(code == 202, f"POST /mo: {code} {body}")
    harness.wait_for(lambda: all(lis.mo_texts(frm) for frm, _ in mos), 15, f"{name}: the MOs at smsbox",
                     step=0.1)
    for frm, text in mos:
        check(lis.mo_texts(frm) == [text], f"{name}: MO from {frm}: got {lis.mo_texts(frm)}, sent {text!r}")
    # receipts: the simulator's default delays are seconds long
    refs = ["%s-mt%d" % (name, k) for k in range(len(mts))]
    harness.wait_for(lambda: all(lis.delivered(r) for r in refs), 20, f"{name}: a delivered DLR per MT",
                     step=0.1)
    for to, text, _ in mts:
        got = harness.inbox(st, to)
        check(got == [text], f"{name}: {to} received {got}, want exactly [{text!r}]")
    stats1 = harness.sim_get(st, "/stats")
    check(stats1["parts"] - stats0["parts"] >= 3, f"{name}: the long MT was not split: {stats1}")

    # ---- faults at run time: throttling and a dropped link ----
    code, body = harness.sim_post(st, "/faults", {"throttle_share": 0.5, "disconnect_every_s": 2})
    check(code == 200, f"POST /faults: {code} {body}")
    fmts = [(cit(7 + k % 3), "%s fault MT %d: {ok} [%d] €" % (name, k, k) if k % 2 else
             "%s lỗi MT %d: cảm ơn" % (name, k), 0 if k % 2 else 2) for k in range(10)]
    for k, (to, text, coding) in enumerate(fmts):
        sendsms(ports["sendsms"], lis.port, to, text, coding, "%s-f%d" % (name, k))
        time.sleep(0.3)
    fmos = [(cit(10 + k), "%s phản hồi %d khi mất kết nối" % (name, k)) for k in range(4)]
    for frm, text in fmos:
        harness.sim_post(st, "/mo", {"from": frm, "to": "8088", "text": text})
        time.sleep(0.4)
    harness.wait_for(lambda: harness.sim_get(st, "/stats")["disconnects"] >= stats1["disconnects"] + 2,
                     10, f"{name}: the links to drop", step=0.1)
    harness.sim_post(st, "/faults", {"reset": True})
    frefs = ["%s-f%d" % (name, k) for k in range(len(fmts))]
    harness.wait_for(lambda: all(text in harness.inbox(st, to) for to, text, _ in fmts) and
                     all(lis.mo_texts(frm) for frm, _ in fmos) and all(lis.delivered(r) for r in frefs),
                     30, f"{name}: every MT, MO and receipt through the faults", step=0.2)
    stats2 = harness.sim_get(st, "/stats")
    check(stats2["faults"] > stats1["faults"], f"{name}: no submit_sm was throttled: {stats2}")
    # a response cut off by a dropped link makes Kannel submit again: the
    # handset may get that message twice, never one whose response arrived.
    # The simulator knows a response it never wrote (orphaned); one written
    # in the instant before the link dropped may still die unread in the
    # socket: at most one per drop here, the MTs going 0.3 s apart
    orphaned = stats2["receipts_orphaned"] - stats0["receipts_orphaned"]
    drops = stats2["disconnects"] - stats1["disconnects"]
    dups = sum(harness.inbox(st, to).count(text) - 1 for to, text, _ in fmts)
    check(dups <= orphaned + drops, f"{name}: {dups} duplicate MTs for {orphaned} lost responses and {drops} drops")
    for frm, text in fmos:
        check(set(lis.mo_texts(frm)) == {text}, f"{name}: MO from {frm}: {lis.mo_texts(frm)}")

    bblog_path = os.path.join(d, "bearerbox.log")

    def unmatched_receipts():
        with open(bblog_path, encoding="utf-8", errors="replace") as f:
            return f.read().count("got DLR but could not find message")
    unmatched = unmatched_receipts()
    check(unmatched <= orphaned, f"{name}: Kannel could not match {unmatched} receipts "
                                 f"({orphaned} were for responses lost with the link)")
    # ---- the race on purpose: receipts before their responses ----
    early = 0
    if not split:
        harness.sim_post(st, "/faults", {"early_receipt_share": 1})
        for k in range(2):
            sendsms(ports["sendsms"], lis.port, cit(14), "%s early %d" % (name, k), 0, "%s-e%d" % (name, k))
        harness.wait_for(lambda: unmatched_receipts() >= unmatched + 2, 10,
                         f"{name}: Kannel to miss the early receipts", step=0.1)
        harness.sim_post(st, "/faults", {"reset": True})
        early = harness.sim_get(st, "/stats")["receipts_early"] - stats0["receipts_early"]
        check(early == 2, f"{name}: {early} early receipts, want 2")
        check(not lis.delivered("%s-e0" % name) and not lis.delivered("%s-e1" % name),
              f"{name}: Kannel matched a receipt that came before its response")
    st.stop("smsbox-" + name, timeout=10)
    st.stop("bearerbox-" + name, timeout=10)
    return {"layout": name, "mt": len(mts) + len(fmts), "mo": len(mos) + len(fmos),
            "dlr": sum(1 for r in refs + frefs if lis.delivered(r)),
            "disconnects": stats2["disconnects"] - stats0["disconnects"],
            "faults": stats2["faults"] - stats0["faults"], "orphaned": orphaned, "unmatched": unmatched,
            "early_missed": early}


def main():
    if not shutil.which("bearerbox") or not shutil.which("smsbox"):
        raise SystemExit("Kannel (bearerbox, smsbox) is not installed: run scripts/deps.sh")
    t0 = time.time()
    lis = Listener()
    try:
        with harness.Stack() as st:
            st.start_sim(40, think="0")
            res = [run_layout(st, lis, False, 0), run_layout(st, lis, True, 20)]
            stats = st.stop_sim()
            check(stats["errors"] == 0, f"simulator errors: {stats}")
    finally:
        lis.close()
    print(f"ok: Kannel as transceiver and as transmitter + receiver in {time.time() - t0:.1f}s: {res}")


if __name__ == "__main__":
    main()
