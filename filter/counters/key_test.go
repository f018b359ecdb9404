package counters

import "testing"

// keyUint64Oracle is KeyUint64 as it was written before Mix and KeyMixed*.
func keyUint64Oracle(parts ...uint64) uint64 {
	h := uint64(len(parts)) * 0x9E3779B97F4A7C15
	for _, p := range parts {
		h = combine(h, fmix(p^0xD6E8FEB86659FD93))
	}
	return fmix(h)
}

func checkMixed(t *testing.T, a, b, c uint64) {
	t.Helper()
	if got, want := KeyUint64(a, b), keyUint64Oracle(a, b); got != want {
		t.Errorf("KeyUint64(%#x, %#x) = %#x, oracle %#x", a, b, got, want)
	}
	if got, want := KeyMixed2(Mix(a), Mix(b)), keyUint64Oracle(a, b); got != want {
		t.Errorf("KeyMixed2(%#x, %#x) = %#x, KeyUint64 %#x", a, b, got, want)
	}
	if got, want := KeyMixed3(Mix(a), Mix(b), Mix(c)), keyUint64Oracle(a, b, c); got != want {
		t.Errorf("KeyMixed3(%#x, %#x, %#x) = %#x, KeyUint64 %#x", a, b, c, got, want)
	}
}

func TestKeyMixedMatchesKeyUint64(t *testing.T) {
	for _, tt := range []struct {
		name    string
		a, b, c uint64
	}{
		{"zeros", 0, 0, 0},
		{"ones", 1, 1, 1},
		{"max", ^uint64(0), ^uint64(0), ^uint64(0)},
		{"mix constant", 0xD6E8FEB86659FD93, 0, 0xD6E8FEB86659FD93},
		{"strings", KeyString("otp-per-peer"), KeyString("peer-a"), KeyString("4915112345678")},
		{"order", 2, 1, 3},
	} {
		t.Run(tt.name, func(t *testing.T) { checkMixed(t, tt.a, tt.b, tt.c) })
	}
}

func FuzzKeyMixed(f *testing.F) {
	f.Add(uint64(0), uint64(0), uint64(0))
	f.Add(uint64(1), uint64(2), uint64(3))
	f.Add(^uint64(0), uint64(0xD6E8FEB86659FD93), uint64(42))
	f.Fuzz(checkMixed)
}

// KeyString1 is KeyString of one part (the facts' hashes, which counters
// keep across a rules reload: their value must not change).
func TestKeyString1MatchesKeyString(t *testing.T) {
	for _, s := range []string{"", "a", "acme", "Shop", "4915112345678", "+4915112345678", string(make([]byte, 300))} {
		if got, want := KeyString1(s), KeyString(s); got != want {
			t.Errorf("KeyString1(%q) = %#x, KeyString %#x", s, got, want)
		}
	}
}

func FuzzKeyString1(f *testing.F) {
	f.Add("acme")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := KeyString1(s), KeyString(s); got != want {
			t.Errorf("KeyString1(%q) = %#x, KeyString %#x", s, got, want)
		}
	})
}
