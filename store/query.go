package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smsfw/smsfw/filter"
)

// DefaultLimit is the page size when Query.Limit is 0.
const DefaultLimit = 50

// maxFilterLen bounds each string filter: no legitimate sender, rule id or
// search text is longer, and a bound keeps a hostile query cheap.
const maxFilterLen = 1024

// where is a WHERE clause under construction, with ? placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// cursor is the position after the last event of a page.
type cursor struct{ t, id int64 }

// Cursors are opaque to clients; the version prefix lets the format change.
func encodeCursor(c cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + strconv.FormatInt(c.t, 10) + ":" + strconv.FormatInt(c.id, 10)))
}

func decodeCursor(s string) (cursor, error) {
	bad := fmt.Errorf("%w: bad cursor", ErrBadQuery)
	if len(s) > 128 {
		return cursor{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, bad
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "v1" {
		return cursor{}, bad
	}
	t, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return cursor{}, bad
	}
	return cursor{t, id}, nil
}

func validString(field, s string) error {
	if len(s) > maxFilterLen {
		return fmt.Errorf("%w: %s longer than %d bytes", ErrBadQuery, field, maxFilterLen)
	}
	// PostgreSQL rejects both in a text parameter; refuse them the same way
	// on both dialects, as the caller's mistake.
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrBadQuery, field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: %s contains a NUL byte", ErrBadQuery, field)
	}
	return nil
}

func validQuarantine(s string) bool {
	switch s {
	case filter.QuarantineHeld, filter.QuarantineReleased, filter.QuarantineRejected, filter.QuarantineExpired:
		return true
	}
	return false
}

// limit returns the effective page size of q.
func (q *Query) limit() (int, error) {
	switch {
	case q.Limit < 0:
		return 0, fmt.Errorf("%w: limit %d is negative", ErrBadQuery, q.Limit)
	case q.Limit > MaxLimit:
		return 0, fmt.Errorf("%w: limit %d is over the maximum %d", ErrBadQuery, q.Limit, MaxLimit)
	case q.Limit == 0:
		return DefaultLimit, nil
	}
	return q.Limit, nil
}

// filters validates q and builds the conditions shared by Search,
// Campaigns and Stats (everything but the cursor and the limit).
func (d *dialect) filters(q *Query, denseText bool) (*where, error) {
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		return nil, fmt.Errorf("%w: from (%s) is after to (%s)", ErrBadQuery, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	w := &where{}
	if !q.From.IsZero() {
		w.add("t >= ?", q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		w.add("t < ?", q.To.UnixMicro())
	}
	for _, f := range []struct{ name, col, v string }{
		{"peer", "peer", q.Peer},
		{"sender", "sender", q.Sender},
		{"dest", "dest", q.Dest},
		{"rule_id", "rule_id", q.RuleID},
		{"action", "action", q.Action},
		{"class", "class", q.Class},
		{"direction", "direction", q.Direction},
	} {
		if f.v == "" {
			continue
		}
		if err := validString(f.name, f.v); err != nil {
			return nil, err
		}
		w.add(f.col+" = ?", f.v)
	}
	if q.Text != "" {
		if err := validString("text", q.Text); err != nil {
			return nil, err
		}
		cond, args := d.textMatch(q.Text, denseText)
		w.add(cond, args...)
	}
	if q.Fingerprint != 0 {
		w.add("fingerprint = ?", int64(q.Fingerprint))
	}
	if q.Quarantine != "" {
		if !validQuarantine(q.Quarantine) {
			return nil, fmt.Errorf("%w: quarantine %q is not one of held, released, rejected, expired", ErrBadQuery, q.Quarantine)
		}
		// A literal, not a parameter: SQLite uses the partial index
		// events_quarantine only when it can see that the value is not ''.
		w.add("quarantine = '" + q.Quarantine + "'")
	}
	if q.Monitor != nil {
		w.add("monitor = ?", b2i(*q.Monitor))
	}
	return w, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// statsKeys maps StatsQuery.By to a column.
var statsKeys = map[string]string{
	"rule":      "rule_id",
	"action":    "action",
	"class":     "class",
	"peer":      "peer",
	"direction": "direction",
}

// maxBuckets bounds a Stats answer over a closed range; maxPoints bounds
// any Stats answer (all keys together).
const maxBuckets = 100_000

var maxPoints = 200_000 // a variable for the tests
