package proxy

import (
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"
)

// Message id formats (message_id_format, receipt_id_format).
const (
	idDecimal = "decimal"
	idHex     = "hex"
)

// idEpoch is the start of the seconds counted in smsfw's message ids.
var idEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// msgIDs makes the message ids smsfw gives peers for messages it answers
// itself. An id is a 63-bit number: the seconds since 2020-01-01 in the
// high 31 bits and a per-process counter, started at random, in the low 32:
// unique within a process, unlikely to repeat across restarts and nodes,
// and below 2^63, so receivers that parse ids as signed 64-bit numbers
// (Kannel reads them with strtoll, in decimal or in hex per msg-id-type)
// match receipts to submissions. Written in decimal (at most 19 digits) or
// hex (at most 16 lower-case digits).
type msgIDs struct {
	n            atomic.Uint32
	resp, rcpt   int // base of the ids in responses and in receipts
	sameInRcpt   bool
	secondsShift uint
}

func newMsgIDs(respFormat, rcptFormat string) *msgIDs {
	g := &msgIDs{resp: base(respFormat), rcpt: base(rcptFormat), secondsShift: 32}
	g.sameInRcpt = g.resp == g.rcpt
	g.n.Store(rand.Uint32())
	return g
}

func base(format string) int {
	if format == idHex {
		return 16
	}
	return 10
}

// next returns a new id as written in responses.
func (g *msgIDs) next() string {
	secs := uint64(time.Now().Unix()-idEpoch) & (1<<31 - 1)
	return strconv.FormatUint(secs<<g.secondsShift|uint64(g.n.Add(1)), g.resp)
}

// inReceipt writes an id given in a response as receipts carry it.
func (g *msgIDs) inReceipt(id string) string {
	if g.sameInRcpt {
		return id
	}
	v, err := strconv.ParseUint(id, g.resp, 63)
	if err != nil {
		return id
	}
	return strconv.FormatUint(v, g.rcpt)
}
