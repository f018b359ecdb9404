package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/sim"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

// An smsfwRig is smsfw (config mode, built by internal/app in this process, no
// event store) between the SMSC simulator and one ESME session per peer,
// with a tap on its inspector: what the scenario benchmark and the
// evaluation put traffic through. Peers bind with the password "pw"; each
// peer's upstream pool binds to the simulator with its own system_id, which
// is how MO injected for a peer reaches it.
type smsfwRig struct {
	sim     *sim.Server
	app     *app.App
	clients map[string]*esme.Client
}

type smsfwRigOptions struct {
	// config is smsfw's configuration, given the simulator's address.
	config func(simAddr string) (*config.Config, error)
	policy rules.Source
	peers  []string // system_ids to bind
	tap    *tap
}

func startSMSFWRig(ctx context.Context, o smsfwRigOptions) (_ *smsfwRig, err error) {
	r := &smsfwRig{sim: sim.New(sim.Config{Keep: -1}, nil), clients: map[string]*esme.Client{}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = r.sim.Serve(ln) }()
	cfg, err := o.config(ln.Addr().String())
	if err != nil {
		return nil, err
	}
	policy := o.policy
	r.app, err = app.New(ctx, app.Options{Config: cfg, Listen: "127.0.0.1:0", NoAdmin: true, Policy: &policy, DB: "none",
		Logger: zap.NewNop(), WatchInterval: -1, WrapInspector: func(next filter.Inspector) filter.Inspector {
			o.tap.next = next
			o.tap.obs, _ = next.(filter.AcceptObserver)
			return o.tap
		}})
	if err != nil {
		return nil, err
	}
	r.app.Start()
	deadline := time.Now().Add(10 * time.Second)
	for ok, _ := r.app.Proxy.Ready(); !ok; ok, _ = r.app.Proxy.Ready() {
		if time.Now().After(deadline) {
			return nil, errors.New("bench: smsfw's upstream pools did not bind within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range o.peers {
		c, err := esme.Dial(ctx, r.app.Addr(), esme.Options{SystemID: p, Password: "pw"})
		if err != nil {
			return nil, fmt.Errorf("bench: bind as %s: %w", p, err)
		}
		r.clients[p] = c
	}
	return r, nil
}

// waitAnswered waits up to grace for every client's requests to be answered.
func (r *smsfwRig) waitAnswered(grace time.Duration) {
	deadline := time.Now().Add(grace)
	for _, c := range r.clients {
		for c.Pending() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (r *smsfwRig) close() {
	for _, c := range r.clients {
		c.Close()
	}
	if r.app != nil {
		_ = r.app.Shutdown(context.Background())
	}
	r.sim.Close()
}

// peersConfig is the configuration of smsfw for peers (system_id → class)
// in front of the simulator at simAddr; extra is appended (top-level keys).
func peersConfig(simAddr string, ids, classes []string, extra string) (*config.Config, error) {
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "upstreams:\n  smsc: {address: %q, sessions: 1}\npeers:\n", simAddr)
	for i, id := range ids {
		fmt.Fprintf(&cfg, "  - {system_id: %q, password: pw, class: %s, upstream_system_id: %q}\n", id, classes[i], id)
	}
	cfg.WriteString(extra)
	return config.Parse("bench-peers.yaml", []byte(cfg.String()))
}

// tagTLV is a vendor-specific TLV (0x1400-0x3FFF are reserved for vendors)
// carrying, in every MT message a rig sends, what it belongs to (a
// scenario, a corpus message), so that the tap can attribute verdicts the
// sender cannot see (flag, drop). smsfw relays unknown TLVs untouched and no
// detector reads them.
const tagTLV = 0x14BE

// A tap sits between the proxy and the inspection chain
// (app.Options.WrapInspector) and hands every verdict to the traffic it was
// for: MT messages by their tagTLV, MO and receipts by their source
// address, registered in mo while they are injected (deliver_sm come from
// the simulator, which cannot tag them).
type tap struct {
	next filter.Inspector
	obs  filter.AcceptObserver
	mo   sync.Map // source address → owner
	// tagged resolves an MT message's tag to its owner (nil: not ours).
	tagged func(tag []byte) any
	// clock, when set, is the time the inspection sees for an owner
	// (unix nanos; 0: the proxy's time of arrival).
	clock func(owner any) int64
	// seen receives every verdict (allow included) with its owner.
	seen func(owner any, r *filter.Request, v filter.Verdict)
}

func (t *tap) Inspect(r *filter.Request) (filter.Verdict, error) {
	if t.next == nil {
		return filter.Verdict{}, nil
	}
	var owner any
	if r.Direction == filter.MT {
		if b, ok := r.Msg.TLVs.Get(tagTLV); ok && t.tagged != nil {
			owner = t.tagged(b)
		}
	} else if x, ok := t.mo.Load(string(r.Msg.Src.Addr)); ok {
		owner = x
	}
	if owner != nil && t.clock != nil {
		if at := t.clock(owner); at != 0 {
			rr := *r // the proxy's request stays as it is
			rr.Time = at
			r = &rr
		}
	}
	v, err := t.next.Inspect(r)
	if err == nil && owner != nil && t.seen != nil {
		t.seen(owner, r, v)
	}
	return v, err
}

func (t *tap) Accepted(peer string, id []byte, now int64) {
	if t.obs != nil {
		t.obs.Accepted(peer, id, now)
	}
}

// buildMT encodes a submit_sm from→to with the encoding a handset would
// choose (GSM 7-bit, else UCS-2), tagged with one byte.
func buildMT(from, to, text string, tag, ref byte) [][]byte {
	f := pdu.SMFields{Src: from, SrcTON: 5, Dst: to, DstTON: 1, DstNPI: 1}
	if isDigits(from) {
		f.SrcTON, f.SrcNPI = 1, 1
		if len(from) <= 6 {
			f.SrcTON = 3 // network-specific: a short code
		}
	}
	if !smstext.CanGSM7(text) {
		f.DataCoding = 8
	}
	raws, _ := encodeMT(f, text, []byte{tag}, ref)
	return raws
}

// encodeMT encodes text in f.DataCoding (0 GSM 7-bit unpacked, 3 Latin-1,
// 8 UCS-2) as one submit_sm, or as UDH segments (8-bit reference ref) when
// it does not fit one, each carrying tag in the tagTLV.
func encodeMT(f pdu.SMFields, text string, tag []byte, ref byte) ([][]byte, error) {
	f.TLVs = pdu.AppendTLV(nil, tagTLV, tag)
	var ud []byte
	var err error
	single, part := 140, 134
	switch f.DataCoding {
	case 0:
		ud, err = smstext.EncodeGSM7(nil, text)
		single, part = 160, 153
	case 3:
		ud, err = smstext.EncodeLatin1(nil, text)
	case 8:
		ud = smstext.EncodeUCS2(nil, text)
	default:
		err = fmt.Errorf("data_coding %d: want 0, 3 or 8", f.DataCoding)
	}
	if err != nil {
		return nil, err
	}
	if len(ud) <= single {
		f.ShortMessage = ud
		return [][]byte{pdu.AppendSM(nil, pdu.SubmitSM, 0, &f)}, nil
	}
	var chunks [][]byte
	for len(ud) > 0 {
		n := min(part, len(ud))
		if n < len(ud) {
			switch {
			case f.DataCoding == 0 && ud[n-1] == 0x1B:
				n-- // never split a GSM escape from the character it escapes
			case f.DataCoding == 8 && ud[n-2] >= 0xD8 && ud[n-2] <= 0xDB:
				n -= 2 // nor a UTF-16 surrogate pair
			}
		}
		chunks = append(chunks, ud[:n])
		ud = ud[n:]
	}
	out := make([][]byte, len(chunks))
	f.ESMClass |= 0x40 // UDHI
	for i, ch := range chunks {
		f.ShortMessage = append([]byte{5, 0, 3, ref, byte(len(chunks)), byte(i + 1)}, ch...)
		out[i] = pdu.AppendSM(nil, pdu.SubmitSM, 0, &f)
	}
	return out, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
