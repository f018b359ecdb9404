package numbers

import (
	"testing"
	"time"

	"github.com/smsfw/smsfw/internal/testutil"
)

// TestLookupQuick covers the path of numbers the table does not answer
// (the table is off here; TestLookupQuickTable covers it).
func TestLookupQuick(t *testing.T) {
	r, err := NewResolver("DE", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.notable = true
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

// Answering a number never seen before allocates nothing on the caller's
// side (the background parse does, on its own goroutine; it is kept from
// starting here so that it does not count).
func TestLookupQuickNewNumberDoesNotAllocate(t *testing.T) {
	r, err := NewResolver("DE", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.notable = true        // the fallback path; TestTableLookupAllocs covers the table's
	r.bg.once.Do(func() {}) // no background parser: jobs are dropped
	addr := []byte("4915100000000")
	i := 0
	n := testing.AllocsPerRun(200, func() {
		i++
		for j, v := len(addr)-1, i; j > 4; j-- {
			addr[j], v = byte('0'+v%10), v/10
		}
		if info, complete := r.LookupQuick(1, 1, addr); complete || info.Region != "DE" {
			t.Fatalf("%s: %+v %v", addr, info, complete)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per new number", n)
	}
}

// International numbers the table answers are complete on first sight,
// with the full answer, and queue no background parse; national ones still
// go to phonenumbers in the background.
func TestLookupQuickTable(t *testing.T) {
	r, err := NewResolver("DE", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, addr := range []string{"4915112345678", "447400123456", "12025550123", "80012345678"} {
		info, complete := r.LookupQuick(1, 1, []byte(addr))
		want, _ := parse("+"+addr, "ZZ")
		if !complete || info != want || !info.Valid {
			t.Fatalf("%s: %+v %v, want %+v", addr, info, complete, want)
		}
	}
	if r.bg.jobs != nil {
		t.Fatal("a table answer started the background parser")
	}
	if _, complete := r.LookupQuick(2, 1, []byte("015112345678")); complete {
		t.Fatal("national number complete on first sight")
	}
}
