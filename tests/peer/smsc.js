// smsc.js: an SMSC that is not ours (npm `smpp`), playing the operator and the
// citizens for hailong's end-to-end test. Usage:
//   node smsc.js PORT TIMEOUT_S MSISDN...
// Binds accept system_id "hailong" / password "secret". Every question that
// arrives (reassembled from UDH parts) is answered; the answers are printed as
// JSON lines on stdout. Exits 0 once every citizen got the closing message,
// 1 on timeout. It also: answers the first submit_sm with generic_nack
// ESME_RTHROTTLED, sends delivery receipts in several text formats, replies in
// UCS-2 Vietnamese and in ASCII, and sends a long comment in two UDH parts.
// Every answer to question 2 carries 40 vendor TLVs (0x1400-0x1427), as some
// SMSCs attach: it is a citizen's reply like any other.
// Long questions are reassembled from UDH, sar_* TLVs or message_payload.
//
// With --faults (node smsc.js --faults PORT TIMEOUT_S MSISDN...) it is a
// harder operator: the 3rd submit_sm gets submit_sm_resp ESME_RMSGQFUL; the
// comment comes as UDH 8-bit, UDH 16-bit, sar_* TLVs or message_payload (with
// a UDH inside) in turn; receipts also come as TLVs only (receipted_message_id
// + message_state, the id in decimal); and on the 9th submit_sm, mid-survey,
// the connection is dropped without an answer. MOs not yet answered by the
// gateway are delivered again after it binds again, as an SMSC does.
'use strict';
const smpp = require('smpp');

const faults = process.argv.includes('--faults');
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const port = parseInt(args[0], 10);
const timeoutS = parseInt(args[1], 10);
const citizens = args.slice(2);
let nsubmit = 0;
let dropped = false;
let qfullAt = 0; // when submit_sm #3 was refused: the drop comes well after it
const unacked = new Set(); // MOs sent and not answered yet: delivered again after a rebind
const waiting = []; // MOs made while no session was bound
const pending = new Map(); // "dst:ref" -> parts[]
const state = new Map(); // msisdn -> {done}
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const log = (m) => process.stderr.write('[peer] ' + m + '\n');

// 40 vendor TLVs an SMSC may attach to an MO (tags 0x1400-0x1427)
const vendorTlvs = {};
for (let i = 0; i < 40; i++) {
  smpp.addTLV('vendor_' + i, { id: 0x1400 + i, type: smpp.types.tlv.buffer });
  vendorTlvs['vendor_' + i] = Buffer.from([0xa0, i, 0x5a].slice(0, 1 + (i % 3)));
}

let session = null; // where MOs and receipts go (transceiver or receiver)
let txSession = null;
let nextId = 0x1000;
let throttledOnce = false;
let completed = 0;

// What citizen k answers to scale question n: [text, data_coding, value].
const scaleReplies = [
  ['1', 0x01, 5],
  ['Hài lòng', 0x08, 4],
  ['rat hai long', 0x01, 5],
  ['3', 0x01, 3],
  ['Không hài lòng', 0x08, 2],
  ['b', 0x01, 4],
];
const comment = 'Cán bộ tiếp dân rất nhiệt tình, hướng dẫn chu đáo; đề nghị bố trí thêm ghế ngồi chờ ' +
  'và niêm yết thủ tục rõ ràng hơn ở bộ phận một cửa.';

function ucs2(s) {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return b;
}

function mo(from, buf, dc, udh, extra) {
  const sm = udh ? Buffer.concat([udh, buf]) : buf;
  const pdu = Object.assign({
    source_addr: from, source_addr_ton: 1, source_addr_npi: 1,
    destination_addr: '8088', esm_class: udh ? 0x40 : 0,
    data_coding: dc, short_message: sm,
  }, extra || {});
  if (pdu.message_payload) pdu.short_message = Buffer.alloc(0);
  sendMo(pdu);
}

function sendMo(pdu) {
  if (!session) { waiting.push(pdu); return; }
  const s = session;
  unacked.add(pdu);
  s.deliver_sm(Object.assign({}, pdu), (r) => {
    if (s !== session) return; // answered on a connection that is gone: resent anyway
    unacked.delete(pdu);
    if (r.command_status !== 0) {
      log('deliver_sm answered ' + r.command_status + ', delivering it again in 500 ms');
      setTimeout(() => sendMo(pdu), 500);
    }
  });
}

// A long comment in two parts, in the way citizen k's phone and SMSC send it.
function longMo(msisdn, k, text) {
  const half = 60, ref = 0x20 + k;
  const a = ucs2(text.slice(0, half)), b = ucs2(text.slice(half));
  const how = faults ? k % 4 : 0;
  const parts = [a, b].map((buf, i) => {
    if (how === 0) return [buf, 0x08, Buffer.from([5, 0, 3, ref, 2, i + 1]), null];
    if (how === 1) return [buf, 0x08, Buffer.from([6, 8, 4, 0x12, ref, 2, i + 1]), null];
    if (how === 2) return [buf, 0x08, null, { sar_msg_ref_num: 0x3300 + ref, sar_total_segments: 2, sar_segment_seqnum: i + 1 }];
    return [Buffer.alloc(0), 0x08, null, { esm_class: 0x40,
      message_payload: Buffer.concat([Buffer.from([5, 0, 3, ref, 2, i + 1]), buf]) }];
  });
  mo(msisdn, ...parts[0]);
  setTimeout(() => mo(msisdn, ...parts[1]), 20);
}

function answer(msisdn, text) {
  const st = state.get(msisdn) || { answered: 0 };
  state.set(msisdn, st);
  const m = /Câu (\d+)\/(\d+)/.exec(text);
  if (!m) {
    if (st.answered > 0 && !st.done) {
      st.done = true;
      completed++;
      out({ msisdn, event: 'completed' });
      if (completed === citizens.length) setTimeout(() => process.exit(0), 300);
    }
    return;
  }
  const n = parseInt(m[1], 10), total = parseInt(m[2], 10);
  // a question sent again (its submit_sm_resp was lost with the connection)
  // is not answered twice: a citizen answers what is new on the screen
  if (n <= (st.lastN || 0)) { log(`${msisdn}: question ${n} again, not answered twice`); return; }
  st.lastN = n;
  const k = citizens.indexOf(msisdn);
  setTimeout(() => {
    st.answered++;
    if (n < total) {
      const [t, dc, v] = scaleReplies[(k + n) % scaleReplies.length];
      out({ msisdn, n, value: v, reply: t });
      mo(msisdn, dc === 0x08 ? ucs2(t) : Buffer.from(t, 'ascii'), dc, null, n === 2 ? vendorTlvs : null);
    } else {
      // the comment, in two UCS-2 parts
      out({ msisdn, n, text: comment });
      longMo(msisdn, k, comment);
    }
  }, 20);
}

const receiptFormats = [
  (id) => `id:${id} sub:001 dlvrd:001 submit date:2611211030 done date:2611211031 stat:DELIVRD err:000 text:Cau`,
  (id) => `id:${id} sub:001 dlvrd:001 submit date:261121103015 done date:261121103116 stat:DELIVRD err:000 Text:Cau`,
  (id) => `id:${parseInt(id, 16)} sub:001 dlvrd:001 submit date:2611211030 done date:2611211031 stat:DELIVRD err:000 text:`,
  null, // TLVs only (--faults)
];

function receipt(dst, id, k) {
  const f = receiptFormats[k % (faults ? receiptFormats.length : receiptFormats.length - 1)];
  const pdu = { source_addr: dst, destination_addr: '8088', esm_class: 0x04 };
  if (f) pdu.short_message = f(id);
  else Object.assign(pdu, { short_message: Buffer.alloc(0),
    receipted_message_id: String(parseInt(id, 16)), message_state: 2 });
  setTimeout(() => { if (session) session.deliver_sm(pdu); }, 5);
}

// The text of a submit_sm and how it is split: {text, key, total, seq}.
function submitText(pdu) {
  const dst = pdu.destination_addr;
  const mp = pdu.message_payload;
  if (mp && (typeof mp === 'string' || (mp.message && mp.message.length)))
    return { text: typeof mp === 'string' ? mp : mp.message };
  const sm = pdu.short_message;
  const text = typeof sm === 'string' ? sm : sm.message;
  if (pdu.sar_total_segments)
    return { text, key: dst + ':sar:' + pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
  const udh = sm && sm.udh && sm.udh.find((u) => u[0] === 0 || u[0] === 8);
  if (!udh) return { text };
  if (udh[0] === 8) return { text, key: dst + ':' + (udh[2] << 8 | udh[3]), total: udh[4], seq: udh[5] };
  return { text, key: dst + ':' + udh[2], total: udh[3], seq: udh[4] };
}

const server = smpp.createServer({}, (s) => {
  const bind = (pdu) => {
    if (pdu.system_id !== 'hailong' || pdu.password !== 'secret') {
      s.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      return;
    }
    s.send(pdu.response({ system_id: 'node-smsc' }));
    log(pdu.command + ', interface_version 0x' + pdu.interface_version.toString(16));
    if (pdu.command === 'bind_transmitter') { txSession = s; return; } // no MOs on it
    session = s;
    // what was not answered on the lost connection, and what waited for a bind
    const again = [...unacked, ...waiting.splice(0)];
    unacked.clear();
    if (again.length) log('delivering ' + again.length + ' MO(s) again');
    again.forEach((m) => setTimeout(() => sendMo(m), 50));
  };
  s.on('bind_transceiver', bind);
  s.on('bind_transmitter', bind);
  s.on('bind_receiver', bind);
  s.on('enquire_link', (pdu) => s.send(pdu.response()));
  s.on('unbind', (pdu) => { s.send(pdu.response()); s.close(); });
  s.on('close', () => { if (session === s) session = null; if (txSession === s) txSession = null; });
  s.on('submit_sm', (pdu) => {
    nsubmit++;
    if (!throttledOnce) {
      throttledOnce = true;
      s.send(new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number,
        command_status: smpp.ESME_RTHROTTLED }));
      return;
    }
    if (faults && nsubmit === 3) {
      log('submit_sm #3: ESME_RMSGQFUL');
      qfullAt = Date.now();
      s.send(pdu.response({ command_status: smpp.ESME_RMSGQFUL }));
      return;
    }
    // (not in the same burst: a reset connection discards the answers the
    // ESME has not read yet, the ESME_RMSGQFUL one among them)
    if (faults && nsubmit >= 9 && !dropped && unacked.size === 0 && qfullAt && Date.now() - qfullAt > 1000) {
      dropped = true;
      log('submit_sm #' + nsubmit + ': dropping the connection without an answer');
      const rx = session;
      session = null;
      s.socket.destroy();
      if (rx && rx !== s) rx.socket.destroy(); // transmitter+receiver: both go
      return;
    }
    const id = (nextId++).toString(16).toUpperCase();
    s.send(pdu.response({ message_id: id }));
    const dst = pdu.destination_addr;
    if (pdu.registered_delivery & 1) receipt(dst, id, nextId);
    const t = submitText(pdu);
    if (!t.key) { answer(dst, t.text); return; }
    const parts = pending.get(t.key) || [];
    parts[t.seq - 1] = t.text;
    pending.set(t.key, parts);
    if (parts.filter((x) => x !== undefined).length === t.total) {
      pending.delete(t.key);
      answer(dst, parts.join(''));
    }
  });
  s.on('error', (e) => log('session error ' + e.message));
});
server.listen(port, '127.0.0.1', () => log('listening on 127.0.0.1:' + port));
setTimeout(() => { log(`timeout: ${completed}/${citizens.length} completed`); process.exit(1); }, timeoutS * 1000);
