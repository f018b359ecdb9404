// Package testutil holds what smsfw's tests share: waiting on a condition
// instead of sleeping, and checking that a condition holds for a while.
package testutil

import (
	"testing"
	"time"
)

// poll is how often conditions are checked.
const poll = 5 * time.Millisecond

// Eventually waits until cond is true, failing the test with what when it
// is not within d. Tests wait on conditions, never on sleeps.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(poll)
	}
}

// Consistently checks that cond stays true for d: the one honest way to
// assert that something does not happen (a refused message that must not
// reach the SMSC, a window that must not be exceeded).
func Consistently(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s: stopped holding", what)
		}
		time.Sleep(poll)
	}
}
