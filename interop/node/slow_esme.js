// A node-smpp ESME that answers each deliver_sm DELAY ms after it arrives
// and, asked to unbind, answers only once its deliveries are answered (as a
// careful ESME does). Prints one JSON line when its connection closes: the
// deliveries it answered and whether it was unbound.
// Usage: node slow_esme.js HOST:PORT DELAY SYSTEM_ID PASSWORD
'use strict';
const smpp = require('smpp');

const [host, port] = process.argv[2].split(':');
const delay = parseInt(process.argv[3] || '500', 10);
const systemID = process.argv[4] || 'nodeesme';
const password = process.argv[5] || 'pw';
let delivered = 0, pending = 0, unbound = false, unbindPDU = null;
const deadline = setTimeout(() => finish('timeout'), 30000);

const session = smpp.connect({url: `smpp://${host}:${port}`});
session.on('error', (e) => finish('error: ' + e.message));
session.on('close', () => finish('ok'));
session.bind_transceiver({system_id: systemID, password}, (pdu) => {
  if (pdu.command_status !== 0) return finish('bind refused ' + pdu.command_status);
  console.log(JSON.stringify({bound: true}));
});
session.on('deliver_sm', (pdu) => {
  pending++;
  setTimeout(() => {
    session.send(pdu.response());
    delivered++;
    pending--;
    maybeUnbind();
  }, delay);
});
session.on('unbind', (pdu) => { unbindPDU = pdu; maybeUnbind(); });

function maybeUnbind() {
  if (!unbindPDU || pending > 0) return;
  session.send(unbindPDU.response());
  unbindPDU = null;
  unbound = true;
  setTimeout(() => session.close(), 50);
}

let done = false;
function finish(result) {
  if (done) return;
  done = true;
  clearTimeout(deadline);
  console.log(JSON.stringify({result, delivered, unbound}));
  setTimeout(() => process.exit(0), 100);
}
