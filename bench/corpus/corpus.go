// Package corpus reads and writes labelled SMS traffic: one JSON object a
// line, each a message with who sent it on which peer, when (an offset from
// the corpus's start) and what it is (legit, fraud, greyroute) in which
// scenario. `smsfw eval` plays a corpus through smsfw and scores the
// verdicts against the labels; gen/ writes the shipped corpora (see
// docs/evaluation.md).
package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/smsfw/smsfw/filter"
	smstext "github.com/smsfw/smsfw/smpp/text"
)

// Directions.
const (
	MT = "mt" // submit_sm from a peer through smsfw toward the network
	MO = "mo" // deliver_sm from the network through smsfw toward a peer
)

// Labels.
const (
	Legit     = "legit"
	Fraud     = "fraud"
	GreyRoute = "greyroute" // A2P traffic on a route billed as P2P: caught when stopped or flagged
)

// Message is one labelled message.
type Message struct {
	Direction string `json:"direction"`
	// Peer is the system_id of the peer that sends it (mt) or receives it (mo).
	Peer      string `json:"peer"`
	PeerClass string `json:"peer_class"`
	Sender    string `json:"sender"`
	SenderTON int    `json:"sender_ton"`
	SenderNPI int    `json:"sender_npi"`
	Dest      string `json:"dest"`
	Text      string `json:"text"`
	// DataCoding is 0 (GSM 7-bit), 3 (Latin-1) or 8 (UCS-2).
	DataCoding int `json:"data_coding"`
	// OffsetMS is when the message is sent, in milliseconds from the start.
	OffsetMS int64  `json:"offset_ms"`
	Label    string `json:"label"`
	Scenario string `json:"scenario"`
}

// Fraudulent reports whether the message is labelled fraud or grey route.
func (m *Message) Fraudulent() bool { return m.Label != Legit }

// Check validates one message.
func (m *Message) Check() error {
	switch {
	case m.Direction != MT && m.Direction != MO:
		return fmt.Errorf("direction %q: want mt or mo", m.Direction)
	case m.Peer == "" || len(m.Peer) > 15:
		return fmt.Errorf("peer %q: want 1 to 15 characters", m.Peer)
	case !slices.Contains(filter.PeerClasses, m.PeerClass):
		return fmt.Errorf("peer_class %q: want a2p, p2p, enterprise or interconnect", m.PeerClass)
	case m.Sender == "" || len(m.Sender) > 20:
		return fmt.Errorf("sender %q: want 1 to 20 bytes", m.Sender)
	case m.Dest == "" || len(m.Dest) > 20:
		return fmt.Errorf("dest %q: want 1 to 20 bytes", m.Dest)
	case m.SenderTON < 0 || m.SenderTON > 6 || m.SenderNPI < 0 || m.SenderNPI > 18:
		return fmt.Errorf("sender_ton %d / sender_npi %d out of range", m.SenderTON, m.SenderNPI)
	case m.Text == "":
		return errors.New("empty text")
	case m.OffsetMS < 0:
		return fmt.Errorf("offset_ms %d is negative", m.OffsetMS)
	case m.Label != Legit && m.Label != Fraud && m.Label != GreyRoute:
		return fmt.Errorf("label %q: want legit, fraud or greyroute", m.Label)
	case m.Scenario == "":
		return errors.New("no scenario")
	}
	switch m.DataCoding {
	case 0:
		if !smstext.CanGSM7(m.Text) {
			return errors.New("data_coding 0 but the text is not in the GSM 7-bit alphabet")
		}
	case 3:
		if _, err := smstext.EncodeLatin1(nil, m.Text); err != nil {
			return errors.New("data_coding 3 but the text is not Latin-1")
		}
	case 8:
	default:
		return fmt.Errorf("data_coding %d: want 0, 3 or 8", m.DataCoding)
	}
	return nil
}

// DataCodingFor is the data_coding a handset would use for text: GSM 7-bit
// when every character is in its alphabet, else UCS-2.
func DataCodingFor(text string) int {
	if smstext.CanGSM7(text) {
		return 0
	}
	return 8
}

// Read strictly decodes a corpus: every line one message, unknown fields,
// missing lines' content, trailing data and invalid values are errors naming
// file:line. Messages must be in offset order.
func Read(name string, r io.Reader) ([]Message, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var out []Message
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var m Message
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s:%d: more than one JSON value on the line", name, line)
		}
		if err := required(b); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if err := m.Check(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if n := len(out); n > 0 && m.OffsetMS < out[n-1].OffsetMS {
			return nil, fmt.Errorf("%s:%d: offset_ms %d before the previous line's %d (sort by offset)", name, line,
				m.OffsetMS, out[n-1].OffsetMS)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no messages", name)
	}
	return out, nil
}

// fields every line must carry (a zero value must be written, not left out).
var fields = []string{"direction", "peer", "peer_class", "sender", "sender_ton", "sender_npi", "dest", "text",
	"data_coding", "offset_ms", "label", "scenario"}

func required(line []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return err
	}
	for _, f := range fields {
		if _, ok := raw[f]; !ok {
			return fmt.Errorf("field %q missing", f)
		}
	}
	return nil
}

// Load reads the corpus file at path.
func Load(path string) ([]Message, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(path, f)
}

// Write writes msgs as JSON lines.
func Write(w io.Writer, msgs []Message) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range msgs {
		if err := enc.Encode(&msgs[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}
