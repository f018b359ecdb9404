package counters

import (
	"hash/maphash"
	"math/bits"
)

// keySeed is chosen once per process: keys are stable for the life of the
// process (all that in-memory counters need) but not across restarts, and
// an outsider cannot craft colliding texts or numbers without it.
var keySeed = maphash.MakeSeed()

// Key hashes parts into a 64-bit key with the runtime's AES-based maphash
// (seeded once per process). Part boundaries count: Key([]byte("ab"),
// []byte("c")) != Key([]byte("a"), []byte("bc")). It does not allocate.
// Do not persist keys or share them between processes, unless
// UseStableKeys made them stable.
func Key(parts ...[]byte) uint64 {
	h := uint64(len(parts)) * 0x9E3779B97F4A7C15
	for _, p := range parts {
		h = combine(h, hashBytes(p))
	}
	return fmix(h)
}

// KeyString is Key for strings (peer names, configuration values).
func KeyString(parts ...string) uint64 {
	h := uint64(len(parts)) * 0x9E3779B97F4A7C15
	for _, p := range parts {
		h = combine(h, hashString(p))
	}
	return fmix(h)
}

// KeyString1 is KeyString(s) of one part, without building the variadic
// slice (the facts' sender, destination and peer hashes).
func KeyString1(s string) uint64 {
	return fmix(combine(0x9E3779B97F4A7C15, hashString(s)))
}

// KeyUint64 combines integers (a peer id and a number, say) into a key.
func KeyUint64(parts ...uint64) uint64 {
	h := uint64(len(parts)) * 0x9E3779B97F4A7C15
	for _, p := range parts {
		h = combine(h, Mix(p))
	}
	return fmix(h)
}

// Mix is the mixing KeyUint64 applies to each part, for a part that goes
// into several keys of one message (a peer hash shared by rate limits):
// mix it once, then KeyMixed2(Mix(a), Mix(b)) == KeyUint64(a, b) and
// KeyMixed3(Mix(a), Mix(b), Mix(c)) == KeyUint64(a, b, c).
func Mix(p uint64) uint64 { return fmix(p ^ 0xD6E8FEB86659FD93) }

// KeyMixed2 is KeyUint64 of two parts already passed through Mix (the
// constants are 2 and 3 times KeyUint64's, modulo 2^64).
func KeyMixed2(a, b uint64) uint64 {
	return fmix(combine(combine(0x3C6EF372FE94F82A, a), b))
}

// KeyMixed3 is KeyUint64 of three parts already passed through Mix.
func KeyMixed3(a, b, c uint64) uint64 {
	return fmix(combine(combine(combine(0xDAA66D2C7DDF743F, a), b), c))
}

// combine folds x into h, order-dependently.
func combine(h, x uint64) uint64 {
	return bits.RotateLeft64((h^x)*0xC2B2AE3D27D4EB4F, 31) + 0x165667B19E3779F9
}

// fmix is a 64-bit avalanche finaliser (xor-shift-multiply rounds): a
// bijection on uint64, so distinct inputs stay distinct.
func fmix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xFF51AFD7ED558CCD
	x ^= x >> 33
	x *= 0xC4CEB9FE1A85EC53
	x ^= x >> 33
	return x
}
