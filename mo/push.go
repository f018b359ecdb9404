package mo

import (
	"bytes"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
	"github.com/smsfw/smsfw/store"
)

// Message is an MO as HTTP targets and pull consumers get it. The body of
// a push is the same for every attempt.
type Message struct {
	// ID is the message's id toward this target: the Idempotency-Key of
	// its pushes.
	ID          string `json:"id"`
	Route       string `json:"route"`
	Peer        string `json:"peer"`
	Sender      string `json:"sender"`
	Destination string `json:"destination"`
	// Text is the decoded text (UTF-8); Binary the user data (base64) of
	// a message whose data_coding is not text.
	Text       string `json:"text"`
	Binary     []byte `json:"binary,omitempty"`
	DataCoding int    `json:"data_coding"`
	// A long message's parts are joined into one message (Text and
	// Binary in part order); Part is set only when they are not all
	// there: delivered PartsWait after the first part came, Incomplete,
	// holding the parts Seqs.
	Part       *Part     `json:"part,omitempty"`
	Incomplete bool      `json:"incomplete,omitempty"`
	Received   time.Time `json:"received"`
	Verdict    Verdict   `json:"verdict"`
}

// Part places the parts of an incomplete long message (or, in the
// dead-letter and message listings, a queue row's part).
type Part struct {
	Ref   int   `json:"ref"`
	Total int   `json:"total"`
	Seq   int   `json:"seq"`            // the (first) part
	Seqs  []int `json:"seqs,omitempty"` // the parts the message holds
}

// Verdict is what the policy decided (allow or flag).
type Verdict struct {
	Action string `json:"action"`
	Rule   string `json:"rule,omitempty"`
}

// Headers of a push.
const (
	HeaderSignature   = "X-Smsfw-Signature" // "sha256=" + hex HMAC-SHA256 of the body
	HeaderIdempotency = "Idempotency-Key"
)

func messageOf(m *store.MOMessage) Message {
	out := Message{ID: strconv.FormatInt(m.ID, 10), Route: m.Route, Peer: m.Peer, Sender: m.Sender, Destination: m.Dest,
		Text: m.Text, DataCoding: m.DataCoding, Received: m.Received, Verdict: Verdict{Action: m.Action, Rule: m.RuleID}}
	if m.PartTotal > 1 {
		out.Part = &Part{Ref: m.PartRef, Total: m.PartTotal, Seq: m.PartSeq}
	}
	switch smstext.AlphabetOf(byte(m.DataCoding)) {
	case smstext.Binary, smstext.Unknown:
		var pm pdu.Message
		if p, err := pdu.FromBytes(m.Raw); err == nil && pdu.ParseMessage(p, &pm) == nil {
			out.Binary = append([]byte{}, userData(&pm)...)
		}
	}
	return out
}

// Sign is the X-Smsfw-Signature of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// NewClient is an HTTP client for PostSigned: it does not follow
// redirects to other hosts, nor ones that would turn the POST into a GET.
func NewClient() *http.Client { return newClient() }

// newClient posts without following redirects to other hosts, nor ones
// that would turn the POST into a GET (301, 302, 303).
func newClient() *http.Client {
	return &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		switch {
		case len(via) >= 3:
			return errors.New("too many redirects")
		case req.URL.Host != via[0].URL.Host:
			return fmt.Errorf("redirect to another host (%s) refused", req.URL.Host)
		case req.Response != nil && req.Response.StatusCode != http.StatusTemporaryRedirect &&
			req.Response.StatusCode != http.StatusPermanentRedirect:
			return fmt.Errorf("redirect %d would drop the body; refused", req.Response.StatusCode)
		}
		return nil
	}}
}

func newLease() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// deliverLoop claims the route's due messages of target t while a worker
// is free and delivers each on its own goroutine; a digest target sends
// what is due once per interval instead.
func (s *Service) deliverLoop(r *route, t *target) {
	if t.digest > 0 {
		s.digestLoop(r, t)
		return
	}
	rt, _ := t.config()
	sem := make(chan struct{}, rt.Workers)
	poll := min(max(rt.Backoff/2, 5*time.Millisecond), time.Second)
	for {
		claimed, free := 0, cap(sem)-len(sem)
		if free > 0 {
			items, n := s.claim(r, t, free)
			for _, it := range items {
				sem <- struct{}{}
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					s.deliver(r, t, []*item{it})
					<-sem
					t.signal()
				}()
			}
			claimed = n
		}
		if claimed > 0 && claimed == free {
			continue // more may be due
		}
		select {
		case <-s.ctx.Done():
			return
		case <-r.done: // a reload removed or replaced the route
			return
		case <-t.wake:
		case <-time.After(poll):
		}
	}
}

// digestLoop sends what is due as one delivery per interval.
func (s *Service) digestLoop(r *route, t *target) {
	const maxDigest = 500
	s.every(t.digest, r.done, func() {
		for {
			items, n := s.claim(r, t, maxDigest)
			if len(items) > 0 {
				s.deliver(r, t, items)
			}
			if n < maxDigest || s.ctx.Err() != nil {
				return
			}
		}
	})
}

// every runs fn every d until the service stops or done is closed.
func (s *Service) every(d time.Duration, done <-chan struct{}, fn func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-done:
			return
		case <-tick.C:
			fn()
		}
	}
}

// claim leases up to limit due rows of the route's target t and returns
// them as messages to deliver (long messages' parts joined, see
// assemble) and how many rows it claimed.
func (s *Service) claim(r *route, t *target, limit int) ([]*item, int) {
	now := time.Now()
	// The lease outlives an attempt: a crash mid-way leaves the messages
	// due again once it ends.
	rt, _ := t.config()
	lease, until := newLease(), now.Add(rt.Timeout+5*time.Second)
	msgs, err := s.q.ClaimMO(s.ctx, r.Name, t.name, lease, now, until, limit)
	if err != nil && s.ctx.Err() == nil {
		if n, ok := s.errLog.Tick(10 * time.Second); ok {
			s.log.Error("MO queue unreadable", zap.String("route", r.Name), zap.String("target", t.name), zap.Int64("count", n), zap.Error(err))
		}
	}
	return s.assemble(r.Name, t.name, lease, msgs, until), len(msgs)
}

// deliver makes one attempt at msgs (one, or a digest) and settles each:
// delivered on success, skipped (a reply the limits or the loop guard
// stopped), else queued for a later attempt, or dead past max_attempts or
// max_age or on a permanent failure.
func (s *Service) deliver(r *route, t *target, items []*item) {
	rt, send := t.config()
	ctx, cancel := context.WithTimeout(s.ctx, rt.Timeout)
	err := send(ctx, items)
	cancel()
	for _, it := range items {
		s.settle(r, t, rt, it, err)
	}
}

// settle records the attempt at it: every row of a long message gets the
// same outcome, decided on its most tried, oldest row.
func (s *Service) settle(r *route, t *target, rt Retry, it *item, err error) {
	now := time.Now()
	m := *it.head()
	for _, p := range it.rows[1:] {
		m.Attempts = max(m.Attempts, p.Attempts)
		if p.QueuedAt.Before(m.QueuedAt) {
			m.QueuedAt = p.QueuedAt
		}
	}
	m.ID = it.id()
	state, next, why := store.MODelivered, now, ""
	var skip *skipped
	switch {
	case err == nil:
		s.m.delivered.WithLabelValues(r.Name, t.name).Inc()
	case errors.As(err, &skip):
		state, why = store.MOSkipped, err.Error()
		s.m.skipped.WithLabelValues(r.Name, skip.reason).Inc()
	case s.ctx.Err() != nil:
		// Shutting down: the message stays due, this attempt not counted
		// against it beyond the claim.
		state, why = store.MOQueued, "interrupted by shutdown"
	case isPermanent(err) || m.Attempts >= rt.MaxAttempts || now.Sub(m.QueuedAt) >= rt.MaxAge:
		state, why = store.MODead, err.Error()
		s.m.dead.WithLabelValues(r.Name, t.name).Inc()
		s.log.Warn("MO dead-lettered; replay it with POST /api/v1/mo/{id}/replay", zap.String("route", r.Name),
			zap.String("target", t.name), zap.Int64("id", m.ID), zap.Int("attempts", m.Attempts), zap.Error(err))
	default:
		state, why = store.MOQueued, err.Error()
		next = now.Add(backoff(rt, m.Attempts, err))
		s.m.retries.WithLabelValues(r.Name, t.name).Inc()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range it.rows {
		if serr := s.q.SettleMO(ctx, p.ID, p.Lease, state, next, why); serr != nil {
			// The lease ends by itself: the message is tried again (the same
			// Idempotency-Key lets the endpoint drop a repeat).
			s.log.Warn("MO delivery not recorded; it will be tried again", zap.Int64("id", p.ID), zap.Error(serr))
		}
	}
}

// retryAfter is an endpoint's Retry-After, honoured up to max_backoff.
type retryAfter struct {
	status int
	after  time.Duration
}

func (e *retryAfter) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

// post pushes one message to an http or webhook target.
func (s *Service) post(ctx context.Context, url string, secret []byte, it *item) error {
	m := it.message()
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return PostSigned(ctx, s.client, url, secret, "smsfw-mo-"+m.ID, body)
}

// PostSigned posts a JSON body signed under secret (X-Smsfw-Signature)
// with an Idempotency-Key: nil on a 2xx answer.
func PostSigned(ctx context.Context, client *http.Client, url string, secret []byte, key string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "smsfw-mo")
	req.Header.Set(HeaderIdempotency, key)
	req.Header.Set(HeaderSignature, Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	e := &retryAfter{status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.after = time.Duration(secs) * time.Second
	}
	return e
}

// backoff is the wait after the attempts-th failed attempt: backoff
// doubled per attempt up to max_backoff, the upper half drawn at random
// (jitter), at least an endpoint's Retry-After (within max_backoff).
func backoff(h Retry, attempts int, err error) time.Duration {
	d := h.Backoff
	for i := 1; i < attempts && d < h.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, h.MaxBackoff)
	d = d/2 + rand.N(d/2+1)
	var ra *retryAfter
	if errors.As(err, &ra) && ra.after > d {
		d = min(ra.after, h.MaxBackoff)
	}
	return d
}
