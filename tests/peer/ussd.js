// ussd.js: a USSD centre that is not ours (npm `smpp`), playing the operator's
// USSD gateway and the citizens for hailong's USSD end-to-end test. Usage:
//   node ussd.js PORT TIMEOUT_S OPS CODE MSISDN:PLAN...
// OPS = "pssr_indication,pssr_response,ussr_request,ussr_confirm" as numbers
// (vendor values: the gateway must be configured with the same). CODE is the
// service code a citizen dials. PLAN says what citizen MSISDN does:
//   push     answers every pushed screen
//   ignore   lets the pushed screen time out, waits for the SMS invite, dials
//   drop     lets the pushed screen time out, dials again 1 s later
//   midway   answers screen 1, lets screen 2 time out, dials again
//   release  answers screen 1, the network releases the session (a vendor
//            op 0x20), dials again
//   none     has no survey: dials and must get a final "no survey" screen
// Every deliver_sm of a session carries its_session_info (a new id per
// session); every screen of a session must echo it, carry service_type USSD,
// never be concatenated, and be ussr_request (expects an answer) or
// pssr_response (ends). Answers are printed as JSON lines; exit 0 once every
// citizen's plan is done, 1 on timeout or on a protocol error.
'use strict';
const smpp = require('smpp');

const args = process.argv.slice(2);
const port = parseInt(args[0], 10);
const timeoutS = parseInt(args[1], 10);
const [opInd, opResp, opReq, opConf] = args[2].split(',').map((x) => parseInt(x));
const code = args[3];
const plans = new Map(args.slice(4).map((a) => a.split(':')));
const OP_RELEASE = 0x20;
const st = new Map(); // msisdn -> {sess, answered, done, dialled, phase}
let session = null;
let nextId = 0x5000;
let nextSess = 0x10;
let done = 0;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const log = (m) => process.stderr.write('[ussd] ' + m + '\n');
const fail = (m) => { log('FAIL ' + m); out({ error: m }); process.exit(1); };

for (const m of plans.keys()) st.set(m, { sess: null, answered: 0, done: false, phase: 0, screens: 0 });

function deliver(msisdn, text, op, sess) {
  const pdu = {
    source_addr: msisdn, source_addr_ton: 1, source_addr_npi: 1,
    destination_addr: '8088', data_coding: 0x01, short_message: Buffer.from(text, 'latin1'),
    ussd_service_op: op,
  };
  if (sess !== null) pdu.its_session_info = Buffer.from([0, sess << 1]);
  const send = () => {
    if (!session) { setTimeout(send, 100); return; }
    session.deliver_sm(pdu, (r) => { if (r.command_status !== 0) log('deliver_sm status ' + r.command_status); });
  };
  send();
}

function dial(msisdn) {
  const c = st.get(msisdn);
  c.sess = nextSess++;
  c.dialled = (c.dialled || 0) + 1;
  log(msisdn + ' dials ' + code + ' (session ' + c.sess + ')');
  deliver(msisdn, code, opInd, c.sess);
}

function finish(msisdn, ev) {
  const c = st.get(msisdn);
  if (c.done) return;
  c.done = true;
  done++;
  out(Object.assign({ msisdn, event: 'done', answered: c.answered, dialled: c.dialled || 0 }, ev || {}));
  if (done === plans.size) setTimeout(() => process.exit(0), 300);
}

function onScreen(msisdn, text, op, pdu) {
  const c = st.get(msisdn);
  const plan = plans.get(msisdn);
  if (!c) return fail('a screen for a number that is not ours: ' + msisdn);
  if (pdu.service_type !== 'USSD') fail(msisdn + ': service_type "' + pdu.service_type + '"');
  if (pdu.esm_class & 0x40 || pdu.sar_total_segments) fail(msisdn + ': a concatenated screen');
  if (op !== opReq && op !== opResp) fail(msisdn + ': op ' + op);
  // a screen inside a session the centre opened (a dial or an answer) echoes its id
  const echo = pdu.its_session_info ? pdu.its_session_info[1] >> 1 : null;
  if (c.sess !== null && echo !== c.sess) fail(msisdn + ': its_session_info ' + echo + ', session is ' + c.sess);
  if (c.sess === null && echo !== null) fail(msisdn + ': a push echoes session ' + echo);
  c.screens++;
  const m = /Cau (\d+)\/(\d+)/i.exec(text);
  log(msisdn + ' [' + plan + '] op=' + op + ' screen: ' + JSON.stringify(text.slice(0, 60)));
  if (op === opResp) {
    c.sess = null;
    if (plan === 'none') {
      if (!/khong co khao sat/i.test(text)) fail('none: ' + text);
      return finish(msisdn, { final: text });
    }
    if (!c.answered) fail(msisdn + ': a final screen before any answer: ' + text);
    return finish(msisdn, { final: text });
  }
  if (!m) fail(msisdn + ': a ussr_request without an item: ' + text);
  const n = parseInt(m[1], 10);
  if (c.expect && n !== c.expect) fail(msisdn + ': resumed at item ' + n + ', expected ' + c.expect);
  c.expect = 0;
  const lapse = (then) => { c.sess = null; setTimeout(then, 1000); };
  if ((plan === 'drop' || plan === 'ignore') && c.phase === 0) {
    c.phase = 1;
    c.expect = 1;
    if (plan === 'drop') return lapse(() => dial(msisdn));
    c.sess = null;
    return; // waits for the SMS invite
  }
  if (plan === 'midway' && c.phase === 0 && n === 2) {
    c.phase = 1;
    c.expect = 2;
    return lapse(() => dial(msisdn));
  }
  if (plan === 'release' && c.phase === 0 && n === 2) {
    // the network releases the session instead of showing screen 2
    c.phase = 1;
    c.expect = 2;
    deliver(msisdn, '', OP_RELEASE, c.sess);
    c.sess = null;
    return setTimeout(() => dial(msisdn), 800);
  }
  const value = 1 + ((n + parseInt(msisdn.slice(-1), 10)) % 5);
  c.answered++;
  out({ msisdn, n, key: String(value) });
  const sess = c.sess === null ? (c.sess = nextSess++) : c.sess;
  setTimeout(() => deliver(msisdn, String(value), opConf, sess), 30);
}

const server = smpp.createServer({}, (s) => {
  const bind = (pdu) => {
    s.send(pdu.response({ system_id: 'node-ussd' }));
    if (pdu.command !== 'bind_transmitter') session = s;
  };
  s.on('bind_transceiver', bind);
  s.on('bind_transmitter', bind);
  s.on('bind_receiver', bind);
  s.on('enquire_link', (pdu) => s.send(pdu.response()));
  s.on('unbind', (pdu) => { s.send(pdu.response()); s.close(); });
  s.on('close', () => { if (session === s) session = null; });
  s.on('deliver_sm_resp', () => {});
  s.on('submit_sm', (pdu) => {
    s.send(pdu.response({ message_id: (nextId++).toString(16) }));
    const sm = pdu.short_message;
    const text = typeof sm === 'string' ? sm : (sm.message || '');
    const msisdn = pdu.destination_addr;
    if (pdu.ussd_service_op === undefined) {
      // an SMS: the invitation to dial
      log(msisdn + ' SMS: ' + JSON.stringify(text));
      out({ msisdn, event: 'sms', text });
      const c = st.get(msisdn);
      if (c && plans.get(msisdn) === 'ignore' && c.phase === 1 && text.includes(code)) {
        c.phase = 2;
        setTimeout(() => dial(msisdn), 200);
      }
      return;
    }
    onScreen(msisdn, text, pdu.ussd_service_op, pdu);
  });
});
server.listen(port, '127.0.0.1');
log('listening on ' + port + ', ops ind=' + opInd + ' resp=' + opResp + ' req=' + opReq + ' conf=' + opConf);
for (const [m, plan] of plans) if (plan === 'none') setTimeout(() => dial(m), 1500);
setTimeout(() => {
  log('timeout: ' + JSON.stringify([...st].filter(([, c]) => !c.done)));
  process.exit(1);
}, timeoutS * 1000);
