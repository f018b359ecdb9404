// Package proxy is smsfw's session layer: it accepts peer binds, binds onward
// to the SMSC, remaps sequence numbers per leg, correlates responses, enforces
// windows and carries out filter verdicts. It owns the invariant that every
// request on every leg gets exactly one response. It knows nothing of rules.
//
// Data flow for an MT message: the peer's read loop frames a PDU (a view,
// no copy), parses it, asks the Inspector, takes a slot in the peer's window
// and in an upstream leg's window (blocking both when full, which stops
// reading the peer's socket), patches the sequence number to the leg's own
// space, records the pending request and appends the original bytes to the
// leg's coalescing writer. The leg's read loop correlates the response,
// patches the peer's sequence number back and relays it. Whoever removes a
// pending entry (response, timeout, leg loss) answers it: exactly once.
package proxy
