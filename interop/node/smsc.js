// A node-smpp SMSC that does not retry: it answers binds, enquire_link and
// submit_sm (increasing ids), and when a line "go" arrives on stdin it sends
// COUNT MO and COUNT receipts at once, without a window of its own, to the
// session bound last that can receive. It prints its port first, then one
// JSON line with the statuses the deliveries were answered with and the
// milliseconds from the burst to the last answer.
// Usage: node smsc.js COUNT
'use strict';
const smpp = require('smpp');
const readline = require('readline');

const count = parseInt(process.argv[2] || '3000', 10);
const statuses = {};
let answered = 0, burstAt = 0, receiver = null;
const deadline = setTimeout(() => finish('timeout'), 90000);

const server = smpp.createServer({}, (session) => {
  session.on('error', () => {});
  let id = 5000000;
  session.on('bind_transceiver', (pdu) => { session.send(pdu.response({system_id: 'nodesmsc'})); receiver = session; });
  session.on('bind_receiver', (pdu) => { session.send(pdu.response({system_id: 'nodesmsc'})); receiver = session; });
  session.on('bind_transmitter', (pdu) => session.send(pdu.response({system_id: 'nodesmsc'})));
  session.on('submit_sm', (pdu) => session.send(pdu.response({message_id: String(id++)})));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => { session.send(pdu.response()); session.close(); });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({port: server.address().port})));

readline.createInterface({input: process.stdin}).on('line', (line) => {
  if (line.trim() !== 'go') return;
  if (!receiver) return finish('no receiver bound');
  burst(receiver);
});

function burst(session) {
  burstAt = Date.now();
  for (let i = 0; i < count; i++) {
    session.deliver_sm({source_addr: '4917' + String(i).padStart(8, '0'), source_addr_ton: 1, source_addr_npi: 1,
      destination_addr: '12345', short_message: 'MO number ' + i}, answer);
    const mid = String(9000000 + i);
    session.deliver_sm({source_addr: '4915112345678', destination_addr: 'NodeShop', esm_class: 0x04,
      short_message: 'id:' + mid + ' sub:001 dlvrd:001 submit date:2612040000 done date:2612040000 stat:DELIVRD err:000 text:x',
      receipted_message_id: mid, message_state: 2}, answer);
  }
}

function answer(resp) {
  statuses[resp.command_status] = (statuses[resp.command_status] || 0) + 1;
  if (++answered === 2 * count) finish('ok');
}

let done = false;
function finish(result) {
  if (done) return;
  done = true;
  clearTimeout(deadline);
  // Still listening: smsfw may reconnect; the test ends the process.
  console.log(JSON.stringify({result, sent: 2 * count, answered, statuses, ms: burstAt ? Date.now() - burstAt : 0}));
}
