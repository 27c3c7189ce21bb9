// smsc.js: an SMSC that is not ours (npm `smpp`), playing the operator and the
// citizens for hailong's end-to-end test. Usage:
//   node smsc.js PORT TIMEOUT_S MSISDN...
// Binds accept system_id "hailong" / password "secret". Every question that
// arrives (reassembled from UDH parts) is answered; the answers are printed as
// JSON lines on stdout. Exits 0 once every citizen got the closing message,
// 1 on timeout. It also: answers the first submit_sm with generic_nack
// ESME_RTHROTTLED, sends delivery receipts in several text formats, replies in
// UCS-2 Vietnamese and in ASCII, and sends a long comment in two UDH parts.
'use strict';
const smpp = require('smpp');

const port = parseInt(process.argv[2], 10);
const timeoutS = parseInt(process.argv[3], 10);
const citizens = process.argv.slice(4);
const pending = new Map(); // "dst:ref" -> parts[]
const state = new Map(); // msisdn -> {done}
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const log = (m) => process.stderr.write('[peer] ' + m + '\n');

let session = null;
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

function mo(from, buf, dc, udh) {
  const sm = udh ? Buffer.concat([udh, buf]) : buf;
  session.deliver_sm({
    source_addr: from, source_addr_ton: 1, source_addr_npi: 1,
    destination_addr: '8088', esm_class: udh ? 0x40 : 0,
    data_coding: dc, short_message: sm,
  }, (r) => {
    if (r.command_status !== 0) log('deliver_sm answered ' + r.command_status);
  });
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
  const k = citizens.indexOf(msisdn);
  setTimeout(() => {
    st.answered++;
    if (n < total) {
      const [t, dc, v] = scaleReplies[(k + n) % scaleReplies.length];
      out({ msisdn, n, value: v, reply: t });
      mo(msisdn, dc === 0x08 ? ucs2(t) : Buffer.from(t, 'ascii'), dc, null);
    } else {
      // the comment, in two UCS-2 parts with an 8-bit reference
      out({ msisdn, n, text: comment });
      const half = 60, ref = 0x20 + k;
      mo(msisdn, ucs2(comment.slice(0, half)), 0x08, Buffer.from([5, 0, 3, ref, 2, 1]));
      setTimeout(() => mo(msisdn, ucs2(comment.slice(half)), 0x08, Buffer.from([5, 0, 3, ref, 2, 2])), 20);
    }
  }, 20);
}

const receiptFormats = [
  (id) => `id:${id} sub:001 dlvrd:001 submit date:2611211030 done date:2611211031 stat:DELIVRD err:000 text:Cau`,
  (id) => `id:${id} sub:001 dlvrd:001 submit date:261121103015 done date:261121103116 stat:DELIVRD err:000 Text:Cau`,
  (id) => `id:${parseInt(id, 16)} sub:001 dlvrd:001 submit date:2611211030 done date:2611211031 stat:DELIVRD err:000 text:`,
];

const server = smpp.createServer({}, (s) => {
  s.on('bind_transceiver', (pdu) => {
    if (pdu.system_id !== 'hailong' || pdu.password !== 'secret') {
      s.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      return;
    }
    session = s;
    s.send(pdu.response({ system_id: 'node-smsc' }));
    log('bound, interface_version 0x' + pdu.interface_version.toString(16));
  });
  s.on('enquire_link', (pdu) => s.send(pdu.response()));
  s.on('unbind', (pdu) => { s.send(pdu.response()); s.close(); });
  s.on('submit_sm', (pdu) => {
    if (!throttledOnce) {
      throttledOnce = true;
      s.send(new smpp.PDU('generic_nack', { sequence_number: pdu.sequence_number,
        command_status: smpp.ESME_RTHROTTLED }));
      return;
    }
    const id = (nextId++).toString(16).toUpperCase();
    s.send(pdu.response({ message_id: id }));
    const dst = pdu.destination_addr;
    const sm = pdu.short_message;
    const text = typeof sm === 'string' ? sm : sm.message;
    if (pdu.registered_delivery & 1) {
      const r = receiptFormats[nextId % receiptFormats.length](id);
      setTimeout(() => s.deliver_sm({ source_addr: dst, destination_addr: '8088', esm_class: 0x04,
        short_message: r }), 5);
    }
    const udh = sm && sm.udh && sm.udh.find((u) => u[0] === 0);
    if (!udh) { answer(dst, text); return; }
    const key = dst + ':' + udh[2];
    const parts = pending.get(key) || [];
    parts[udh[4] - 1] = text;
    pending.set(key, parts);
    if (parts.filter((x) => x !== undefined).length === udh[3]) {
      pending.delete(key);
      answer(dst, parts.join(''));
    }
  });
  s.on('error', (e) => log('session error ' + e.message));
});
server.listen(port, '127.0.0.1', () => log('listening on 127.0.0.1:' + port));
setTimeout(() => { log(`timeout: ${completed}/${citizens.length} completed`); process.exit(1); }, timeoutS * 1000);
