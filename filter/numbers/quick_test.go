package numbers

import (
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
)

func TestLookupQuick(t *testing.T) {
	r, err := NewResolver("DE", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cases := []struct {
		ton    byte
		addr   string
		cc     int
		region string
	}{
		{1, "4915112345678", 49, "DE"},
		{1, "447700900123", 44, "GB"},
		{1, "12025550123", 1, "US"},
		{2, "015112345678", 49, "DE"},
		{1, "80012345678", 800, ""},
	}
	for _, c := range cases {
		info, complete := r.LookupQuick(c.ton, 1, []byte(c.addr))
		if complete {
			t.Fatalf("%s: complete on first sight", c.addr)
		}
		if info.CountryCode != c.cc || info.Region != c.region || info.Valid {
			t.Fatalf("%s: quick %+v", c.addr, info)
		}
		want := r.Lookup(c.ton, 1, []byte(c.addr)) // the full answer
		var got Info
		testutil.Eventually(t, 5*time.Second, c.addr+" parsed in the background", func() bool {
			var complete bool
			got, complete = r.LookupQuick(c.ton, 1, []byte(c.addr))
			return complete
		})
		if got != want {
			t.Fatalf("%s: %+v, want %+v", c.addr, got, want)
		}
	}
	if info, complete := r.LookupQuick(5, 0, []byte("MyBank")); !complete || info.Valid {
		t.Fatalf("alphanumeric: %+v %v", info, complete)
	}
}
