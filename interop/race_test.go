//go:build race

package interop

// raceEnabled: the race detector slows third-party clients several times;
// tests that must keep phases apart in time allow for it.
const raceEnabled = true
