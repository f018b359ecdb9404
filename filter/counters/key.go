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

// KeyUint64 combines integers (a peer id and a number, say) into a key.
func KeyUint64(parts ...uint64) uint64 {
	h := uint64(len(parts)) * 0x9E3779B97F4A7C15
	for _, p := range parts {
		h = combine(h, fmix(p^0xD6E8FEB86659FD93))
	}
	return fmix(h)
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
