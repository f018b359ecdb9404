package pumping

import "testing"

// regionKey must keep distinct region codes distinct.
func TestRegionKeyDistinct(t *testing.T) {
	seen := map[uint64]string{}
	for _, r := range []string{"", "D", "DE", "DE\x00", "ED", "001", "01", "1", "GB", "ZZ", "longregion", "longregion2"} {
		k := regionKey(r)
		if o, dup := seen[k]; dup {
			t.Fatalf("regionKey(%q) == regionKey(%q)", r, o)
		}
		seen[k] = r
	}
}

// regionKey's two-letter shortcut packs as its loop does.
func TestRegionKeyTwoLetters(t *testing.T) {
	for _, r := range []string{"DE", "GB", "ZZ", "\x00\x00", "\xff\xff", "a1"} {
		want := uint64(len(r)) << 56
		for i := 0; i < len(r); i++ {
			want |= uint64(r[i]) << (8 * i)
		}
		if got := regionKey(r); got != want {
			t.Errorf("regionKey(%q) = %#x, want %#x", r, got, want)
		}
	}
}
