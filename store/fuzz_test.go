package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

var (
	fuzzOnce  sync.Once
	fuzzStore Store
)

// FuzzQuery: whatever a client sends, Search, Campaigns and Stats answer or
// refuse with ErrBadQuery; any other error would mean the input reached the
// SQL as syntax. Never a panic.
func FuzzQuery(f *testing.F) {
	f.Add("S1", "hello", "rule.1", "held", "", 10, int64(0), int64(0), "rule", int64(3600))
	f.Add("", `"x" OR '1'='1`, "", "", "djE6MTox", -1, int64(1), int64(0), "peer", int64(0))
	f.Add("\xff", "a\x00", "%_*?[", "bogus", "!!", 5000, int64(-1), int64(1<<62), "sender", int64(-5))
	f.Fuzz(func(t *testing.T, sender, text, rule, quarantine, cursor string, limit int, from, to int64, by string, step int64) {
		fuzzOnce.Do(func() {
			s, err := Open(context.Background(), ":memory:", zap.NewNop())
			if err != nil {
				panic(err)
			}
			if err := s.Insert(context.Background(), dataset(200)); err != nil {
				panic(err)
			}
			fuzzStore = s
		})
		q := Query{Sender: sender, Text: text, RuleID: rule, Quarantine: quarantine, Cursor: cursor, Limit: limit}
		if from != 0 {
			q.From = time.UnixMicro(from)
		}
		if to != 0 {
			q.To = time.UnixMicro(to)
		}
		ctx := context.Background()
		ok := func(what string, err error) {
			if err != nil && !errors.Is(err, ErrBadQuery) {
				t.Fatalf("%s %+v: %v", what, q, err)
			}
		}
		_, err := fuzzStore.Search(ctx, q)
		ok("search", err)
		q.Cursor = ""
		_, err = fuzzStore.Campaigns(ctx, q)
		ok("campaigns", err)
		q.Limit = 0
		_, err = fuzzStore.Stats(ctx, StatsQuery{Query: q, By: by, Step: time.Duration(step) * time.Second})
		ok("stats", err)
	})
}
