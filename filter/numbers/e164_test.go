package numbers

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/smsfw/smsfw/filter/numbers/internal/e164gen"
)

// TestTableIsFresh fails when e164_table.go is not what the generator writes
// for the phonenumbers version in go.mod: run go generate ./filter/numbers/.
func TestTableIsFresh(t *testing.T) {
	want, err := e164gen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("e164_table.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("e164_table.go is stale: run go generate ./filter/numbers/")
	}
}

// tableCorpus is every region's example numbers of every type and the
// non-geographic codes' examples, variants of them (one digit longer,
// shorter, the last digit changed, a digit inserted after the calling code,
// random digits after the first half of the NSN), and random NSNs of every
// length 2..17 under every calling code; E.164 digits without '+'.
func tableCorpus(t testing.TB, randomPerLength int) []string {
	rng := rand.New(rand.NewPCG(16, 164))
	randDigits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	examples := exampleNumbers(t)
	var out []string
	for _, n := range examples {
		e := phonenumbers.Format(n, phonenumbers.E164)[1:]
		cc := strconv.Itoa(int(n.GetCountryCode()))
		nsn := e[len(cc):]
		last := e[len(e)-1]
		out = append(out, e, e+"5", e[:len(e)-1], e[:len(e)-1]+string('0'+(last-'0'+3)%10), cc+"9"+nsn)
		half := len(nsn) / 2
		for i := 0; i < 8; i++ {
			out = append(out, cc+nsn[:half]+randDigits(len(nsn)-half))
		}
	}
	for cc := 1; cc < 1000; cc++ {
		if len(phonenumbers.GetRegionCodesForCountryCode(cc)) == 0 {
			continue
		}
		for l := 2; l <= 17 && len(strconv.Itoa(cc))+l <= maxDigits; l++ {
			for i := 0; i < randomPerLength; i++ {
				out = append(out, strconv.Itoa(cc)+randDigits(l))
			}
		}
	}
	return out
}

var randomPerLength = flag.Int("e164-random", 12, "TestTableMatchesPhonenumbers: random NSNs per calling code and length")

// TestTableMatchesPhonenumbers: wherever the table answers, its answer is
// phonenumbers' (validity, calling code, region, type and E.164 form), for
// international and TON 0 readings through the Resolver as well as for the
// table alone; it reports the share of readings the table answers.
func TestTableMatchesPhonenumbers(t *testing.T) {
	// Under the race detector (CI) phonenumbers is ~10x slower: fewer
	// random numbers, and the Resolver readings for every 8th number only.
	perLength, every := *randomPerLength, 1
	if raceEnabled || testing.Short() {
		perLength, every = min(perLength, 2), 8
	}
	corpus := tableCorpus(t, perLength)
	on, err := NewResolver("DE", 0) // no cache: the table, else phonenumbers
	if err != nil {
		t.Fatal(err)
	}
	defer on.Close()
	off, err := NewResolver("DE", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	off.notable = true
	var answered, valid, validAnswered, ton0Answered int
	for i, d := range corpus {
		want, wok := parse("+"+d, phonenumbers.UNKNOWN_REGION)
		var got Info
		ok := tableLookup([]byte(d), &got)
		if want.Valid {
			valid++
		}
		if ok {
			answered++
			if want.Valid {
				validAnswered++
			}
			if !wok || got != want || got.E164() != want.E164() {
				t.Fatalf("%s: table %+v (%s), phonenumbers %+v %v (%s)", d, got, got.E164(), want, wok, want.E164())
			}
		}
		if i%every != 0 {
			continue
		}
		for _, a := range []struct {
			ton  byte
			addr string
		}{{1, d}, {0, d}, {0, "+" + d}, {2, "00" + d}} {
			addr := []byte(a.addr)
			want := off.Lookup(a.ton, 1, addr)
			if got := on.Lookup(a.ton, 1, addr); got != want {
				t.Fatalf("Lookup(%d, %q): table %+v, phonenumbers %+v", a.ton, a.addr, got, want)
			}
			if got, complete := on.LookupQuick(a.ton, 1, addr); complete && got != want {
				t.Fatalf("LookupQuick(%d, %q): %+v, want %+v", a.ton, a.addr, got, want)
			}
			var got Info
			if tok := on.LookupTable(a.ton, 1, addr, &got); tok && got != want {
				t.Fatalf("LookupTable(%d, %q): %+v, want %+v", a.ton, a.addr, got, want)
			}
		}
		if on.fromTable(modeUnknown, []byte(d), new(Info)) {
			ton0Answered++
		}
	}
	t.Logf("%d readings: the table answers %.1f%% (%d), %.1f%% of the %d valid numbers; TON 0: %.1f%%",
		len(corpus), 100*float64(answered)/float64(len(corpus)), answered,
		100*float64(validAnswered)/float64(valid), valid, 100*float64(ton0Answered)/float64(len(corpus)))
	if validAnswered*10 < valid*9 {
		t.Fatalf("the table answers only %d of %d valid numbers", validAnswered, valid)
	}
}

func TestTableLookupAllocs(t *testing.T) {
	r, err := NewResolver("DE", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, a := range []string{"4915112345678", "447400123456", "12025550123", "33612345678", "919876543210", "80012345678", "81312345678"} {
		if !tableLookup([]byte(a), new(Info)) {
			t.Fatalf("%s: not in the table", a)
		}
		addr := []byte(a)
		if n := testing.AllocsPerRun(1000, func() { r.Lookup(1, 1, addr) }); n != 0 {
			t.Fatalf("Lookup(%s): %v allocs", a, n)
		}
		if n := testing.AllocsPerRun(1000, func() { r.LookupQuick(0, 1, addr) }); n != 0 {
			t.Fatalf("LookupQuick(%s): %v allocs", a, n)
		}
	}
}

// newNumbers fills addr with a number never seen before on each call:
// rotating over six countries' mobile ranges with a counter as subscriber
// number.
type newNumbers struct {
	i   int
	buf []byte
}

// newNumberPrefixes are mobile ranges and the E.164 length of their numbers.
var newNumberPrefixes = []struct {
	prefix string
	length int
}{{"49151", 13}, {"447400", 12}, {"1202555", 11}, {"3361", 11}, {"919876", 12}, {"2348031", 13}}

func (n *newNumbers) next() []byte {
	n.i++
	p := newNumberPrefixes[n.i%len(newNumberPrefixes)]
	n.buf = append(n.buf[:0], p.prefix...)
	n.buf = append(n.buf, make([]byte, p.length-len(p.prefix))...)
	for k, v := p.length-1, n.i/len(newNumberPrefixes); k >= len(p.prefix); k-- {
		n.buf[k] = byte('0' + v%10)
		v /= 10
	}
	return n.buf
}

// BenchmarkLookupNew is the lookup of a never-seen number on the message
// path, LookupQuick as the pipeline calls it: phonenumbers (a cache miss
// and a queued background parse, which runs on another goroutine) against
// the table, in one run.
func BenchmarkLookupNew(b *testing.B) {
	for _, table := range []bool{false, true} {
		impl := "impl=phonenumbers"
		if table {
			impl = "impl=table"
		}
		for _, path := range []struct {
			name    string
			entries int64 // 0: no cache, every answer is a parse or the table
			lookup  func(r *Resolver, addr []byte)
		}{
			{"path=quick", 100_000, func(r *Resolver, addr []byte) { r.LookupQuick(1, 1, addr) }},
			// The whole answer for a new number: the parse itself, or the table.
			{"path=full", 0, func(r *Resolver, addr []byte) { r.Lookup(1, 1, addr) }},
		} {
			b.Run(path.name+"/"+impl, func(b *testing.B) {
				r, err := NewResolver("DE", path.entries)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				r.notable = !table
				var n newNumbers
				b.ReportAllocs()
				for b.Loop() {
					path.lookup(r, n.next())
				}
			})
		}
	}
}

// FuzzTableMatchesPhonenumbers: whatever digits the table answers, it
// answers as phonenumbers does.
func FuzzTableMatchesPhonenumbers(f *testing.F) {
	for _, s := range []string{"4915112345678", "447400123456", "12025550123", "81312345678", "80012345678", "390612345678", "79161234567"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, digits []byte) {
		for _, c := range digits {
			if c < '0' || c > '9' {
				return
			}
		}
		var got Info
		ok := tableLookup(digits, &got)
		if !ok {
			return
		}
		want, wok := parse("+"+string(digits), phonenumbers.UNKNOWN_REGION)
		if !wok || got != want {
			t.Fatalf("%s: table %+v, phonenumbers %+v %v", digits, got, want, wok)
		}
	})
}
