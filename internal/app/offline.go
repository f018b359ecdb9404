package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
	"github.com/smsfw/smsfw/store"
)

// The offline tools (`smsfw rules test`, `smsfw replay`) run messages
// through the inspection chain over a policy without the proxy: they
// answer what the running program would have decided.

// TestMessage is one message to explain, as a person types it.
type TestMessage struct {
	Peer, PeerClass string
	From, To, Text  string
	// DCS is the data_coding; negative: 0 if the text fits GSM 03.38,
	// else 8 (UCS-2).
	DCS int
	// MO inspects it as a deliver_sm from the network instead of a
	// submit_sm from the peer.
	MO bool
}

// Explanation is the chain's verdict on a message with what it saw.
type Explanation struct {
	Verdict    filter.Verdict
	Facts      filter.Facts
	Detections filter.Detections
}

// Explain runs m through a chain over the policy snapshot s, as the proxy
// would (numbers parsed before answering).
func Explain(s *rules.Snapshot, m TestMessage) (*Explanation, error) {
	chain, err := pipeline.New(pipeline.Options{Engine: rules.NewStatic(s, nil), SyncNumbers: true})
	if err != nil {
		return nil, err
	}
	defer chain.Close()
	req, err := testRequest(m)
	if err != nil {
		return nil, err
	}
	v, facts, det, err := chain.Explain(req)
	if err != nil {
		return nil, err
	}
	return &Explanation{Verdict: v, Facts: facts, Detections: det}, nil
}

// testRequest encodes m as the PDU a peer (or the SMSC) would send.
func testRequest(m TestMessage) (*filter.Request, error) {
	f := &pdu.SMFields{Src: m.From, Dst: m.To}
	f.SrcTON, f.DstTON = tonOf(m.From), tonOf(m.To)
	switch {
	case m.DCS >= 0:
		f.DataCoding = byte(m.DCS)
		if m.DCS == 8 {
			f.ShortMessage = smstext.EncodeUCS2(nil, m.Text)
		} else {
			f.ShortMessage = []byte(m.Text)
		}
	case smstext.CanGSM7(m.Text):
		f.ShortMessage, _ = smstext.EncodeGSM7(nil, m.Text)
	default:
		f.DataCoding, f.ShortMessage = 8, smstext.EncodeUCS2(nil, m.Text)
	}
	id, dir := pdu.SubmitSM, filter.MT
	if m.MO {
		id, dir = pdu.DeliverSM, filter.MO
	}
	if len(f.ShortMessage) > 254 {
		f.TLVs = pdu.AppendTLV(nil, pdu.TagMessagePayload, f.ShortMessage)
		f.ShortMessage = nil
	}
	var msg pdu.Message
	if err := pdu.ParseMessage(pdu.AppendSM(nil, id, 1, f), &msg); err != nil {
		return nil, err
	}
	return &filter.Request{Direction: dir, Peer: m.Peer, PeerClass: m.PeerClass, SystemID: m.Peer, Msg: &msg}, nil
}

// tonOf guesses a TON for a typed address: 5 alphanumeric, 1 international, 0 otherwise.
func tonOf(a string) byte {
	a = strings.TrimPrefix(a, "+")
	if a == "" {
		return 0
	}
	for _, c := range a {
		if c < '0' || c > '9' {
			return 5
		}
	}
	if len(a) > 8 {
		return 1
	}
	return 0
}

// ReplayChange is one stored event whose verdict the candidate policy changes.
type ReplayChange struct {
	ID       int64     `json:"id,string"`
	Time     time.Time `json:"time"`
	Peer     string    `json:"peer"`
	Sender   string    `json:"sender"`
	Dest     string    `json:"dest"`
	Was      string    `json:"was"`      // what happened: the stored action (allow for a monitor hit)
	WasRule  string    `json:"was_rule"` // stored rule id
	Now      string    `json:"now"`
	NowRule  string    `json:"now_rule"`
	Evidence string    `json:"evidence,omitempty"`
}

// ReplaySummary is the outcome of a replay.
type ReplaySummary struct {
	Events      int            `json:"events"`
	Replayed    int            `json:"replayed"`
	SkippedRaw  int            `json:"skipped_no_raw"` // masked text or pre-raw events: nothing to re-evaluate
	SkippedBad  int            `json:"skipped_unparsable"`
	Unchanged   int            `json:"unchanged"`
	Changed     int            `json:"changed"`
	Transitions map[string]int `json:"transitions"` // "reject -> allow": n
	Changes     []ReplayChange `json:"changes"`
}

// Replay re-evaluates stored events against a candidate policy, so that a
// rule is tried on real traffic before it goes live.
type Replay struct {
	chain *pipeline.Chain
}

// NewReplay loads the candidate policy; region is the default region for
// national numbers.
func NewReplay(policy rules.Source, region string) (*Replay, error) {
	engine, err := rules.NewEngineSource(policy, nil, nil)
	if err != nil {
		return nil, err
	}
	chain, err := pipeline.New(pipeline.Options{Engine: engine, DefaultRegion: region, SyncNumbers: true})
	if err != nil {
		return nil, err
	}
	return &Replay{chain: chain}, nil
}

// Close stops the chain's background work.
func (r *Replay) Close() { r.chain.Close() }

// Run replays the newest limit events of st matching q, oldest first (so
// the candidate's counters see the traffic in its order), and compares
// the verdicts with the stored ones.
func (r *Replay) Run(ctx context.Context, st store.Store, q store.Query, limit int) (*ReplaySummary, error) {
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
	sum := &ReplaySummary{Events: len(ids), Transitions: map[string]int{}}
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
		v, _, _, err := r.chain.Explain(req)
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
		sum.Changes = append(sum.Changes, ReplayChange{ID: ev.ID, Time: ev.Time, Peer: ev.Peer, Sender: ev.Sender,
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
