package review

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/store"
)

// ErrBadRequest is wrapped by every client error of the API (400).
var ErrBadRequest = errors.New("bad request")

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// Query parameters each route accepts. Anything else is an error: a typo in
// a filter (sendr=...) silently matching everything would mislead an analyst.
var (
	filterParams   = []string{"from", "to", "peer", "sender", "dest", "rule", "action", "class", "direction", "text", "fingerprint", "quarantine", "monitor"}
	eventParams    = append(slices.Clone(filterParams), "limit", "cursor")
	campaignParams = append(slices.Clone(filterParams), "limit")
	statsParams    = append(slices.Clone(filterParams), "by", "step")
	// The queue's state replaces the quarantine filter.
	quarantineParams = []string{"from", "to", "peer", "sender", "dest", "rule", "class", "direction", "text", "fingerprint", "state", "limit", "cursor"}
	auditParams      = []string{"from", "to", "actor", "limit"}
)

// Known values of enumerated filters.
var (
	actions         = []string{"allow", "flag", "reject", "throttle", "drop", "quarantine"}
	directions      = []string{"mt", "mo"}
	quarantineState = []string{filter.QuarantineHeld, filter.QuarantineReleased, filter.QuarantineRejected, filter.QuarantineExpired}
	statsKeys       = []string{"rule", "action", "class", "peer", "direction"}
)

// MaxStatsBuckets bounds (to-from)/step so one request cannot make the
// store build millions of buckets.
const MaxStatsBuckets = 10000

// params checks that vs holds only allowed keys, each once.
func params(vs url.Values, allowed []string) error {
	keys := make([]string, 0, len(vs))
	for k := range vs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return badf("unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
		if len(vs[k]) > 1 {
			return badf("query parameter %q given %d times", k, len(vs[k]))
		}
	}
	return nil
}

// ParseTime reads RFC 3339 or unix seconds.
func ParseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("unix time %d out of range", n)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2006-01-02T15:04:05Z) nor unix seconds", s)
	}
	return t, nil
}

// ParseFingerprint reads a fingerprint in hex, as the API and console show it.
func ParseFingerprint(s string) (filter.Fingerprint, error) {
	fp, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 64)
	if err != nil || fp == 0 {
		return 0, fmt.Errorf("fingerprint %q is not a non-zero hex number of at most 16 digits", s)
	}
	return filter.Fingerprint(fp), nil
}

func oneOf(name, v string, allowed []string) error {
	if v != "" && !slices.Contains(allowed, v) {
		return badf("%s %q is not one of %s", name, v, strings.Join(allowed, ", "))
	}
	return nil
}

// ParseQuery turns the events filters of vs into a store.Query. Exported
// for `smsfw events`, which takes the same filters as flags.
func ParseQuery(vs url.Values) (store.Query, error) {
	var q store.Query
	var err error
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := vs.Get(tf.name); s != "" {
			if *tf.dst, err = ParseTime(s); err != nil {
				return q, badf("%s: %v", tf.name, err)
			}
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		return q, badf("from (%s) is after to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	q.Peer, q.Sender, q.Dest = vs.Get("peer"), vs.Get("sender"), vs.Get("dest")
	q.RuleID, q.Action, q.Class = vs.Get("rule"), vs.Get("action"), vs.Get("class")
	q.Direction, q.Text, q.Quarantine = vs.Get("direction"), vs.Get("text"), vs.Get("quarantine")
	q.Cursor = vs.Get("cursor")
	if err := oneOf("action", q.Action, actions); err != nil {
		return q, err
	}
	if err := oneOf("direction", q.Direction, directions); err != nil {
		return q, err
	}
	if err := oneOf("quarantine", q.Quarantine, quarantineState); err != nil {
		return q, err
	}
	if s := vs.Get("fingerprint"); s != "" {
		if q.Fingerprint, err = ParseFingerprint(s); err != nil {
			return q, badf("%v", err)
		}
	}
	if s := vs.Get("monitor"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, badf("monitor %q is not true or false", s)
		}
		q.Monitor = &b
	}
	if q.Limit, err = parseLimit(vs.Get("limit"), store.MaxLimit); err != nil {
		return q, err
	}
	return q, nil
}

func parseLimit(s string, maxLimit int) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badf("limit %q must be a number from 1 to %d", s, maxLimit)
	}
	return n, nil
}

func parseStats(vs url.Values, now time.Time) (store.StatsQuery, error) {
	var sq store.StatsQuery
	q, err := ParseQuery(vs)
	if err != nil {
		return sq, err
	}
	sq.Query = q
	sq.By = vs.Get("by")
	if sq.By == "" {
		sq.By = "action"
	}
	if err := oneOf("by", sq.By, statsKeys); err != nil {
		return sq, err
	}
	sq.Step = time.Minute
	if s := vs.Get("step"); s != "" {
		if sq.Step, err = time.ParseDuration(s); err != nil || sq.Step < time.Second {
			return sq, badf("step %q must be a duration of at least 1s (1m, 5m, 1h)", s)
		}
	}
	// A time series needs a range: the last hour unless told.
	if sq.To.IsZero() {
		sq.To = now
	}
	if sq.From.IsZero() {
		sq.From = sq.To.Add(-time.Hour)
	}
	if sq.From.After(sq.To) {
		return sq, badf("from (%s) is after to (%s)", sq.From.Format(time.RFC3339), sq.To.Format(time.RFC3339))
	}
	if n := sq.To.Sub(sq.From) / sq.Step; n > MaxStatsBuckets {
		return sq, badf("%d buckets of %s between from and to; at most %d (use a larger step)", n, sq.Step, MaxStatsBuckets)
	}
	return sq, nil
}

func parseAudit(vs url.Values) (store.AuditQuery, error) {
	var aq store.AuditQuery
	var err error
	for _, tf := range []struct {
		name string
		dst  *time.Time
	}{{"from", &aq.From}, {"to", &aq.To}} {
		if s := vs.Get(tf.name); s != "" {
			if *tf.dst, err = ParseTime(s); err != nil {
				return aq, badf("%s: %v", tf.name, err)
			}
		}
	}
	if !aq.From.IsZero() && !aq.To.IsZero() && aq.From.After(aq.To) {
		return aq, badf("from is after to")
	}
	aq.Actor = vs.Get("actor")
	if aq.Limit, err = parseLimit(vs.Get("limit"), store.MaxLimit); err != nil {
		return aq, err
	}
	if aq.Limit == 0 {
		aq.Limit = 100
	}
	return aq, nil
}
