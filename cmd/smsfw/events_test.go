package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/review/reviewtest"
	"github.com/smsfw/smsfw/store"
)

// eventsFixture seeds st and serves it by the review API behind a token.
func eventsFixture(t *testing.T, st store.Store) string {
	t.Helper()
	evs := reviewtest.Seed(time.Now())
	// A text that needs CSV quoting and a hostile terminal sequence.
	evs[5].Text = "line one, \"quoted\"\nline two \x1b[31mred"
	if err := st.Insert(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	svc, err := review.New(review.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("tok"))
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", svc.Handler())
	h, err := admin.Protect(mux, &admin.AuthConfig{Tokens: []admin.Token{{Name: "cli", TokenSHA256: hex.EncodeToString(sum[:])}}},
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func runEvents(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := eventsCmd(args, &out, &errb)
	return out.String(), errb.String(), err
}

// TestEventsCommand runs `smsfw events` in-process against the store (--db)
// and the API (--api), over the in-memory fake (substituted for openStore:
// not parallel) and over a real SQLite file, which --db opens with the real
// openStore while the API serves the same file.
func TestEventsCommand(t *testing.T) {
	t.Run("mem", func(t *testing.T) {
		st := reviewtest.NewStore()
		api := eventsFixture(t, st)
		saved := openStore
		t.Cleanup(func() { openStore = saved })
		openStore = func(_ context.Context, dsn string) (store.Store, error) {
			if dsn != "mem" {
				return nil, errors.New("unknown dsn")
			}
			return nopClose{st}, nil
		}
		testEventsCommand(t, "mem", api)
		if _, stderr, err := runEvents("--db", "other"); err == nil || !strings.Contains(err.Error(), "unknown dsn") {
			t.Errorf("--db other: %v %s", err, stderr)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "events.db")
		st, err := store.Open(context.Background(), path, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		api := eventsFixture(t, st)
		testEventsCommand(t, path, api)
		// A mistyped path is an error, not a new empty database.
		missing := filepath.Join(dir, "evnets.db")
		if _, stderr, err := runEvents("--db", missing); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("--db %s: %v %s", missing, err, stderr)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("--db created %s: %v", missing, err)
		}
	})
}

func testEventsCommand(t *testing.T, dsn, api string) {
	sources := map[string][]string{"db": {"--db", dsn}, "api": {"--api", api, "--token", "tok"}}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				args []string
				rows int // data rows (csv)
			}{
				{nil, 8},
				{[]string{"--peer", "acme"}, 4},
				{[]string{"--fingerprint", "abc1", "--action", "reject"}, 3},
				{[]string{"--quarantine", "held"}, 1},
				{[]string{"--monitor", "true"}, 1},
				{[]string{"--limit", "3"}, 3},
				{[]string{"--limit", "3", "--all"}, 8}, // three pages
				{[]string{"--limit", "5"}, 5},
				{[]string{"--text", "nothing like this"}, 0},
			}
			for _, c := range cases {
				args := append(append(append([]string{}, src...), c.args...), "--format", "csv")
				out, stderr, err := runEvents(args...)
				if err != nil {
					t.Fatalf("%v: %v %s", c.args, err, stderr)
				}
				recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
				if err != nil {
					t.Fatalf("%v: csv: %v\n%s", c.args, err, out)
				}
				if len(recs) != c.rows+1 || strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
					t.Fatalf("%v: %d records\n%s", c.args, len(recs), out)
				}
				for _, r := range recs[1:] {
					if len(r) != len(csvHeader) {
						t.Fatalf("%v: ragged row %v", c.args, r)
					}
				}
			}
			// The quoted text survives CSV exactly.
			out, _, err := runEvents(append(append([]string{}, src...), "--sender", "SHOP", "--format", "csv")...)
			recs, _ := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(recs) != 2 || recs[1][len(csvHeader)-1] != "line one, \"quoted\"\nline two \x1b[31mred" {
				t.Fatalf("csv text: %v %q", err, out)
			}
			if !strings.Contains(out, `"line one, ""quoted""`) {
				t.Fatalf("RFC 4180 quoting: %q", out)
			}
			// JSON lines decode back to events.
			out, _, err = runEvents(append(append([]string{}, src...), "--format", "json", "--rule", "phishing-url")...)
			n := 0
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				var ev filter.Event
				if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.RuleID != "phishing-url" || ev.Fingerprint != 0xabc1 {
					t.Fatalf("json line %q", sc.Text())
				}
				n++
			}
			if err != nil || n != 3 {
				t.Fatalf("json: %v, %d lines", err, n)
			}
			// The table is one line per event, escape sequences neutralised.
			out, _, err = runEvents(src...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if err != nil || len(lines) != 9 || !strings.HasPrefix(lines[0], "TIME") || strings.ContainsRune(out, 0x1b) ||
				!strings.Contains(out, "quarantine") {
				t.Fatalf("table: %v\n%s", err, out)
			}
		})
	}

	errCases := []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"--db", dsn, "--api", api}, "usage"},
		{[]string{"--db", dsn, "--format", "xml"}, "--format must be table, csv or json"},
		{[]string{"--db", dsn, "--from", "yesterday"}, `from: "yesterday" is neither RFC 3339`},
		{[]string{"--db", dsn, "--action", "nuke"}, `action "nuke" is not one of`},
		{[]string{"--db", dsn, "--limit", "0"}, "--limit must be positive"},
		{[]string{"--db", dsn, "--limit", "5000", "--all"}, "--limit must be from 1 to 1000 with --all"},
		{[]string{"--api", api}, "401 Unauthorized: authentication required"},
		{[]string{"--api", api, "--token", "bad"}, "401"},
	}
	for _, c := range errCases {
		_, stderr, err := runEvents(c.args...)
		if err == nil || !strings.Contains(err.Error()+stderr, c.want) {
			t.Errorf("%v: %v %s, want %q", c.args, err, stderr, c.want)
		}
	}
	// The token may come from the environment.
	t.Setenv("SMSFW_TOKEN", "tok")
	if _, _, err := runEvents("--api", api, "--limit", "1"); err != nil {
		t.Fatalf("token from env: %v", err)
	}
}

// nopClose keeps the shared fixture open when the command closes its store.
type nopClose struct{ store.Store }

func (nopClose) Close() error { return nil }

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "-",
		"plain":            "plain",
		"a\tb\nc":          "a·b·c",
		"\x1b[2Jclear":     "·[2Jclear",
		"rtl\u202eevil":    "rtl·evil",
		"abcdefghijklmnop": "abcdefghij…",
	} {
		if got := cell(in, 10); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
