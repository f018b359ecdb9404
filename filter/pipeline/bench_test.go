package pipeline_test

import (
	"fmt"
	"testing"

	"github.com/smsfw/smsfw/bench"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

func referenceChain(tb testing.TB) *pipeline.Chain {
	tb.Helper()
	path, err := bench.WriteReference(tb.TempDir(), bench.Reference{})
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := rules.NewEngine(path, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := pipeline.New(pipeline.Options{Engine: eng})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

// BenchmarkPipelineAllow is the full inspection of a legitimate OTP (the
// allow path) with the reference ruleset: 10k keywords, 100k prefixes, 60+
// rules and 3 limits. Destinations rotate over 1000 numbers so caches and
// counters see a realistic spread.
func BenchmarkPipelineAllow(b *testing.B) { benchAllow(b, false) }

// BenchmarkPipelineAllowUniqueTexts is the same with a different code in
// every text, so the fingerprint cache never hits (the OTP worst case).
func BenchmarkPipelineAllowUniqueTexts(b *testing.B) { benchAllow(b, true) }

func benchAllow(b *testing.B, unique bool) {
	c := referenceChain(b)
	n := 1000
	if unique {
		n = 100_000 // more than the fingerprint cache holds
	}
	msgs := make([]pdu.Message, n)
	raws := make([][]byte, len(msgs))
	for i := range msgs {
		text := "Your verification code is 482913. Do not share it."
		if unique {
			text = fmt.Sprintf("Your verification code is %06d. Do not share it.", 100000+i*37)
		}
		raws[i] = mt("Shop", fmt.Sprintf("49151%08d", (i*7919)%100000000), text)
		if err := pdu.ParseMessage(raws[i], &msgs[i]); err != nil {
			b.Fatal(err)
		}
	}
	req := &filter.Request{Direction: filter.MT, Peer: "acme", PeerClass: "a2p", SystemID: "acme"}
	for i := range msgs { // warm the number cache and counters
		req.Msg = &msgs[i]
		_, _ = c.Inspect(req)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Msg = &msgs[i%len(msgs)]
		v, _ := c.Inspect(req)
		if v.Action != filter.Allow {
			b.Fatalf("legitimate OTP got %v (%s: %s)", v.Action, v.RuleID, v.Evidence)
		}
	}
}
