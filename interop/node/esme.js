// A node-smpp ESME: binds as a transceiver (SYSTEM_ID, PASSWORD), sends
// COUNT submit_sm asking for receipts with at most WINDOW unanswered,
// answers every deliver_sm, and prints one JSON line: answers by status,
// duplicate answers, receipts, and the milliseconds from the bind's answer
// to the last answer and to the last receipt.
// Usage: node esme.js HOST:PORT COUNT WINDOW SYSTEM_ID PASSWORD
'use strict';
const smpp = require('smpp');

const [host, port] = process.argv[2].split(':');
const count = parseInt(process.argv[3] || '3000', 10);
const window = parseInt(process.argv[4] || '50', 10);
const systemID = process.argv[5] || 'nodeesme';
const password = process.argv[6] || 'pw';
const deadline = setTimeout(() => finish('timeout'), 60000);

const answered = new Map(); // sequence number -> answers
const statuses = {};
let receipts = 0, sent = 0, inflight = 0, dup = 0;
let bound = 0, answeredMs = 0, receiptsMs = 0;

const session = smpp.connect({url: `smpp://${host}:${port}`, auto_enquire_link_period: 10000});
session.on('error', (e) => finish('error: ' + e.message));
session.on('deliver_sm', (pdu) => {
  if (pdu.esm_class & 0x04 && ++receipts === count) receiptsMs = Date.now() - bound;
  session.send(pdu.response());
  maybeDone();
});
session.bind_transceiver({system_id: systemID, password}, (pdu) => {
  if (pdu.command_status !== 0) return finish('bind refused ' + pdu.command_status);
  bound = Date.now();
  pump();
});

function pump() {
  while (inflight < window && sent < count) {
    const i = sent++;
    inflight++;
    session.submit_sm({
      source_addr: 'NodeShop', source_addr_ton: 5,
      destination_addr: '49151' + String(i).padStart(8, '0'), dest_addr_ton: 1, dest_addr_npi: 1,
      short_message: 'Your code is ' + (100000 + i), registered_delivery: 1,
    }, (resp) => {
      const n = (answered.get(resp.sequence_number) || 0) + 1;
      answered.set(resp.sequence_number, n);
      if (n > 1) dup++;
      statuses[resp.command_status] = (statuses[resp.command_status] || 0) + 1;
      if (answered.size === count) answeredMs = Date.now() - bound;
      inflight--;
      pump();
      maybeDone();
    });
  }
}

function maybeDone() {
  if (answered.size === count && receipts >= count) finish('ok');
}

let done = false;
function finish(result) {
  if (done) return;
  done = true;
  clearTimeout(deadline);
  console.log(JSON.stringify({result, sent, answered: answered.size, dup, statuses, receipts, answeredMs, receiptsMs}));
  try { session.close(); } catch (e) { /* closing anyway */ }
  setTimeout(() => process.exit(0), 100);
}
