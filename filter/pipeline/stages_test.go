package pipeline_test

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// Per-stage benchmarks of the allow path on messages whose text and
// destination number were never seen: every iteration writes a new one-time
// code into the text and a new destination number in place (the PDU is
// reused, so the loop itself allocates nothing). Each stage runs on the facts
// of the message it measures; TestStagesDoNotAllocate guards the same steps
// with testing.AllocsPerRun.

// stageTexts are the allow-path texts: an OTP (the bulk of A2P traffic) and
// a 150-character delivery notice with a link to a trusted domain.
var stageTexts = []struct{ name, text, code string }{
	{"otp", "Your verification code is 482913. Do not share it.", "482913"},
	{"notice", "DHL: your parcel 48291377 arrives tomorrow between 10:00 and 14:00. Track it at https://dhl.com/t/48291377 or reply STOP to opt out of these messages.", "48291377"},
}

// newMessages is one reusable submit_sm whose code and destination change in
// place: next(i) makes message i.
type newMessages struct {
	raw  []byte
	msg  pdu.Message
	code [][]byte // the code's occurrences in the PDU
	dest []byte   // the destination's last 8 digits in the PDU
	req  filter.Request
}

func newMessageStream(tb testing.TB, text, code string) *newMessages {
	tb.Helper()
	s := &newMessages{raw: mt("Shop", "4915100000000", text)}
	if err := pdu.ParseMessage(s.raw, &s.msg); err != nil {
		tb.Fatal(err)
	}
	ud := s.msg.Payload()
	for off := 0; ; {
		i := bytes.Index(ud[off:], []byte(code))
		if i < 0 {
			break
		}
		s.code = append(s.code, ud[off+i:off+i+len(code)])
		off += i + len(code)
	}
	if len(s.code) == 0 {
		tb.Fatalf("code %q not in the encoded text", code)
	}
	s.dest = s.msg.Dst.Addr[len(s.msg.Dst.Addr)-8:]
	s.req = filter.Request{Direction: filter.MT, Peer: "acme", PeerClass: "a2p", SystemID: "acme", Msg: &s.msg}
	return s
}

// next rewrites the code and the destination for message i (never the same
// pair for i < 10^8 with 6-digit codes: the code is i mod 10^len, the number
// a permutation of i).
func (s *newMessages) next(i int) *filter.Request {
	for _, c := range s.code {
		putDigits(c, i)
	}
	putDigits(s.dest, (i*7919+13)%100_000_000)
	if i%64 == 0 || s.req.Time == 0 {
		// The proxy gives each request the time of its socket read (one
		// clock read per read): here one per 64 messages.
		s.req.Time = time.Now().UnixNano()
	}
	return &s.req
}

func putDigits(b []byte, v int) {
	for j := len(b) - 1; j >= 0; j-- {
		b[j] = byte('0' + v%10)
		v /= 10
	}
}

// stageChain is the reference ruleset's chain (bench.WriteReference, as
// BenchmarkPipelineAllow) with its stages.
func stageChain(tb testing.TB) (*pipeline.Chain, *pipeline.Stages) {
	c := referenceChain(tb)
	return c, pipeline.NewStages(c)
}

// BenchmarkPipelineAllowNew is the whole inspection of messages whose text
// and destination were never seen (the target: <= 1 us, 0 allocations);
// "known-number" has new texts to 1000 destinations seen before, which
// leaves out the background parse of new numbers.
func BenchmarkPipelineAllowNew(b *testing.B) {
	for _, tt := range stageTexts {
		for _, known := range []bool{false, true} {
			name := tt.name
			if known {
				name += "-known-number"
			}
			b.Run(name, func(b *testing.B) { benchAllowNew(b, tt.text, tt.code, known) })
		}
	}
}

func benchAllowNew(b *testing.B, text, code string, known bool) {
	c := referenceChain(b)
	s := newMessageStream(b, text, code)
	next := s.next
	if known {
		next = func(i int) *filter.Request {
			r := s.next(i)
			putDigits(s.dest, (i%1000)*7919) // not consecutive: that is pumping
			return r
		}
		st := pipeline.NewStages(c)
		for i := range 1000 { // every number seen, parsed in the background and cached
			next(i)
			testutil.Eventually(b, 10*time.Second, "number parsed", func() bool {
				return st.Number(1, 1, s.msg.Dst.Addr).Valid
			})
		}
	}
	for i := range 1000 { // warm the pools and counters
		_, _ = c.Inspect(next(1_000_000_000 - i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		v, _ := c.Inspect(next(i))
		if v.Action != filter.Allow {
			b.Fatalf("%q got %v (%s: %s)", text, v.Action, v.RuleID, v.Evidence)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkPipelineAccepted is BenchmarkPipelineAllowNew's OTP with what
// the proxy also asks of the chain per message: the SMSC's id of the
// message recorded for the fake-receipt check (Chain.Accepted), one
// random word of a megabytes-wide filter.
func BenchmarkPipelineAccepted(b *testing.B) {
	c := referenceChain(b)
	s := newMessageStream(b, stageTexts[0].text, stageTexts[0].code)
	id := []byte("0000000000")
	for i := range 1000 {
		_, _ = c.Inspect(s.next(1_000_000_000 - i))
	}
	now := time.Now().UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		v, _ := c.Inspect(s.next(i))
		if v.Action != filter.Allow {
			b.Fatalf("got %v (%s: %s)", v.Action, v.RuleID, v.Evidence)
		}
		putDigits(id, i*2654435761)
		c.Accepted("acme", id, now)
	}
	reportCPU(b, cpu)
}

// reportCPU adds the process's CPU time per iteration since cpu (all
// threads: the garbage collector and background work included) as
// "cpu-ns/op": on a shared machine it moves far less than the wall clock,
// which also counts the time other processes held the core.
func reportCPU(b *testing.B, cpu time.Duration) {
	if d := processCPU() - cpu; d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// processCPU is the CPU time (user and system) the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStage measures each step of the inspection on its own.
func BenchmarkStage(b *testing.B) {
	for _, tt := range stageTexts {
		b.Run(tt.name, func(b *testing.B) {
			_, st := stageChain(b)
			s := newMessageStream(b, tt.text, tt.code)
			st.Facts(s.next(0))
			text := append([]byte(nil), st.Text()...)
			norm := append([]byte(nil), st.Norm()...)
			buf := make([]byte, 0, 1024)
			run := func(name string, fn func(i int)) {
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						fn(i)
					}
				})
			}
			code := strings.Index(tt.text, tt.code) // ASCII: decoded text offsets are the same
			newText := func(i int) {
				putDigits(text[code:code+len(tt.code)], i)
			}
			run("normalize", func(i int) { newText(i); buf = textscan.Normalize(buf[:0], text) })
			normCode := strings.Index(string(textscan.Normalize(nil, []byte(tt.text))), tt.code)
			run("fingerprint", func(i int) { // a new code in the normalised text
				putDigits(norm[normCode:normCode+len(tt.code)], i)
				_ = st.Fingerprint(norm)
			})
			run("fingerprint-uncached", func(i int) { _ = textscan.FingerprintNormalized(norm) })
			run("shape", func(i int) { _ = textscan.ShapeOf(text) })
			run("urls", func(i int) {
				textscan.FindURLs(text, func(u textscan.URL) bool { _, _ = textscan.RegistrableDomain(u.Host); return true })
			})
			run("number-seen", func(i int) { _ = st.Number(1, 1, s.msg.Dst.Addr) })
			st.Facts(s.next(1))
			for d, name := range st.DetectorNames() {
				run("detect-"+name, func(i int) { st.Detect(d, int64(i)) })
			}
			for d := range st.DetectorNames() {
				st.Detect(d, 1)
			}
			run("rules", func(i int) {
				if v := st.Evaluate(filter.MT); v.Action != filter.Allow {
					b.Fatalf("verdict %v", v.Action)
				}
			})
			run("limits", func(i int) { st.Limits(filter.MT, int64(i)) })
			run("metrics", func(i int) { st.Count() })
			// Last: new numbers queue background parses, which would run
			// (and allocate) during the stages after them.
			run("number-new", func(i int) { s.next(i); _ = st.Number(1, 1, s.msg.Dst.Addr) })
			run("facts", func(i int) { st.Facts(s.next(i)) })
		})
	}
}

// TestStagesDoNotAllocate guards the allow path: no step of the inspection
// allocates on a new text to a destination already seen, nor does the
// whole inspection. (A number seen for the first time is parsed in the
// background, which allocates there: see numbers.Resolver.LookupQuick.)
func TestStagesDoNotAllocate(t *testing.T) {
	for _, tt := range stageTexts {
		t.Run(tt.name, func(t *testing.T) {
			c, st := stageChain(t)
			s := newMessageStream(t, tt.text, tt.code)
			i := 0
			same := func() *filter.Request { // a new text, a known number
				i++
				r := s.next(i)
				putDigits(s.dest, 4242)
				return r
			}
			_, _ = c.Inspect(same())
			st.Facts(same())
			_ = st.Number(1, 1, s.msg.Dst.Addr)
			for d := range st.DetectorNames() {
				st.Detect(d, 1)
			}
			guard := func(name string, fn func()) {
				t.Helper()
				fn()
				if n := testing.AllocsPerRun(200, fn); n != 0 {
					t.Errorf("%s: %v allocations per message, want 0", name, n)
				}
			}
			if !raceEnabled { // the race detector makes sync.Pool drop what it is given
				guard("inspect", func() {
					if v, _ := c.Inspect(same()); v.Action != filter.Allow {
						t.Fatalf("verdict %v (%s)", v.Action, v.RuleID)
					}
				})
			}
			guard("facts", func() { st.Facts(same()) })
			text, norm := st.Text(), make([]byte, 0, 1024)
			guard("normalize", func() { norm = textscan.Normalize(norm[:0], text) })
			guard("fingerprint", func() { same(); _ = st.Fingerprint(norm) })
			guard("shape", func() { _ = textscan.ShapeOf(text) })
			guard("urls", func() { textscan.FindURLs(text, func(textscan.URL) bool { return true }) })
			guard("number", func() { _ = st.Number(1, 1, s.msg.Dst.Addr) })
			st.Facts(same())
			for d, name := range st.DetectorNames() {
				guard("detect-"+name, func() { st.Detect(d, 2) })
			}
			guard("rules", func() { st.Evaluate(filter.MT) })
			guard("limits", func() { st.Limits(filter.MT, 3) })
			guard("metrics", func() { st.Count() })
		})
	}
}
