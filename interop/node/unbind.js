// A node-smpp ESME that sends COUNT submit_sm and unbinds at once, with
// them all in flight; prints one JSON line: the answers it got and
// whether unbind_resp came after all of them.
'use strict';
const smpp = require('smpp');

const [host, port] = process.argv[2].split(':');
const count = parseInt(process.argv[3] || '20', 10);
const order = [];
const statuses = {};
const deadline = setTimeout(() => finish('timeout'), 30000);

const session = smpp.connect({url: `smpp://${host}:${port}`});
session.on('error', (e) => finish('error: ' + e.message));
session.bind_transceiver({system_id: 'nodeesme', password: 'pw'}, (pdu) => {
  if (pdu.command_status !== 0) return finish('bind refused ' + pdu.command_status);
  for (let i = 0; i < count; i++) {
    session.submit_sm({source_addr: 'NodeShop', source_addr_ton: 5, destination_addr: '4915112345678',
      short_message: 'in flight ' + i}, (resp) => {
      order.push('submit_sm_resp');
      statuses[resp.command_status] = (statuses[resp.command_status] || 0) + 1;
    });
  }
  session.unbind((resp) => {
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
  console.log(JSON.stringify({result, answers, statuses, unbindLast: order[order.length - 1] === 'unbind_resp' && answers === count}));
  setTimeout(() => process.exit(0), 100);
}
