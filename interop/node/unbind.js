// A node-smpp ESME that sends COUNT submit_sm and unbinds at once, with
// them all in flight; prints one JSON line: the answers it got (their
// message ids), whether unbind_resp came after all of them, and the
// milliseconds from the unbind to its answer.
// Usage: node unbind.js HOST:PORT COUNT SYSTEM_ID PASSWORD
'use strict';
const smpp = require('smpp');

const [host, port] = process.argv[2].split(':');
const count = parseInt(process.argv[3] || '20', 10);
const systemID = process.argv[4] || 'nodeesme';
const password = process.argv[5] || 'pw';
const ids = [];
let unbindAt = 0, unbindMs = 0;
const order = [];
const statuses = {};
const deadline = setTimeout(() => finish('timeout'), 30000);

const session = smpp.connect({url: `smpp://${host}:${port}`});
session.on('error', (e) => finish('error: ' + e.message));
session.bind_transceiver({system_id: systemID, password}, (pdu) => {
  if (pdu.command_status !== 0) return finish('bind refused ' + pdu.command_status);
  for (let i = 0; i < count; i++) {
    session.submit_sm({source_addr: 'NodeShop', source_addr_ton: 5, destination_addr: '4915112345678',
      short_message: 'in flight ' + i}, (resp) => {
      order.push('submit_sm_resp');
      ids.push(resp.message_id || '');
      statuses[resp.command_status] = (statuses[resp.command_status] || 0) + 1;
    });
  }
  unbindAt = Date.now();
  session.unbind((resp) => {
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
  const answers = order.filter((x) => x === 'submit_sm_resp').length;
  console.log(JSON.stringify({result, answers, statuses, ids, unbindMs,
    unbindLast: order[order.length - 1] === 'unbind_resp' && answers === count}));
  setTimeout(() => process.exit(0), 100);
}
