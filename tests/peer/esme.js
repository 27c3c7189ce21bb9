// esme.js: an ESME that is not ours (npm `smpp`), to check hailong-sim as an SMSC any
// client can use. Usage:
//   node esme.js check SMPP_PORT CONTROL_PORT      functional checks, one JSON line, exit 0/1
//   node esme.js bench SMPP_PORT CONTROL_PORT CITIZENS SECONDS
//        drives CITIZENS virtual citizens through the campaign as fast as they answer,
//        for SECONDS; prints {"steps":..,"steps_per_s":..,...}
// The question texts come from the simulator's GET /campaign and are sent unaccented
// (GSM/ASCII); citizens recognise them by folding, as they do hailong's.
'use strict';
const http = require('http');
const smpp = require('smpp');

const [mode, smppPort, ctlPort] = process.argv.slice(2, 5);
const log = (m) => process.stderr.write('[esme] ' + m + '\n');
const fold = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd').replace(/Đ/g, 'D');
const msisdn = (i) => '8491' + String(i).padStart(7, '0');

function getJson(path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: ctlPort, path }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => { try { resolve(JSON.parse(b)); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

function connect() {
  return new Promise((resolve, reject) => {
    const s = smpp.connect({ url: `smpp://127.0.0.1:${smppPort}`, auto_enquire_link_period: 0 });
    s.on('connect', () => resolve(s));
    s.on('error', reject);
  });
}

const call = (s, cmd, params) => new Promise((resolve) => s[cmd](params, (pdu) => resolve(pdu)));

function textOf(pdu) {
  const sm = pdu.short_message;
  return typeof sm === 'string' ? sm : (sm && sm.message) || '';
}

async function check() {
  const camp = await getJson('/campaign');
  const qs = camp.questions.map((q) => fold(q.text));
  const res = { binds: {}, refused: {} };
  const fail = (m) => { process.stdout.write(JSON.stringify(Object.assign(res, { ok: false, error: m })) + '\n'); process.exit(1); };
  // credentials and interface versions: a wrong password, an unknown system_id, then
  // one bind per interface_version, with the first and the second account
  let s = await connect();
  let r = await call(s, 'bind_transceiver', { system_id: 'hailong', password: 'wrong', interface_version: 0x34 });
  res.refused.bad_password = r.command_status;
  r = await call(s, 'bind_transceiver', { system_id: 'nobody', password: 'secret', interface_version: 0x34 });
  res.refused.unknown_system_id = r.command_status;
  s.close();
  for (const [v, acct] of [[0x33, ['hailong', 'secret']], [0x34, ['partner', 'pw2']], [0x50, ['hailong', 'secret']]]) {
    s = await connect();
    r = await call(s, 'bind_transceiver', { system_id: acct[0], password: acct[1], interface_version: v });
    res.binds['0x' + v.toString(16)] = r.command_status;
    if (v !== 0x50) {
      r = await call(s, 'unbind', {});
      res['unbind_0x' + v.toString(16)] = r.command_status;
      s.close();
    }
  }
  r = await call(s, 'enquire_link', {});
  res.enquire_link = r.command_status;
  // a whole survey for citizen 1: every question by submit_sm with a receipt asked for
  const who = msisdn(1);
  const ids = new Set();
  const receipts = [];
  const mos = [];
  let q = 0;
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  const next = async () => {
    const text = q < qs.length ? qs[q] : fold(camp.thanks);
    q++;
    const p = await call(s, 'submit_sm', { source_addr: '8088', destination_addr: who, registered_delivery: 1, short_message: text });
    if (p.command_status !== 0) fail('submit_sm answered ' + p.command_status);
    ids.add(p.message_id);
    if (q > qs.length) setTimeout(done, 300);
  };
  s.on('deliver_sm', (pdu) => {
    s.send(pdu.response());
    const t = textOf(pdu);
    if (pdu.esm_class & 0x04) {
      const m = /id:(\S+) .*stat:(\S+)/.exec(t);
      receipts.push({ id: m && m[1], stat: m && m[2], tlv_id: pdu.receipted_message_id, state: pdu.message_state });
      return;
    }
    if (pdu.source_addr !== who) return;
    // a long comment comes in UDH parts: wait for the last one
    const udh = pdu.short_message && pdu.short_message.udh && pdu.short_message.udh.find((u) => u[0] === 0);
    mos.push({ text: t, dc: pdu.data_coding, part: udh ? udh[4] : 1, of: udh ? udh[3] : 1 });
    if (!udh || udh[4] === udh[3]) next();
  });
  await next();
  const timer = setTimeout(() => fail('no end of survey in 20 s'), 20000);
  await finished;
  clearTimeout(timer);
  r = await call(s, 'unbind', {});
  res.unbind = r.command_status;
  s.close();
  res.questions = qs.length;
  res.mo = mos.length;
  res.mo_codings = [...new Set(mos.map((m) => m.dc))];
  res.receipts = receipts.length;
  res.receipts_matched = receipts.filter((x) => ids.has(x.id) && x.tlv_id === x.id).length;
  res.receipt_stats = [...new Set(receipts.map((x) => x.stat))];
  res.ok = true;
  process.stdout.write(JSON.stringify(res) + '\n');
  process.exit(0);
}

async function bench() {
  const n = parseInt(process.argv[5], 10);
  const seconds = parseFloat(process.argv[6]);
  const camp = await getJson('/campaign');
  const qs = camp.questions.map((q) => fold(q.text));
  const thanks = fold(camp.thanks);
  const s = await connect();
  const r = await call(s, 'bind_transceiver', { system_id: 'hailong', password: 'secret' });
  if (r.command_status !== 0) { log('bind refused ' + r.command_status); process.exit(1); }
  const pos = new Map();
  const sentAt = new Map();
  const lat = [];
  let steps = 0, submits = 0, surveys = 0, stop = false;
  const t0 = Date.now();
  const send = (who) => {
    const q = pos.get(who);
    const text = q < qs.length ? qs[q] : thanks;
    submits++;
    s.submit_sm({ source_addr: '8088', destination_addr: who, short_message: text }, () => {});
  };
  s.on('deliver_sm', (pdu) => {
    s.send(pdu.response());
    const who = pdu.source_addr;
    if (!pos.has(who) || (pdu.esm_class & 0x04)) return;
    const udh = pdu.short_message && pdu.short_message.udh && pdu.short_message.udh.find((u) => u[0] === 0);
    if (udh && udh[4] !== udh[3]) return;
    steps++;
    const t = sentAt.get(who);
    if (t) lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    let q = pos.get(who) + 1;
    if (q === qs.length) {
      pos.set(who, q);
      send(who); // thanks
      surveys++;
      q = 0;
    }
    if (stop) return;
    pos.set(who, q);
    sentAt.set(who, process.hrtime.bigint());
    send(who);
  });
  for (let i = 1; i <= n; i++) {
    const who = msisdn(i);
    pos.set(who, 0);
    sentAt.set(who, process.hrtime.bigint());
    send(who);
  }
  setTimeout(() => {
    stop = true;
    const el = (Date.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.round(p * (lat.length - 1)))] : 0);
    process.stdout.write(JSON.stringify({ citizens: n, seconds: el, steps, submits, surveys,
      steps_per_s: steps / el, latency_ms: { n: lat.length, p50: pct(0.5), p99: pct(0.99), max: pct(1) } }) + '\n');
    process.exit(0);
  }, seconds * 1000);
}

(mode === 'check' ? check() : mode === 'bench' ? bench() : Promise.reject(new Error('mode: check | bench')))
  .catch((e) => { log(e.stack || String(e)); process.exit(1); });
