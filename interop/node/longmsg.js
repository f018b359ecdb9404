// A node-smpp ESME sending concatenated messages the way many applications
// do: all parts of a message at once (GSM with UDH 05 00 03 and UCS-2 with
// UDH 06 08 04, every third message last part first), at most WINDOW parts
// unanswered, a receipt requested for every part. With SESSIONS > 1 the
// parts of each message are spread over that many transceiver sessions of
// the same system_id (part n on session (n-1) mod SESSIONS), as
// load-balancing applications do. It answers every deliver_sm and prints
// one JSON line: the answers by session and sequence number, the message
// ids it was given and the receipts that came back under them, and the
// milliseconds from the binds to the last answer and to the last receipt.
// Usage: node longmsg.js HOST:PORT COUNT WINDOW SESSIONS SYSTEM_ID PASSWORD
'use strict';
const smpp = require('smpp');

const [host, port] = process.argv[2].split(':');
const count = parseInt(process.argv[3] || '1000', 10);
const window = parseInt(process.argv[4] || '60', 10);
const nsessions = parseInt(process.argv[5] || '1', 10);
const systemID = process.argv[6] || 'nodelong';
const password = process.argv[7] || 'pw';
const parts = 3;
const deadline = setTimeout(() => finish('timeout'), 90000);
// Stop early when nothing more arrives for 10 s (lost answers or receipts).
let progress = 0, lastProgress = -1;
const stall = setInterval(() => {
  if (progress === lastProgress) finish('stalled');
  lastProgress = progress;
}, 10000);

const answered = new Map(); // session:sequence number -> answers
const statuses = {};
const given = new Set(); // message ids in submit_sm_resp
const receiptsFor = new Map(); // receipted id -> receipts
let sent = 0, inflight = 0, dup = 0, receipts = 0, mismatched = 0;
let boundAt = 0, answeredMs = 0, receiptsMs = 0;

const sessions = [];
let bound = 0;
for (let k = 0; k < nsessions; k++) {
  const session = smpp.connect({url: `smpp://${host}:${port}`, auto_enquire_link_period: 10000});
  session.on('error', (e) => finish('error: ' + e.message));
  session.on('deliver_sm', (pdu) => {
    progress++;
    if (pdu.esm_class & 0x04) {
      receipts++;
      const text = Buffer.isBuffer(pdu.short_message) ? pdu.short_message.toString() :
        (pdu.short_message && pdu.short_message.message) || '';
      const m = /id:(\S+)/.exec(text);
      const id = pdu.receipted_message_id || (m && m[1]);
      if (m && pdu.receipted_message_id && m[1] !== pdu.receipted_message_id) mismatched++;
      receiptsFor.set(id, (receiptsFor.get(id) || 0) + 1);
      if (receipts === count * parts) receiptsMs = Date.now() - boundAt;
    }
    session.send(pdu.response());
    maybeDone();
  });
  session.bind_transceiver({system_id: systemID, password}, (pdu) => {
    if (pdu.command_status !== 0) return finish('bind refused ' + pdu.command_status);
    if (++bound === nsessions) {
      boundAt = Date.now();
      pump();
    }
  });
  sessions.push(session);
}

// Message i: even i GSM text with an 8-bit reference (UDH 05 00 03), odd i
// UCS-2 with a 16-bit reference (UDH 06 08 04); every third message's parts
// go out last part first.
function pump() {
  while (inflight + parts <= window && sent < count) {
    const i = sent++;
    const order = i % 3 === 2 ? [3, 2, 1] : [1, 2, 3];
    for (const n of order) {
      inflight++;
      let sm;
      if (i % 2 === 0) {
        const text = `Message ${i} part ${n}: ` + 'Your parcel is on its way. '.repeat(5);
        sm = {data_coding: 0, short_message: {udh: Buffer.from([0x05, 0x00, 0x03, i & 0xff, parts, n]), message: text.slice(0, 150)}};
      } else {
        const text = `Nachricht ${i} Teil ${n}: ` + 'Grüße aus Köln, '.repeat(4);
        sm = {data_coding: 8, short_message: {udh: Buffer.from([0x06, 0x08, 0x04, (i >> 8) & 0xff, i & 0xff, parts, n]), message: text.slice(0, 66)}};
      }
      const k = (n - 1) % nsessions;
      sessions[k].submit_sm(Object.assign({
        source_addr: 'NodeShop', source_addr_ton: 5,
        destination_addr: '49151' + String(i).padStart(8, '0'), dest_addr_ton: 1, dest_addr_npi: 1,
        registered_delivery: 1,
      }, sm), (resp) => {
        progress++;
        const key = k + ':' + resp.sequence_number; // each session numbers its own requests
        const c = (answered.get(key) || 0) + 1;
        answered.set(key, c);
        if (c > 1) dup++;
        statuses[resp.command_status] = (statuses[resp.command_status] || 0) + 1;
        if (resp.command_status === 0) given.add(resp.message_id);
        if (answered.size === count * parts) answeredMs = Date.now() - boundAt;
        inflight--;
        pump();
        maybeDone();
      });
    }
  }
}

function maybeDone() {
  if (answered.size === count * parts && receipts >= given.size) finish('ok');
}

let done = false;
function finish(result) {
  if (done) return;
  done = true;
  clearTimeout(deadline);
  clearInterval(stall);
  let unknown = 0, twice = 0, covered = 0;
  for (const [id, n] of receiptsFor) {
    if (!given.has(id)) unknown += n;
    else covered++;
    if (n > 1) twice++;
  }
  console.log(JSON.stringify({result, sessions: nsessions, messages: sent, parts: sent * parts, answered: answered.size, dup, statuses,
    given: given.size, receipts, covered, unknown, twice, mismatched, answeredMs, receiptsMs}));
  for (const session of sessions) {
    try { session.close(); } catch (e) { /* closing anyway */ }
  }
  setTimeout(() => process.exit(0), 100);
}
