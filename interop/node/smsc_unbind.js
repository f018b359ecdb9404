// A node-smpp SMSC that unbinds with deliveries in flight: when a line
// "go" arrives on stdin it sends COUNT MO to the session bound last that
// can receive and unbinds at once. It prints its port first, then one JSON
// line: the deliveries' statuses, whether the unbind_resp came after every
// deliver_sm_resp, and the milliseconds from the unbind to its answer.
// Usage: node smsc_unbind.js COUNT
'use strict';
const smpp = require('smpp');
const readline = require('readline');

const count = parseInt(process.argv[2] || '20', 10);
const statuses = {};
const order = [];
let receiver = null, unbindAt = 0, unbindMs = 0;
const deadline = setTimeout(() => finish('timeout'), 30000);

const server = smpp.createServer({}, (session) => {
  session.on('error', () => {});
  session.on('bind_transceiver', (pdu) => { session.send(pdu.response({system_id: 'nodesmsc'})); receiver = session; });
  session.on('bind_receiver', (pdu) => { session.send(pdu.response({system_id: 'nodesmsc'})); receiver = session; });
  session.on('bind_transmitter', (pdu) => session.send(pdu.response({system_id: 'nodesmsc'})));
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('close', () => { if (unbindAt) finish('ok'); });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({port: server.address().port})));

readline.createInterface({input: process.stdin}).on('line', (line) => {
  if (line.trim() !== 'go') return;
  if (!receiver) return finish('no receiver bound');
  for (let i = 0; i < count; i++) {
    receiver.deliver_sm({source_addr: '4917' + String(i).padStart(8, '0'), source_addr_ton: 1, source_addr_npi: 1,
      destination_addr: '12345', short_message: 'MO before unbind ' + i}, (resp) => {
      order.push('deliver_sm_resp');
      statuses[resp.command_status] = (statuses[resp.command_status] || 0) + 1;
    });
  }
  unbindAt = Date.now();
  receiver.unbind(() => {
    unbindMs = Date.now() - unbindAt;
    order.push('unbind_resp');
    finish('ok');
  });
});

let done = false;
function finish(result) {
  if (done) return;
  done = true;
  clearTimeout(deadline);
  const answers = order.filter((x) => x === 'deliver_sm_resp').length;
  console.log(JSON.stringify({result, answers, statuses, unbindMs,
    unbindLast: order[order.length - 1] === 'unbind_resp' && answers === count}));
}
