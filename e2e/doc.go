// Package e2e holds end-to-end tests of the analysts' path through the
// real components, wired as `smsfw run` wires them: the SMSC simulator,
// the proxy in config mode with a policy file, the inspection chain
// building events, the event writer and store (SQLite on a temporary
// file), the review API with the proxy as its quarantine and the chain as
// its override target, the web console behind the admin protection, and
// an ESME sending traffic. It has no code of its own, only tests.
package e2e
