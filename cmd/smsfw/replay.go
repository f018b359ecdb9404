package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/store"
)

// replayCmd re-evaluates stored events against a candidate policy and
// prints what would change, so a rule is tried on real traffic first.
func replayCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("smsfw replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rulesFile := fs.String("rules", "", "candidate policy file (required)")
	var db dbFlags
	db.register(fs, "event store: SQLite file or postgres:// DSN (required)")
	since := fs.String("since", "", "only events that arrived at or after this time (RFC 3339 or unix seconds; default: 24h ago)")
	until := fs.String("until", "", "only events that arrived before this time")
	limit := fs.Int("limit", 100_000, "replay at most this many events (the newest)")
	region := fs.String("region", "DE", "default region for national numbers")
	format := fs.String("format", "table", "table or json")
	show := fs.Int("show", 50, "list at most this many changed events in the table")
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	dsn, err := db.value()
	if err != nil {
		return err
	}
	if *rulesFile == "" || dsn == "" {
		return errors.New("--rules and --db are required")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("--format must be table or json, not %q", *format)
	}
	q := store.Query{From: time.Now().Add(-24 * time.Hour), Limit: store.MaxLimit}
	if *since != "" {
		if q.From, err = review.ParseTime(*since); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	if *until != "" {
		if q.To, err = review.ParseTime(*until); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
	}
	rp, err := app.NewReplay(rules.FileSource(*rulesFile), *region)
	if err != nil {
		return err
	}
	defer rp.Close()
	ctx := context.Background()
	st, err := openStore(ctx, dsn) // refuses a mistyped SQLite path instead of creating it
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := rp.Run(ctx, st, q, *limit)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	writeReplay(stdout, sum, *show)
	return nil
}

func writeReplay(w io.Writer, s *app.ReplaySummary, show int) {
	fmt.Fprintf(w, "%d events: %d replayed, %d unchanged, %d changed; %d skipped (no raw PDUs: masked text), %d unparsable\n",
		s.Events, s.Replayed, s.Unchanged, s.Changed, s.SkippedRaw, s.SkippedBad)
	if len(s.Transitions) > 0 {
		keys := make([]string, 0, len(s.Transitions))
		for k := range s.Transitions {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return s.Transitions[keys[i]] > s.Transitions[keys[j]] })
		fmt.Fprintln(w, "\nchanges:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %-24s %d\n", k, s.Transitions[k])
		}
	}
	if len(s.Changes) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tPEER\tSENDER\tWAS\tNOW")
	for i, c := range s.Changes {
		if i >= show {
			fmt.Fprintf(tw, "... %d more (--format json lists all)\n", len(s.Changes)-show)
			break
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Time.UTC().Format(time.RFC3339), cell(c.Peer, 24), cell(c.Sender, 24),
			withRule(c.Was, c.WasRule), withRule(c.Now, c.NowRule))
	}
	_ = tw.Flush()
}

func withRule(action, rule string) string {
	if rule == "" {
		return action
	}
	return action + " (" + rule + ")"
}
