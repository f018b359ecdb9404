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

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/review"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
	"github.com/smsfw/smsfw/store"
)

// replayChange is one stored event whose verdict the candidate policy changes.
type replayChange struct {
	ID       int64     `json:"id,string"`
	Time     time.Time `json:"time"`
	Peer     string    `json:"peer"`
	Sender   string    `json:"sender"`
	Dest     string    `json:"dest"`
	Was      string    `json:"was"`      // what happened: action (rule)
	WasRule  string    `json:"was_rule"` // stored rule id
	Now      string    `json:"now"`
	NowRule  string    `json:"now_rule"`
	Evidence string    `json:"evidence,omitempty"`
}

// replaySummary is the outcome of a replay.
type replaySummary struct {
	Events      int            `json:"events"`
	Replayed    int            `json:"replayed"`
	SkippedRaw  int            `json:"skipped_no_raw"` // masked text or pre-raw events: nothing to re-evaluate
	SkippedBad  int            `json:"skipped_unparsable"`
	Unchanged   int            `json:"unchanged"`
	Changed     int            `json:"changed"`
	Transitions map[string]int `json:"transitions"` // "reject -> allow": n
	Changes     []replayChange `json:"changes"`
}

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
	engine, err := rules.NewEngine(*rulesFile, nil, nil)
	if err != nil {
		return err
	}
	chain, err := pipeline.New(pipeline.Options{Engine: engine, DefaultRegion: *region, SyncNumbers: true})
	if err != nil {
		return err
	}
	defer chain.Close()
	ctx := context.Background()
	st, err := openStore(ctx, dsn) // refuses a mistyped SQLite path instead of creating it
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := replay(ctx, st, chain, q, *limit)
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

// replay walks the matching events oldest first (so the candidate's
// counters see traffic in its order) and compares verdicts.
func replay(ctx context.Context, st store.Store, chain *pipeline.Chain, q store.Query, limit int) (*replaySummary, error) {
	var ids []int64
	for len(ids) < limit {
		page, err := st.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, ev := range page.Events {
			ids = append(ids, ev.ID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if len(ids) > limit {
		ids = ids[:limit]
	}
	sum := &replaySummary{Events: len(ids), Transitions: map[string]int{}}
	for i := len(ids) - 1; i >= 0; i-- {
		ev, err := st.Get(ctx, ids[i])
		if err != nil {
			if errors.Is(err, store.ErrNotFound) { // deleted by retention meanwhile
				continue
			}
			return nil, err
		}
		if len(ev.Raw) == 0 {
			sum.SkippedRaw++
			continue
		}
		req, ok := replayRequest(ev)
		if !ok {
			sum.SkippedBad++
			continue
		}
		v, _, _, err := chain.Explain(req)
		if err != nil {
			return nil, err
		}
		sum.Replayed++
		was := ev.Action
		if ev.Monitor { // a monitor hit went on: what happened was allow
			was = filter.Allow.String()
		}
		now := v.Action.String()
		if was == now && (was == filter.Allow.String() || ev.RuleID == v.RuleID) {
			sum.Unchanged++
			continue
		}
		sum.Changed++
		sum.Transitions[was+" -> "+now]++
		sum.Changes = append(sum.Changes, replayChange{ID: ev.ID, Time: ev.Time, Peer: ev.Peer, Sender: ev.Sender,
			Dest: ev.Dest, Was: was, WasRule: ev.RuleID, Now: now, NowRule: v.RuleID, Evidence: v.Evidence})
	}
	return sum, nil
}

// replayRequest rebuilds the inspector's request from a stored event.
func replayRequest(ev *filter.Event) (*filter.Request, bool) {
	msgs := make([]pdu.Message, len(ev.Raw))
	for i, raw := range ev.Raw {
		p, err := pdu.FromBytes(raw)
		if err != nil || pdu.ParseMessage(p, &msgs[i]) != nil {
			return nil, false
		}
	}
	r := &filter.Request{Direction: filter.MT, Peer: ev.Peer, PeerClass: ev.PeerClass, SystemID: ev.SystemID,
		Msg: &msgs[0], Time: ev.Time.UnixNano()}
	if ev.Direction == filter.MO.String() {
		r.Direction = filter.MO
	}
	if len(msgs) > 1 {
		r.Parts = make([]*pdu.Message, len(msgs))
		for i := range msgs {
			r.Parts[i] = &msgs[i]
		}
	}
	return r, true
}

func writeReplay(w io.Writer, s *replaySummary, show int) {
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
