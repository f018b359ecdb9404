package pipeline

import (
	"github.com/expr-lang/expr/vm"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/numbers"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/unsafex"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

// scratch is one inspection's working memory, pooled so the steady state
// allocates nothing: decoded text, normalized text and the facts.
type scratch struct {
	text   []byte
	norm   []byte
	starts []int32 // word starts of norm (textscan.WordStarts)
	fpKey  []byte  // the fingerprint's cache key (textscan.FingerprintKey)
	facts  filter.Facts
	det    filter.Detections
	env    rules.Env
	vm     vm.VM // the rules that run on the expr VM
}

// str views b as a string without copying: valid while b is not modified,
// which holds for the duration of one inspection.
func str(b []byte) string { return unsafex.String(b) }

func typeName(t numbers.Type) string {
	if t == numbers.Type(0) {
		return ""
	}
	return t.String()
}

// buildFacts fills sc.facts from the request; the sender's number facts
// only with senderNumber.
func (c *Chain) buildFacts(r *filter.Request, sc *scratch, senderNumber bool) {
	f := &sc.facts
	*f = filter.Facts{}
	m := r.Msg
	f.Direction = r.Direction.String()
	f.Peer, f.PeerClass, f.SystemID = r.Peer, r.PeerClass, r.SystemID
	f.Receipt = m.IsReceipt()
	f.Sender = str(m.Src.Addr)
	f.Dest = str(m.Dst.Addr)
	f.DataCoding = int(m.DataCoding)
	f.Segments = r.Segments()
	f.Incomplete = r.Incomplete
	f.AwaitingAnswers = r.AwaitingAnswers
	f.DestCount = 1
	if m.Cmd == pdu.SubmitMulti {
		f.DestCount = m.NumDests
	}
	switch numbers.KindOf(m.Src.TON, m.Src.Addr) {
	case numbers.Alphanumeric:
		f.SenderKind = filter.KindAlphanumeric
	case numbers.ShortCode:
		f.SenderKind = filter.KindShortCode
	case numbers.Number:
		f.SenderKind = filter.KindNumber
	default:
		f.SenderKind = filter.KindEmpty
	}
	if senderNumber && f.SenderKind == filter.KindNumber {
		var si numbers.Info
		c.numc.lookup(m.Src.TON, m.Src.NPI, m.Src.Addr, &si)
		f.SenderValid, f.SenderCountry, f.SenderType = si.Valid, si.Region, typeName(si.Type)
	}
	if numbers.KindOf(m.Dst.TON, m.Dst.Addr) == numbers.Number {
		var di numbers.Info
		c.numc.lookup(m.Dst.TON, m.Dst.NPI, m.Dst.Addr, &di)
		f.DestValid, f.DestCountry, f.DestType = di.Valid, di.Region, typeName(di.Type)
	}
	// Text of every part, UDH removed, decoded per data_coding as a handset
	// reads it (reserved codings as GSM 7-bit: smstext.AlphabetOf).
	sc.text = sc.text[:0]
	parts := r.Parts
	if parts == nil {
		parts = []*pdu.Message{m}
	}
	binary := false
	for _, p := range parts {
		ud := p.Payload()
		if p.UDHI() {
			if n, _, _, err := smstext.ParseUDH(ud); err == nil || n > 0 && n <= len(ud) {
				ud = ud[n:]
			}
		}
		var err error
		if sc.text, err = smstext.Decode(sc.text, p.DataCoding, ud); err != nil {
			binary = true
		}
	}
	f.Binary = binary
	f.Text = str(sc.text)
	if len(sc.text) > 0 {
		sc.norm, sc.starts = textscan.NormalizeStarts(sc.norm[:0], sc.starts[:0], sc.text)
		f.Norm = str(sc.norm)
		f.NormStarts = sc.starts
		f.Fingerprint = c.fps.fingerprint(sc.norm, sc.fpKey)
		shape := textscan.ShapeOf(sc.text)
		f.Words, f.Codes, f.Phones, f.Emails, f.Money = shape.Words, shape.Codes, shape.Phones, shape.Emails, shape.Money
		f.Handoffs = shape.Handoffs
		first := true
		textscan.FindURLs(sc.text, func(u textscan.URL) bool {
			f.URLCount++
			if first {
				first = false
				if d, ok := textscan.RegistrableDomain(u.Host); ok {
					f.FirstDomain = d
				}
			}
			return true
		})
	}
}
