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
