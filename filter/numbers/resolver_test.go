package numbers

import (
	"hash/maphash"
	"runtime"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func newTestResolver(t testing.TB) *Resolver {
	t.Helper()
	r, err := NewResolver("DE", 10_000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// newCacheTestResolver is newTestResolver without the E.164 table, so that
// international numbers go through phonenumbers and the cache too.
func newCacheTestResolver(t testing.TB) *Resolver {
	r := newTestResolver(t)
	r.notable = true
	return r
}

func TestLookupTable(t *testing.T) {
	r := newTestResolver(t)
	tests := []struct {
		name   string
		ton    byte
		addr   string
		valid  bool
		cc     int
		region string
		typ    Type
		e164   string
	}{
		{"DE mobile intl", 1, "4915112345678", true, 49, "DE", Mobile, "+4915112345678"},
		{"DE mobile national", 2, "015112345678", true, 49, "DE", Mobile, "+4915112345678"},
		{"DE mobile ton0 national", 0, "015112345678", true, 49, "DE", Mobile, "+4915112345678"},
		{"DE mobile ton0 intl", 0, "4915112345678", true, 49, "DE", Mobile, "+4915112345678"},
		{"DE mobile plus", 0, "+4915112345678", true, 49, "DE", Mobile, "+4915112345678"},
		{"DE mobile 00", 2, "004915112345678", true, 49, "DE", Mobile, "+4915112345678"},
		{"DE mobile ton1 with plus", 1, "+4915112345678", true, 49, "DE", Mobile, "+4915112345678"},
		{"DE fixed Berlin", 1, "493012345678", true, 49, "DE", FixedLine, "+493012345678"},
		{"DE fixed national", 2, "030123456", true, 49, "DE", FixedLine, "+4930123456"},
		{"DE premium 0900", 2, "09001234567", true, 49, "DE", PremiumRate, "+499001234567"},
		{"DE premium intl", 1, "499001234567", true, 49, "DE", PremiumRate, "+499001234567"},
		{"DE toll free 0800", 2, "08001234567", true, 49, "DE", TollFree, "+498001234567"},
		{"GB mobile", 1, "447400123456", true, 44, "GB", Mobile, "+447400123456"},
		{"GB fixed London", 1, "442079460000", true, 44, "GB", FixedLine, "+442079460000"},
		{"GB premium 09xx", 1, "449090901234", true, 44, "GB", PremiumRate, "+449090901234"},
		{"GB toll free 0800", 1, "448001234567", true, 44, "GB", TollFree, "+448001234567"},
		{"US fixed or mobile", 1, "12125551234", true, 1, "US", FixedLineOrMobile, "+12125551234"},
		{"US toll free", 1, "18005551234", true, 1, "US", TollFree, "+18005551234"},
		{"US premium 900", 1, "19005551234", true, 1, "US", PremiumRate, "+19005551234"},
		{"FR mobile", 1, "33612345678", true, 33, "FR", Mobile, "+33612345678"},
		{"FR premium 089", 1, "33891234567", true, 33, "FR", PremiumRate, "+33891234567"},
		{"NG mobile", 1, "2348031234567", true, 234, "NG", Mobile, "+2348031234567"},
		{"IN mobile", 1, "919876543210", true, 91, "IN", Mobile, "+919876543210"},
		{"intl toll free 800 (no region)", 1, "80012345678", true, 800, "", TollFree, "+80012345678"},
		{"DE invalid range", 1, "4990012345678", false, 49, "", Unknown, "+4990012345678"},
		{"GB too short", 1, "4470", false, 44, "", Unknown, "+4470"},
		{"short code ton0", 0, "12345", false, 49, "", Unknown, "+4912345"},
		{"short code national", 2, "8888", false, 49, "", Unknown, "+498888"},
		{"unknown country code", 1, "999999999999", false, 0, "", Unknown, ""},
		{"alphanumeric ton5", 5, "ACME", false, 0, "", Unknown, ""},
		{"alphanumeric digits ton5", 5, "4915112345678", false, 0, "", Unknown, ""},
		{"letters ton1", 1, "abc", false, 0, "", Unknown, ""},
		{"mixed", 1, "4915112x45678", false, 0, "", Unknown, ""},
		{"spaces", 1, "49 151 12345678", false, 0, "", Unknown, ""},
		{"empty", 1, "", false, 0, "", Unknown, ""},
		{"plus only", 1, "+", false, 0, "", Unknown, ""},
		{"too long", 1, "491511234567812345678", false, 0, "", Unknown, ""},
		{"garbage bytes", 0, "\x00\xff\x01", false, 0, "", Unknown, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for pass := 0; pass < 2; pass++ { // miss, then (likely) hit
				got := r.Lookup(tc.ton, 1, []byte(tc.addr))
				want := Info{Valid: tc.valid, CountryCode: tc.cc, Region: tc.region, Type: tc.typ}
				if got.Valid != want.Valid || got.CountryCode != want.CountryCode || got.Region != want.Region || got.Type != want.Type || got.E164() != tc.e164 {
					t.Fatalf("pass %d: Lookup(%d, %q) = %+v, want %+v", pass, tc.ton, tc.addr, got, want)
				}
				r.cache.Wait()
			}
		})
	}
}

func TestLookupNoDefaultRegion(t *testing.T) {
	r, err := NewResolver("", 100)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Lookup(2, 1, []byte("015112345678")); got.Valid {
		t.Fatalf("national number without default region: %+v", got)
	}
	if got := r.Lookup(0, 1, []byte("4915112345678")); !got.Valid || got.Region != "DE" {
		t.Fatalf("ton0 international without default region: %+v", got)
	}
	if _, err := NewResolver("XX", 10); err == nil {
		t.Fatal("NewResolver(XX) did not fail")
	}
	if r2, err := NewResolver("gb", 10); err != nil {
		t.Fatal(err)
	} else {
		if got := r2.Lookup(2, 1, []byte("07400123456")); got.Region != "GB" || got.Type != Mobile {
			t.Fatalf("lower-case region: %+v", got)
		}
		r2.Close()
	}
}

func TestLookupWithoutCache(t *testing.T) {
	r, err := NewResolver("DE", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Lookup(1, 1, []byte("4915112345678")); !got.Valid || got.Type != Mobile {
		t.Fatalf("%+v", got)
	}
	// A closed cached resolver still answers, parsing every time.
	c := newTestResolver(t)
	c.Close()
	c.Close()
	if got := c.Lookup(1, 1, []byte("4915112345678")); !got.Valid || got.Type != Mobile {
		t.Fatalf("after Close: %+v", got)
	}
}

func TestCacheHitIdentical(t *testing.T) {
	r := newCacheTestResolver(t)
	addr := []byte("4915112345678")
	first := r.Lookup(1, 1, addr)
	r.cache.Wait()
	// The entry is in the cache under its (mode, digits) hash.
	c, ok := r.cache.Get(maphash.Bytes(r.seeds[modeIntl], addr))
	if !ok || c.digits != string(addr) || c.info != first {
		t.Fatalf("not cached: ok=%v %+v", ok, c)
	}
	second := r.Lookup(1, 1, addr)
	if first != second {
		t.Fatalf("hit %+v differs from miss %+v", second, first)
	}
	// The same digits read nationally are a different key.
	if nat := r.Lookup(2, 1, addr); nat == first {
		t.Fatalf("national reading shares the international entry: %+v", nat)
	}
	// "+49..." and "0049..." normalise to the same international entry.
	if got := r.Lookup(0, 1, []byte("+4915112345678")); got != first {
		t.Fatalf("'+' form: %+v", got)
	}
}

func TestCacheCollisionIsAMiss(t *testing.T) {
	r := newCacheTestResolver(t)
	addr := []byte("4915112345678")
	h := maphash.Bytes(r.seeds[modeIntl], addr)
	// Plant a wrong value under the real key's hash, as a hash collision
	// would: Lookup must notice and parse.
	r.cache.Set(h, &cached{mode: modeIntl, digits: "123", info: Info{Region: "XX"}}, 1)
	r.cache.Wait()
	if got := r.Lookup(1, 1, addr); got.Region != "DE" {
		t.Fatalf("collision served the wrong entry: %+v", got)
	}
}

func TestLookupCacheHitAllocs(t *testing.T) {
	r := newCacheTestResolver(t)
	addrs := [][]byte{[]byte("4915112345678"), []byte("015112345678"), []byte("+447400123456")}
	tons := []byte{1, 2, 0}
	for i := range addrs {
		r.Lookup(tons[i], 1, addrs[i])
	}
	r.cache.Wait()
	for i := range addrs {
		allocs := testing.AllocsPerRun(1000, func() { r.Lookup(tons[i], 1, addrs[i]) })
		if allocs != 0 {
			t.Errorf("%s: %v allocs per cache hit", addrs[i], allocs)
		}
	}
	// Fast rejects never allocate either.
	for _, a := range []string{"ACME", "", "12x4"} {
		if n := testing.AllocsPerRun(100, func() { r.Lookup(5, 0, []byte(a)) }); n != 0 {
			t.Errorf("%q: %v allocs", a, n)
		}
	}
}

// TestLookupCacheHitAmortisedBytes measures what AllocsPerRun rounds away:
// ristretto hands its access buffer (BufferItems keys) to its policy
// goroutine and makes a fresh one, i.e. one 512-byte allocation per 64 Gets
// at most.
func TestLookupCacheHitAmortisedBytes(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so ristretto reallocates its buffers")
	}
	r := newCacheTestResolver(t)
	addr := []byte("4915112345678")
	r.Lookup(1, 1, addr)
	r.cache.Wait()
	const n = 200_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		r.Lookup(1, 1, addr)
	}
	runtime.ReadMemStats(&after)
	mallocs := after.Mallocs - before.Mallocs
	bytes := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d cache hits: %d mallocs (%.4f/hit), %d bytes (%.2f B/hit)",
		n, mallocs, float64(mallocs)/n, bytes, float64(bytes)/n)
	if float64(mallocs)/n > 1.0/32 {
		t.Errorf("more than one allocation per 32 hits: %d mallocs", mallocs)
	}
}

func TestResolverConcurrent(t *testing.T) {
	r := newTestResolver(t)
	addrs := []string{"4915112345678", "447400123456", "12125551234", "33612345678", "ACME", "09001234567"}
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 500; i++ {
				a := addrs[(g+i)%len(addrs)]
				info := r.Lookup(byte(i%3), 1, []byte(a))
				_ = info
			}
		}(g)
	}
	for g := 0; g < 8; g++ {
		<-done
	}
}

func TestTypeString(t *testing.T) {
	if PremiumRate.String() != "premium_rate" || Type(200).String() != "unknown" || Voicemail.String() != "voicemail" {
		t.Fatal("Type.String")
	}
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"4915112345678", "+4915112345678", "0049", "00", "+", "", "ACME", "\xff\x00", "0", "1234567890123456789012"} {
		f.Add(byte(0), byte(1), []byte(s))
		f.Add(byte(1), byte(1), []byte(s))
		f.Add(byte(2), byte(1), []byte(s))
		f.Add(byte(5), byte(0), []byte(s))
	}
	r, err := NewResolver("DE", 1000)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(r.Close)
	ps, err := NewPrefixSet([]Entry{{"49", 1}, {"4915", 2}, {"4990010000-4990019999", 3}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ton, npi byte, addr []byte) {
		info := r.Lookup(ton, npi, addr)
		if info.Valid && (info.CountryCode == 0 || info.E164() == "") {
			t.Fatalf("valid without country code or E164: %+v", info)
		}
		if again := r.Lookup(ton, npi, addr); again != info {
			t.Fatalf("unstable: %+v then %+v", info, again)
		}
		k := KindOf(ton, addr)
		if k > Number {
			t.Fatalf("kind %d", k)
		}
		if k == Alphanumeric && info.Valid {
			t.Fatalf("alphanumeric address resolved valid: %q %+v", addr, info)
		}
		ps.Lookup(addr)
	})
}

func BenchmarkLookupHit(b *testing.B) {
	r := newCacheTestResolver(b)
	addr := []byte("4915112345678")
	r.Lookup(1, 1, addr)
	r.cache.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Lookup(1, 1, addr)
	}
}

func BenchmarkLookupHitParallel(b *testing.B) {
	r := newCacheTestResolver(b)
	addrs := [][]byte{[]byte("4915112345678"), []byte("447400123456"), []byte("12125551234"), []byte("33612345678")}
	for _, a := range addrs {
		r.Lookup(1, 1, a)
	}
	r.cache.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			r.Lookup(1, 1, addrs[i&3])
			i++
		}
	})
}

func BenchmarkLookupMiss(b *testing.B) {
	r, err := NewResolver("DE", 0) // no cache: every call parses
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.notable = true
	addr := []byte("4915112345678")
	b.ReportAllocs()
	for b.Loop() {
		r.Lookup(1, 1, addr)
	}
}

func BenchmarkLookupAlphanumeric(b *testing.B) {
	r := newTestResolver(b)
	addr := []byte("ACME Bank")
	b.ReportAllocs()
	for b.Loop() {
		r.Lookup(5, 0, addr)
	}
}

// parseReference is parse as written before it asked for the number type
// once: phonenumbers' IsValidNumber, GetNumberType and
// GetRegionCodeForNumber each on their own.
func parseReference(s, region string) (Info, bool) {
	var pn phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(s, region, &pn); err != nil {
		return Info{}, false
	}
	info := Info{CountryCode: int(pn.GetCountryCode()), nsn: pn.GetNationalNumber(),
		nsnLen: uint8(len(phonenumbers.GetNationalSignificantNumber(&pn)))}
	if info.E164() != phonenumbers.Format(&pn, phonenumbers.E164) {
		panic("E164 differs from phonenumbers.Format: " + info.E164())
	}
	if !phonenumbers.IsValidNumber(&pn) {
		return info, true
	}
	info.Valid = true
	info.Type = typeOf(phonenumbers.GetNumberType(&pn))
	if reg := phonenumbers.GetRegionCodeForNumber(&pn); len(reg) == 2 && reg != phonenumbers.UNKNOWN_REGION {
		info.Region = reg
	}
	return info, true
}

// exampleNumbers is every region's example number of every type and the
// non-geographic codes' examples.
func exampleNumbers(t testing.TB) []*phonenumbers.PhoneNumber {
	var numbers []*phonenumbers.PhoneNumber
	for region := range phonenumbers.GetSupportedRegions() {
		for typ := phonenumbers.FIXED_LINE; typ <= phonenumbers.UNKNOWN; typ++ {
			if n := phonenumbers.GetExampleNumberForType(region, typ); n != nil {
				numbers = append(numbers, n)
			}
		}
	}
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		if n := phonenumbers.GetExampleNumberForNonGeoEntity(cc); n != nil {
			numbers = append(numbers, n)
		}
	}
	if len(numbers) < 1000 {
		t.Fatalf("only %d example numbers", len(numbers))
	}
	return numbers
}

// parse gives phonenumbers' own answers for every region's example numbers
// of every type, the non-geographic codes' examples, and variants of them
// one digit longer, shorter or changed (mostly invalid), read
// internationally and nationally.
func TestParseMatchesPhonenumbers(t *testing.T) {
	numbers := exampleNumbers(t)
	checked, valid := 0, 0
	for _, n := range numbers {
		e164 := phonenumbers.Format(n, phonenumbers.E164)
		nsn := phonenumbers.GetNationalSignificantNumber(n)
		last := e164[len(e164)-1]
		for _, v := range []string{e164, e164 + "5", e164[:len(e164)-1], e164[:len(e164)-1] + string('0'+(last-'0'+3)%10),
			"+" + e164[1:3] + "9" + e164[3:], "0" + nsn, nsn} {
			for _, region := range []string{phonenumbers.UNKNOWN_REGION, "DE"} {
				got, gok := parse(v, region)
				want, wok := parseReference(v, region)
				if got != want || gok != wok {
					t.Fatalf("%q in %s: %+v %v, want %+v %v", v, region, got, gok, want, wok)
				}
				checked++
				if got.Valid {
					valid++
				}
			}
		}
	}
	t.Logf("%d readings of %d example numbers agree (%d valid)", checked, len(numbers), valid)
}

// BenchmarkParse is the background parse of a number never seen, against
// the reference that asked phonenumbers for validity and type separately.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		fn   func(string, string) (Info, bool)
	}{{"once", parse}, {"reference", parseReference}} {
		for _, num := range []string{"+4915112345678", "+12025550123"} {
			b.Run(bc.name+"/"+num[:3], func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					bc.fn(num, phonenumbers.UNKNOWN_REGION)
				}
			})
		}
	}
}
