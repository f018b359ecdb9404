package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/store"
)

// openStore opens the event store behind --db (a variable so that tests
// can substitute a store). It applies pending migrations like smsfw run
// does, so pointing it at a running smsfw's SQLite file is safe (WAL: the
// reader never blocks the writer).
var openStore = func(ctx context.Context, dsn string) (store.Store, error) {
	// A reader must not create an empty database at a mistyped path (SQLite
	// would, and the answer would be "no events match").
	if !store.IsPostgres(dsn) && dsn != ":memory:" {
		path, _, _ := strings.Cut(dsn, "?")
		if _, err := os.Stat(path); err != nil && !strings.HasPrefix(path, "file:") {
			return nil, fmt.Errorf("--db: %w", err)
		}
	}
	st, err := store.Open(ctx, dsn, nil)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	return st, nil
}

// eventFilters are the API's filters, offered as flags of the same names.
var eventFilters = []struct{ name, usage string }{
	{"from", "arrived at or after (RFC 3339 or unix seconds)"},
	{"to", "arrived before (RFC 3339 or unix seconds)"},
	{"peer", "peer name"},
	{"sender", "sender address (exact)"},
	{"dest", "destination address (exact)"},
	{"rule", "rule id"},
	{"action", "allow, flag, reject, throttle, drop or quarantine"},
	{"class", "a2p, p2p, mo, receipt, ..."},
	{"direction", "mt or mo"},
	{"text", "text contains (case-insensitive)"},
	{"fingerprint", "text fingerprint (hex)"},
	{"quarantine", "held, released, rejected or expired"},
	{"monitor", "true: monitor-mode hits only; false: enforced only"},
}

func eventsCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: smsfw events [--db DSN | --api URL [--token T]] [filters] [--format table|csv|json] [--limit N] [--all]")
		fmt.Fprintln(fs.Output(), "\nLists or exports stored events, newest first. --db reads the store directly;")
		fmt.Fprintln(fs.Output(), "--api asks a running smsfw (token also from $SMSFW_TOKEN). json is one event per line.")
		fmt.Fprintln(fs.Output())
		fs.PrintDefaults()
	}
	var db dbFlags
	db.register(fs, "event store DSN (a SQLite file, or postgres://...)")
	api := fs.String("api", "", "URL of a running smsfw admin server (http://127.0.0.1:9775)")
	token := fs.String("token", "", "API bearer token for --api (default $SMSFW_TOKEN)")
	format := fs.String("format", "table", "output: table, csv or json (JSON lines)")
	limit := fs.Int("limit", 50, "events to print; with --all, events per request")
	all := fs.Bool("all", false, "every matching event (follows pages)")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	vals := map[string]*string{}
	for _, f := range eventFilters {
		vals[f.name] = fs.String(f.name, "", f.usage)
	}
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	var dsn string
	if *api == "" || db.given() { // $SMSFW_DB does not conflict with --api
		var err error
		if dsn, err = db.value(); err != nil {
			return err
		}
	}
	if (dsn == "") == (*api == "") {
		fmt.Fprintln(stderr, "smsfw events: give --db DSN or --api URL (one of them)")
		return errUsage
	}
	switch *format {
	case "table", "csv", "json":
	default:
		return fmt.Errorf("--format must be table, csv or json, not %q", *format)
	}
	if *limit < 1 {
		return fmt.Errorf("--limit must be positive")
	}
	if *all && *limit > store.MaxLimit {
		return fmt.Errorf("--limit must be from 1 to %d with --all (events per request)", store.MaxLimit)
	}
	vs := url.Values{}
	for name, v := range vals {
		if *v != "" {
			vs.Set(name, *v)
		}
	}
	// The API's own validation: the same filters give the same errors.
	q, err := review.ParseQuery(vs)
	if err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), review.ErrBadRequest.Error()+": "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var src eventSource
	if dsn != "" {
		st, err := openStore(ctx, dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		src = storeSource{st}
	} else {
		tok := *token
		if tok == "" {
			tok = os.Getenv("SMSFW_TOKEN")
		}
		src = &apiSource{base: strings.TrimRight(*api, "/"), token: tok, client: &http.Client{Timeout: 30 * time.Second}}
	}
	out := newEventWriter(*format, stdout)
	remaining := *limit
	pageSize := min(*limit, store.MaxLimit)
	for {
		q.Limit = pageSize
		if !*all {
			q.Limit = min(remaining, store.MaxLimit)
		}
		vs.Set("limit", strconv.Itoa(q.Limit))
		page, err := src.search(ctx, q, vs)
		if err != nil {
			return err
		}
		for _, ev := range page.Events {
			if err := out.write(ev); err != nil {
				return err
			}
		}
		remaining -= len(page.Events)
		if page.Next == "" || (!*all && remaining <= 0) {
			break
		}
		q.Cursor = page.Next
		vs.Set("cursor", page.Next)
	}
	return out.flush()
}

// eventSource is the store or the API.
type eventSource interface {
	search(ctx context.Context, q store.Query, vs url.Values) (store.Page, error)
}

type storeSource struct{ st store.Store }

func (s storeSource) search(ctx context.Context, q store.Query, _ url.Values) (store.Page, error) {
	return s.st.Search(ctx, q)
}

type apiSource struct {
	base, token string
	client      *http.Client
}

func (a *apiSource) search(ctx context.Context, _ store.Query, vs url.Values) (store.Page, error) {
	var p store.Page
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v1/events?"+vs.Encode(), nil)
	if err != nil {
		return p, fmt.Errorf("--api: %w", err)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return p, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return p, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return p, fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return p, fmt.Errorf("%s", resp.Status)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, fmt.Errorf("--api: bad answer: %w", err)
	}
	return p, nil
}

// eventWriter prints events in one format.
type eventWriter struct {
	format string
	tw     *tabwriter.Writer
	cw     *csv.Writer
	enc    *json.Encoder
	header bool
}

var csvHeader = []string{"id", "time", "direction", "peer", "system_id", "class", "sender", "dest", "rule_id", "action",
	"monitor", "reason", "evidence", "highlight", "quarantine", "status", "message_id", "fingerprint", "segments", "text"}

func newEventWriter(format string, w io.Writer) *eventWriter {
	ew := &eventWriter{format: format}
	switch format {
	case "table":
		ew.tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	case "csv":
		ew.cw = csv.NewWriter(w)
	case "json":
		ew.enc = json.NewEncoder(w)
	}
	return ew
}

func (ew *eventWriter) write(ev *filter.Event) error {
	switch ew.format {
	case "json":
		return ew.enc.Encode(ev)
	case "csv":
		if !ew.header {
			ew.header = true
			if err := ew.cw.Write(csvHeader); err != nil {
				return err
			}
		}
		// Exact values: encoding/csv quotes commas, quotes and line breaks
		// (RFC 4180). Spreadsheets may treat a cell starting with = + - @
		// as a formula; the export keeps the data as it was.
		return ew.cw.Write([]string{strconv.FormatInt(ev.ID, 10), ev.Time.UTC().Format(time.RFC3339Nano), ev.Direction, ev.Peer,
			ev.SystemID, ev.Class, ev.Sender, ev.Dest, ev.RuleID, ev.Action, strconv.FormatBool(ev.Monitor), ev.Reason,
			ev.Evidence, ev.Highlight, ev.Quarantine, fmt.Sprintf("0x%08x", ev.Status), ev.MessageID,
			fingerprintHex(ev.Fingerprint), strconv.Itoa(ev.Segments), ev.Text})
	default:
		if !ew.header {
			ew.header = true
			fmt.Fprintln(ew.tw, "TIME\tID\tDIR\tPEER\tSENDER\tDEST\tCLASS\tACTION\tRULE\tQUARANTINE\tTEXT")
		}
		action := ev.Action
		if ev.Monitor {
			action += "(monitor)"
		}
		_, err := fmt.Fprintf(ew.tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.Local().Format("2006-01-02 15:04:05"),
			ev.ID, ev.Direction, cell(ev.Peer, 16), cell(ev.Sender, 20), cell(ev.Dest, 20), ev.Class, action,
			cell(ev.RuleID, 24), dash(ev.Quarantine), cell(ev.Text, 60))
		return err
	}
}

func (ew *eventWriter) flush() error {
	switch ew.format {
	case "table":
		if !ew.header {
			fmt.Fprintln(ew.tw, "no events match")
		}
		return ew.tw.Flush()
	case "csv":
		if !ew.header {
			_ = ew.cw.Write(csvHeader)
		}
		ew.cw.Flush()
		return ew.cw.Error()
	}
	return nil
}

func fingerprintHex(fp filter.Fingerprint) string {
	if fp == 0 {
		return ""
	}
	return filter.FormatFingerprint(fp)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cell makes a value safe and short for a terminal table: message texts
// and sender ids are hostile input, and control characters (escape
// sequences, tabs, line breaks) would rewrite the terminal or the columns.
func cell(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count == n {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar || unicode.Is(unicode.Bidi_Control, r) {
			r = '·'
		}
		b.WriteRune(r)
		count++
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
