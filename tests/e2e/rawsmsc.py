"""rawsmsc: an SMSC written from the SMPP 3.4 text with plain sockets, for
end-to-end tests that need byte-level control over what hailongd receives
(refused binds, an SMSC's own enquire_link and unbind, generic_nack, receipts
in any form, malformed deliver_sm). No code shared with hailong-sim or
gateway/smpp_pdu.c. A test drives one connection step by step:

    srv = RawSmsc(port)
    c = srv.accept(10)                 # hailongd connected
    b = c.expect(0x00000009)           # its bind_transceiver
    c.send_resp(b, 0, b"smsc\\0")      # bound
    s = c.expect(SUBMIT_SM)            # ...
"""
import socket
import struct
import time

GENERIC_NACK = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK, DATA_SM = 0x04, 0x05, 0x06, 0x15, 0x103
RESP = 0x80000000

TLV_USER_MESSAGE_REFERENCE = 0x0204
TLV_SAR_MSG_REF_NUM, TLV_SAR_TOTAL_SEGMENTS, TLV_SAR_SEGMENT_SEQNUM = 0x020C, 0x020E, 0x020F
TLV_RECEIPTED_MESSAGE_ID, TLV_MESSAGE_STATE = 0x001E, 0x0427
TLV_MESSAGE_PAYLOAD, TLV_USSD_SERVICE_OP, TLV_ITS_SESSION_INFO = 0x0424, 0x0501, 0x1383


class Pdu:
    def __init__(self, raw):
        self.raw = raw
        self.len, self.cmd, self.status, self.seq = struct.unpack(">IIII", raw[:16])
        self.body = raw[16:]

    def __repr__(self):
        return "Pdu(cmd=0x%08x status=0x%x seq=%d len=%d)" % (self.cmd, self.status, self.seq, self.len)


def tlv(tag, value):
    return struct.pack(">HH", tag, len(value)) + value


def pdu(cmd, seq, body=b"", status=0, length=None):
    """One PDU; `length` overrides command_length (to lie about it)."""
    n = 16 + len(body) if length is None else length
    return struct.pack(">IIII", n, cmd, status, seq) + body


def cstr(s, enc="ascii"):
    return (s.encode(enc) if isinstance(s, str) else s) + b"\0"


def sm_body(src, dst, short_message=b"", esm_class=0, data_coding=0, tlvs=b"", service_type="",
            registered_delivery=0):
    """The body of a deliver_sm (or submit_sm): mandatory fields then TLVs."""
    return (cstr(service_type) + bytes([1, 1]) + cstr(src) + bytes([0, 1]) + cstr(dst) +
            bytes([esm_class, 0, 0]) + cstr("") + cstr("") +
            bytes([registered_delivery, 0, data_coding, 0, len(short_message)]) + short_message + tlvs)


def parse_sm(body):
    """A submit_sm body as a dict: service_type, addresses, esm_class,
    registered_delivery, data_coding, short_message and tlvs {tag: bytes}."""
    out = {}
    off = 0

    def cs():
        nonlocal off
        end = body.index(b"\0", off)
        v = body[off:end].decode("latin-1")
        off = end + 1
        return v

    def u8():
        nonlocal off
        off += 1
        return body[off - 1]
    out["service_type"] = cs()
    u8(); u8()  # noqa: E702
    out["src"] = cs()
    u8(); u8()  # noqa: E702
    out["dst"] = cs()
    out["esm_class"] = u8()
    u8(); u8()  # noqa: E702
    cs(); cs()  # noqa: E702
    out["registered_delivery"] = u8()
    u8()
    out["data_coding"] = u8()
    u8()
    n = u8()
    out["short_message"] = body[off:off + n]
    off += n
    tl = {}
    while off + 4 <= len(body):
        tag, ln = struct.unpack(">HH", body[off:off + 4])
        tl[tag] = body[off + 4:off + 4 + ln]
        off += 4 + ln
    out["tlvs"] = tl
    return out


def sm_text(sm):
    """The text of a parsed submit_sm (UDH cut off), decoded as hailongd
    writes it: UCS-2 for data_coding 8, else GSM taken as ASCII (enough to
    find the digits and words a test looks for)."""
    b = sm["short_message"] or sm["tlvs"].get(TLV_MESSAGE_PAYLOAD, b"")
    if sm["esm_class"] & 0x40:
        b = b[b[0] + 1:]
    return b.decode("utf-16-be", "replace") if sm["data_coding"] == 8 else b.decode("latin-1")


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.seq = 0x1000
        self.auto_enquire = True
        self.seen = []  # every PDU read, in order

    def next_seq(self):
        self.seq += 1
        return self.seq

    def send(self, data):
        self.sock.sendall(data)

    def send_pdu(self, cmd, body=b"", status=0, seq=None):
        seq = self.next_seq() if seq is None else seq
        self.send(pdu(cmd, seq, body, status))
        return seq

    def send_resp(self, req, status=0, body=b""):
        self.send(pdu(req.cmd | RESP, req.seq, body, status))

    def read(self, timeout):
        """The next PDU, or None on timeout; raises EOFError when closed.
        enquire_link from hailongd is answered here unless auto_enquire is off."""
        end = time.time() + timeout
        while True:
            if len(self.buf) >= 16:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= n:
                    p = Pdu(self.buf[:n])
                    self.buf = self.buf[n:]
                    self.seen.append(p)
                    if p.cmd == ENQUIRE_LINK and self.auto_enquire:
                        self.send_resp(p)
                        continue
                    return p
            left = end - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not d:
                raise EOFError("hailongd closed the connection")
            self.buf += d

    def expect(self, cmd, timeout=10, seq=None):
        """The next PDU of command `cmd` (and sequence seq), others kept in
        self.seen; raises on timeout."""
        end = time.time() + timeout
        while True:
            p = self.read(max(0.0, end - time.time()))
            if p is None:
                raise AssertionError("no 0x%08x from hailongd within %ss (seen %s)" % (cmd, timeout, self.seen[-5:]))
            if p.cmd == cmd and (seq is None or p.seq == seq):
                return p

    def closed(self, timeout):
        """1 when hailongd closes the connection within timeout."""
        end = time.time() + timeout
        try:
            while time.time() < end:
                self.read(max(0.0, end - time.time()))
        except (EOFError, ConnectionResetError):
            return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class RawSmsc:
    def __init__(self, port):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(8)

    def accept(self, timeout):
        self.lsock.settimeout(timeout)
        s, _ = self.lsock.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Conn(s)

    def bind(self, timeout=10, system_id=b"rawsmsc"):
        """Accept hailongd's next connection and bind it; returns the Conn."""
        c = self.accept(timeout)
        b = c.expect(BIND_TRANSCEIVER, timeout)
        c.send_resp(b, 0, cstr(system_id))
        return c

    def close(self):
        self.lsock.close()
