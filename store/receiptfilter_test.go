package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter/receipts"
)

// TestReceiptFilterChunks: chunks of two nodes come back by seq with every
// field; a node's older chunks and expired generations are dropped.
func TestReceiptFilterChunks(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		j, ok := ReceiptJournalOf(s)
		if !ok {
			t.Fatal("no journal")
		}
		span := int64(time.Hour)
		now := time.Now()
		e := now.UnixNano() / span
		a := []receipts.Chunk{
			{Node: "a", Kind: receipts.ChunkDelta, Span: span, Bits: 1 << 16, Epoch: e, At: now.UnixNano(), Words: []byte{1, 0, 0, 0, 9, 8, 7, 6, 5, 4, 3, 2}},
			{Node: "a", Kind: receipts.ChunkDelta, Span: span, Bits: 1 << 16, Epoch: e - 10, At: now.UnixNano(), Words: []byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}},
		}
		if err := j.AppendChunks(ctx, a); err != nil {
			t.Fatal(err)
		}
		if a[0].Seq == 0 || a[1].Seq <= a[0].Seq {
			t.Fatalf("seqs %d %d", a[0].Seq, a[1].Seq)
		}
		b := []receipts.Chunk{{Node: "b", Kind: receipts.ChunkStop, At: now.UnixNano()}}
		if err := j.AppendChunks(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err := j.ChunksAfter(ctx, 0, 10)
		if err != nil || len(got) != 3 {
			t.Fatalf("read %d chunks: %v", len(got), err)
		}
		if g := got[0]; g.Seq != a[0].Seq || g.Node != "a" || g.Kind != receipts.ChunkDelta || g.Span != span || g.Bits != 1<<16 ||
			g.Epoch != e || g.At != a[0].At || !bytes.Equal(g.Words, a[0].Words) {
			t.Fatalf("chunk read back as %+v", g)
		}
		if g := got[2]; g.Node != "b" || g.Kind != receipts.ChunkStop || len(g.Words) != 0 {
			t.Fatalf("stop chunk read back as %+v", g)
		}
		if got, err := j.ChunksAfter(ctx, a[0].Seq, 1); err != nil || len(got) != 1 || got[0].Seq != a[1].Seq {
			t.Fatalf("after the first, limit 1: %+v %v", got, err)
		}
		// a's compaction: its chunks before the newest go, and the
		// expired generation; b's stop stays.
		c := []receipts.Chunk{{Node: "a", Kind: receipts.ChunkFull, Span: span, Bits: 1 << 16, Epoch: e, At: now.UnixNano(), Words: a[0].Words}}
		if err := j.AppendChunks(ctx, c); err != nil {
			t.Fatal(err)
		}
		if n, err := j.DropChunks(ctx, "a", c[0].Seq, now); err != nil || n != 2 {
			t.Fatalf("dropped %d: %v", n, err)
		}
		got, err = j.ChunksAfter(ctx, 0, 10)
		if err != nil || len(got) != 2 || got[0].Node != "b" || got[1].Seq != c[0].Seq {
			t.Fatalf("left %+v %v", got, err)
		}
	})
}
