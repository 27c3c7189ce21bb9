// loadgen.js: one neutral SMPP load generator (npm `smpp`) for `make bench`: it
// plays the SMSC and closed-loop citizens, and measures any ESME that answers a
// citizen's MO with a message back (hailongd's next question, or Kannel's fixed
// reply). Usage:
//   node loadgen.js --port P --citizens N --seconds S [--warmup S] [--rate R [--tick MS]] [--batch 0]
//                   [--trigger URL --token T --campaign C --end TEXT]
// Binds are accepted with any credentials. Each citizen sends an MO ("1") and
// waits for the next submit_sm to its number; that answer is one step, timed
// from the deliver_sm written to the submit_sm read. The citizen then answers
// at once (or, with --rate R, when the global pace of R MOs per second lets
// it; the pace is refilled every --tick ms, default 10: a tick releases
// rate*tick/1000 MOs together). submit_sm gets submit_sm_resp at once, and a delivery receipt when it
// asks for one. With --trigger, every citizen's survey is started through
// hailongd's HTTP API, and again when a text containing --end arrives (that
// text is still a step: it answers the last MO). Prints one JSON line:
// {"steps", "steps_per_s", "latency_ms": {n, p50, p95, p99, max},
// "loop_delay_ms": {p50, p99, max}, ...}, over the S seconds after the
// warm-up; loop_delay_ms is how late the generator's own event loop ran (a
// 10 ms timer's lateness): a step's latency cannot be told below it. Exits 1 when no step was measured.
'use strict';
const http = require('http');
const smpp = require('smpp');

const opt = { port: 0, citizens: 100, seconds: 10, warmup: 2, rate: 0, tick: 10, batch: 1, trigger: '', token: '', campaign: '', end: '' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in opt)) { process.stderr.write('loadgen: unknown option --' + k + '\n'); process.exit(2); }
  opt[k] = typeof opt[k] === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
const log = (m) => process.stderr.write('[loadgen] ' + m + '\n');
const msisdn = (i) => '8497' + String(i).padStart(7, '0');

const citizens = [];        // {num, sentAt (hrtime ns of the MO), waiting}
const byNum = new Map();
for (let i = 1; i <= opt.citizens; i++) {
  const c = { num: msisdn(i), sentAt: 0n, waiting: false, surveys: 0 };
  citizens.push(c);
  byNum.set(c.num, c);
}
let session = null;
let nextId = 1;
let measuring = false, done = false;
let steps = 0, stepsAll = 0, triggers = 0, triggerErrors = 0, receipts = 0;
const lat = [];
// the generator's own event-loop delay: a floor under any latency it measures
const loopDelay = require('perf_hooks').monitorEventLoopDelay({ resolution: 10 });
const paced = [];            // citizens waiting for the pace (with --rate)
let tokens = 0;

// The writes of one callback leave together: the session's socket is corked
// at the first and uncorked once the callback is over (one writev rather
// than a write per PDU: the generator's own work is measured as latency
// too). --batch 0 writes each PDU at once, as versions before did (bench.py
// uses it for the closed-loop runs that compare hailongd with Kannel).
let corked = null;
function cork(s) {
  if (!opt.batch || corked === s.socket) return;
  if (corked) corked.uncork();
  corked = s.socket;
  corked.cork();
  process.nextTick(() => { if (corked) { corked.uncork(); corked = null; } });
}

// Texts are handed to node-smpp as bytes: the same bytes it would encode
// (GSM digits; the receipt in IA5, data_coding 1, as it detects for such
// a text), without its detection and encoding for every PDU.
const ONE = Buffer.from('1', 'latin1');

function sendMo(c) {
  if (done || !session) return;
  if (opt.rate > 0) {
    if (tokens < 1) { paced.push(c); return; }
    tokens -= 1;
  }
  c.waiting = true;
  cork(session);
  c.sentAt = process.hrtime.bigint();
  session.deliver_sm({ source_addr: c.num, source_addr_ton: 1, source_addr_npi: 1,
    destination_addr: '8088', data_coding: 0, short_message: ONE });
}

if (opt.rate > 0) {
  // refill every tick by the time that really passed (timers run late);
  // a burst never exceeds 50 ms of the rate
  let last = process.hrtime.bigint();
  setInterval(() => {
    const now = process.hrtime.bigint();
    tokens = Math.min(tokens + opt.rate * Number(now - last) / 1e9, Math.max(1, opt.rate / 20));
    last = now;
    while (tokens >= 1 && paced.length) sendMo(paced.shift());
  }, opt.tick);
}

// Citizens answering at once: all those of one read answer in one callback
// (with --batch 0, each in its own).
const answering = [];
function answer(c) {
  if (!opt.batch) setImmediate(() => sendMo(c));
  else if (answering.push(c) === 1)
    setImmediate(() => answering.splice(0).forEach(sendMo));
}

// the office's system keeps its connections to the API open
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
function trigger(c) {
  const body = JSON.stringify({ campaign: opt.campaign, msisdn: c.num, agency: 'bench',
    transaction_id: 'LG-' + c.num + '-' + (++c.surveys) });
  const u = new URL(opt.trigger + '/v1/triggers');
  const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + opt.token,
      'Content-Length': Buffer.byteLength(body) } }, (res) => {
    res.resume();
    if (res.statusCode === 202) triggers++;
    else { triggerErrors++; log('trigger ' + c.num + ': HTTP ' + res.statusCode); }
  });
  req.on('error', (e) => { triggerErrors++; log('trigger: ' + e.message); });
  req.end(body);
}

function textOf(pdu) {
  const sm = pdu.short_message;
  if (pdu.message_payload) return String(pdu.message_payload.message || pdu.message_payload);
  return typeof sm === 'string' ? sm : (sm && sm.message) || '';
}

const server = smpp.createServer({}, (s) => {
  s.socket.setNoDelay(true); // no Nagle delay on small PDUs: it would be measured as latency
  const bind = (pdu) => {
    s.send(pdu.response({ system_id: 'loadgen' }));
    if (pdu.command === 'bind_transmitter') return;
    const first = !session;
    session = s;
    log(pdu.command + ' from ' + pdu.system_id);
    if (first) start();
  };
  s.on('bind_transceiver', bind);
  s.on('bind_transmitter', bind);
  s.on('bind_receiver', bind);
  s.on('enquire_link', (pdu) => s.send(pdu.response()));
  s.on('unbind', (pdu) => { s.send(pdu.response()); s.close(); });
  s.on('close', () => { if (session === s) session = null; });
  s.on('error', (e) => log('session error ' + e.message));
  s.on('deliver_sm_resp', () => {});
  s.on('submit_sm', (pdu) => {
    const id = (nextId++).toString(16);
    cork(s);
    s.send(pdu.response({ message_id: id }));
    const c = byNum.get(pdu.destination_addr);
    if (pdu.registered_delivery & 1 && session) {
      receipts++;
      session.deliver_sm({ source_addr: pdu.destination_addr, destination_addr: '8088', esm_class: 0x04,
        data_coding: 1, short_message: Buffer.from(`id:${id} sub:001 dlvrd:001 submit date:2611211030 ` +
          'done date:2611211031 stat:DELIVRD err:000 text:', 'latin1') });
    }
    if (!c) return;
    const text = textOf(pdu);
    if (c.waiting) {
      c.waiting = false;
      stepsAll++;
      if (measuring) {
        steps++;
        lat.push(Number(process.hrtime.bigint() - c.sentAt) / 1e6);
      }
    }
    if (opt.end && text.includes(opt.end)) { if (!done) trigger(c); return; }
    answer(c);
  });
});

let t0 = 0;
function start() {
  log(`bound: ${opt.citizens} citizens, warm-up ${opt.warmup}s, ${opt.seconds}s measured` +
      (opt.rate > 0 ? `, ${opt.rate} MO/s` : ', closed loop'));
  if (opt.trigger) citizens.forEach(trigger);
  else citizens.forEach((c) => sendMo(c));
  setTimeout(() => { measuring = true; t0 = Date.now(); loopDelay.enable(); }, opt.warmup * 1000);
  setTimeout(finish, (opt.warmup + opt.seconds) * 1000);
}

function finish() {
  done = true;
  measuring = false;
  const el = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  loopDelay.disable();
  // monitorEventLoopDelay counts from its timer's due time, in ns
  const ms = (ns) => Math.round(Math.max(0, ns / 1e6 - 10) * 1000) / 1000;
  const pct = (p) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.floor(p * (lat.length - 1) + 0.5))] * 1000) / 1000 : null);
  process.stdout.write(JSON.stringify({ steps, seconds: el, steps_per_s: steps / el, steps_all: stepsAll,
    citizens: opt.citizens, rate: opt.rate, triggers, trigger_errors: triggerErrors, receipts,
    latency_ms: { n: lat.length, p50: pct(0.5), p95: pct(0.95), p99: pct(0.99), max: pct(1) },
    loop_delay_ms: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) } }) + '\n');
  process.exit(steps > 0 ? 0 : 1);
}

server.listen(opt.port, '127.0.0.1', () => log('listening on 127.0.0.1:' + opt.port));
// no ESME within 30 s: nothing to measure
setTimeout(() => { if (!session && !t0) { log('no bind within 30 s'); process.exit(1); } }, 30000);
