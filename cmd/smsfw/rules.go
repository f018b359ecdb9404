package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/internal/app"
	"github.com/smsfw/smsfw/rules"
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
	e, err := app.Explain(snap, app.TestMessage{Peer: *peer, PeerClass: *peerClass, From: *from, To: *to, Text: *text,
		DCS: *dcs, MO: *mo})
	if err != nil {
		return err
	}
	v, facts, det := e.Verdict, e.Facts, e.Detections
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
