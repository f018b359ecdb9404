package mo

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/store"
)

// PartsWait is the default of Options.PartsWait: how long the parts of a long MO wait in the queue for the
// rest of their message: each part is queued (and the SMSC answered) as
// it comes; a target delivers the message once every part is there, or,
// PartsWait after its first part was queued, what arrived, marked
// incomplete. Parts received further apart than PartsWait are not joined.
const PartsWait = time.Minute

// item is one message a target delivers: a queue row, or the rows of a
// long MO's parts joined (in part order).
type item struct {
	rows       []*store.MOMessage
	incomplete bool // a long message's parts, not all of them
}

func (it *item) head() *store.MOMessage { return it.rows[0] }

// id is the message's id: its lowest row id (the same for every attempt
// at the same parts: the Idempotency-Key of its pushes).
func (it *item) id() int64 {
	id := it.rows[0].ID
	for _, m := range it.rows[1:] {
		id = min(id, m.ID)
	}
	return id
}

// message is the item as pushes, pulls and mails show it: a long
// message's parts' texts (and binary data) joined, each part once.
func (it *item) message() Message {
	out := messageOf(it.head())
	if it.head().PartTotal <= 1 {
		return out
	}
	out.ID = strconv.FormatInt(it.id(), 10)
	var text strings.Builder
	var bin []byte
	var seqs []int
	for _, m := range it.rows {
		if slices.Contains(seqs, m.PartSeq) {
			continue // the SMSC sent this part twice
		}
		seqs = append(seqs, m.PartSeq)
		text.WriteString(m.Text)
		if out.Binary != nil {
			bin = append(bin, messageOf(m).Binary...)
		}
	}
	out.Text = text.String()
	if out.Binary != nil {
		out.Binary = bin
	}
	out.Part = nil
	if it.incomplete {
		out.Part = &Part{Ref: it.head().PartRef, Total: it.head().PartTotal, Seq: seqs[0], Seqs: seqs}
		out.Incomplete = true
	}
	return out
}

// single is one row as an item.
func single(m *store.MOMessage) *item { return &item{rows: []*store.MOMessage{m}} }

// assemble turns rows claimed under lease (until until) into items: a
// row that is not a part is an item; a part is joined with the other
// queued parts of its message, which it leases too. A message with parts
// missing goes back to wait (not counted as an attempt) until PartsWait
// after its first part was queued, then is delivered as it is.
func (s *Service) assemble(route, target, lease string, rows []*store.MOMessage, until time.Time) []*item {
	var out []*item
	taken := map[int64]bool{}
	now := time.Now()
	for _, m := range rows {
		if m.PartTotal <= 1 {
			out = append(out, single(m))
			continue
		}
		if taken[m.ID] {
			continue
		}
		parts, err := s.q.ClaimPartsMO(s.ctx, route, target, m.PartKey(s.o.PartsWait), lease, now, until)
		if err != nil || !slices.ContainsFunc(parts, func(p *store.MOMessage) bool { return p.ID == m.ID }) {
			if err != nil && s.ctx.Err() == nil {
				s.log.Warn("MO parts not joined; delivered one by one", zap.String("route", route), zap.Error(err))
			}
			out = append(out, &item{rows: []*store.MOMessage{m}, incomplete: true})
			taken[m.ID] = true
			continue
		}
		for _, p := range parts {
			taken[p.ID] = true
		}
		// Parts tried before (this claim made it their second attempt or
		// more) are retried as the message they were: a part that came
		// since goes on its own, or the endpoint would get another body
		// under the same Idempotency-Key.
		tried := slices.DeleteFunc(slices.Clone(parts), func(p *store.MOMessage) bool { return p.Attempts <= 1 })
		if len(tried) > 0 && len(tried) < len(parts) {
			out = append(out, s.joined(route, target, tried))
			for _, p := range parts {
				if p.Attempts <= 1 {
					out = append(out, s.joined(route, target, []*store.MOMessage{p}))
				}
			}
			continue
		}
		seqs := map[int]bool{}
		first := parts[0].QueuedAt
		for _, p := range parts {
			seqs[p.PartSeq] = true
			if p.QueuedAt.Before(first) {
				first = p.QueuedAt
			}
		}
		complete := len(seqs) >= m.PartTotal
		if !complete && now.Sub(first) < s.o.PartsWait {
			ids := make([]int64, len(parts))
			for i, p := range parts {
				ids[i] = p.ID
			}
			if err := s.q.HoldMO(s.ctx, ids, lease, first.Add(s.o.PartsWait)); err != nil && s.ctx.Err() == nil {
				s.log.Warn("MO parts not held; they are tried again when their lease ends", zap.String("route", route), zap.Error(err))
			}
			s.m.partsHeld.WithLabelValues(route, target).Inc()
			continue
		}
		out = append(out, s.joined(route, target, parts))
	}
	slices.SortFunc(out, func(a, b *item) int { return cmp.Compare(a.id(), b.id()) })
	return out
}

// joined is parts as one item, in part order, incomplete (and counted)
// when parts are missing.
func (s *Service) joined(route, target string, parts []*store.MOMessage) *item {
	slices.SortFunc(parts, func(a, b *store.MOMessage) int {
		return cmp.Or(cmp.Compare(a.PartSeq, b.PartSeq), cmp.Compare(a.ID, b.ID))
	})
	seqs := map[int]bool{}
	for _, p := range parts {
		seqs[p.PartSeq] = true
	}
	it := &item{rows: parts, incomplete: len(seqs) < parts[0].PartTotal}
	if it.incomplete {
		s.m.incomplete.WithLabelValues(route, target).Inc()
	}
	return it
}

// replayParts queues again the dead parts of m's long message beside m
// (a replay is of the message, not of one part).
func (s *Service) replayParts(ctx context.Context, m *store.MOMessage) {
	if m.PartTotal <= 1 {
		return
	}
	parts, err := s.q.PartsMO(ctx, m.Route, m.Target, m.PartKey(s.o.PartsWait))
	if err != nil {
		s.log.Warn("the other parts of a replayed MO were not replayed", zap.Int64("id", m.ID), zap.Error(err))
		return
	}
	for _, p := range parts {
		if p.State == store.MODead && p.ID != m.ID {
			if _, err := s.q.ReplayMO(ctx, p.ID, time.Now()); err != nil {
				s.log.Warn("a part of a replayed MO was not replayed", zap.Int64("id", p.ID), zap.Error(err))
			}
		}
	}
}
