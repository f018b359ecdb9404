package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

// errFailed is returned after a command printed its own failure.
var errFailed = errors.New("failed")

func rulesCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || len(args) == 1 && wantsHelp(args) || args[0] == "check" && wantsHelp(args[1:]) {
		w, err := stderr, errUsage
		if len(args) > 0 {
			w, err = stdout, nil
		}
		fmt.Fprintln(w, "usage: smsfw rules check FILE | smsfw rules test FILE --peer P --from S --to D --text T [--dcs N] [--peer-class C] [--mo]")
		return err
	}
	if len(args) < 1 {
		fmt.Fprintln(stderr, "usage: smsfw rules check FILE | smsfw rules test FILE --peer P --from S --to D --text T [--dcs N] [--peer-class C] [--mo]")
		return errUsage
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: smsfw rules check FILE")
			return errUsage
		}
		s, err := rules.ParseFile(args[1])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return errFailed
		}
		fmt.Fprintf(stdout, "%s: ok (%d rules, %d limits, %d lists)\n", args[1], len(s.Rules), len(s.Limits), len(s.Lists))
		return nil
	case "test":
		return rulesTest(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "smsfw rules: unknown subcommand %q (check, test)\n", args[0])
	return errUsage
}

func rulesTest(args []string, stdout, stderr io.Writer) error {
	if wantsHelp(args) {
		fs, _ := rulesTestFlags(stdout)
		fmt.Fprintln(stdout, "usage: smsfw rules test FILE --peer P --from S --to D --text T [--dcs N] [--peer-class C] [--mo]")
		fs.PrintDefaults()
		return nil
	}
	if len(args) < 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: smsfw rules test FILE --peer P --from S --to D --text T [--dcs N] [--peer-class C] [--mo]")
		return errUsage
	}
	file := args[0]
	fs, o := rulesTestFlags(stderr)
	peer, peerClass, from, to, text, dcs, mo := o.peer, o.peerClass, o.from, o.to, o.text, o.dcs, o.mo
	if err := parse(fs, args[1:], stdout); err != nil {
		return err
	}
	snap, err := rules.ParseFile(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errFailed
	}
	chain, err := pipeline.New(pipeline.Options{Engine: rules.NewStatic(snap, nil), SyncNumbers: true})
	if err != nil {
		return err
	}
	defer chain.Close()
	f := &pdu.SMFields{Src: *from, Dst: *to}
	f.SrcTON, f.DstTON = tonOf(*from), tonOf(*to)
	switch {
	case *dcs >= 0:
		f.DataCoding = byte(*dcs)
		if *dcs == 8 {
			f.ShortMessage = smstext.EncodeUCS2(nil, *text)
		} else {
			f.ShortMessage = []byte(*text)
		}
	case smstext.CanGSM7(*text):
		f.ShortMessage, _ = smstext.EncodeGSM7(nil, *text)
	default:
		f.DataCoding, f.ShortMessage = 8, smstext.EncodeUCS2(nil, *text)
	}
	id, dir := pdu.SubmitSM, filter.MT
	if *mo {
		id, dir = pdu.DeliverSM, filter.MO
	}
	if len(f.ShortMessage) > 254 {
		f.TLVs = pdu.AppendTLV(nil, pdu.TagMessagePayload, f.ShortMessage)
		f.ShortMessage = nil
	}
	var m pdu.Message
	if err := pdu.ParseMessage(pdu.AppendSM(nil, id, 1, f), &m); err != nil {
		return err
	}
	req := &filter.Request{Direction: dir, Peer: *peer, PeerClass: *peerClass, SystemID: *peer, Msg: &m}
	v, facts, det, err := chain.Explain(req)
	if err != nil {
		return err
	}
	out := map[string]any{
		"action": v.Action.String(), "rule": v.RuleID, "reason": v.Reason, "evidence": v.Evidence,
		"class": facts.Class, "class_reasons": filter.ReasonNames(facts.ClassReasons),
		"facts": facts, "detections": det,
	}
	if v.Status != 0 {
		out["status"] = v.Status.String()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// tonOf guesses a TON for a command-line address: 5 alphanumeric, 1 international, 0 otherwise.
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

type rulesTestOpts struct {
	peer, peerClass, from, to, text *string
	dcs                             *int
	mo                              *bool
}

// rulesTestFlags defines the flags of smsfw rules test.
func rulesTestFlags(out io.Writer) (*flag.FlagSet, *rulesTestOpts) {
	fs := flag.NewFlagSet("smsfw rules test", flag.ContinueOnError)
	fs.SetOutput(out)
	return fs, &rulesTestOpts{
		peer:      fs.String("peer", "test", "peer name (as in the proxy config)"),
		peerClass: fs.String("peer-class", "", "the peer's contracted class: a2p, p2p, enterprise, interconnect, mno"),
		from:      fs.String("from", "", "source address (sender ID, short code or number)"),
		to:        fs.String("to", "", "destination address"),
		text:      fs.String("text", "", "message text"),
		dcs:       fs.Int("dcs", -1, "data_coding (default: 0 if the text fits GSM 03.38, else 8)"),
		mo:        fs.Bool("mo", false, "inspect as MO (deliver_sm from the network) instead of MT"),
	}
}
