//go:build race

package counters

const raceEnabled = true
