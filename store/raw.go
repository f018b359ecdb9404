package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// encodeRaw stores a message's PDUs as one blob: each segment prefixed by
// its length as a big-endian uint32. nil when there are none.
func encodeRaw(segs [][]byte) []byte {
	if len(segs) == 0 {
		return nil
	}
	return appendRaw(make([]byte, 0, rawSize(segs)), segs)
}

// rawSize is the length of segs' encoding.
func rawSize(segs [][]byte) int {
	n := 0
	for _, s := range segs {
		n += 4 + len(s)
	}
	return n
}

// appendRaw appends segs' encoding to b.
func appendRaw(b []byte, segs [][]byte) []byte {
	for _, s := range segs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

var errBadRaw = errors.New("store: corrupt raw PDU blob")

func decodeRaw(b []byte) ([][]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var segs [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: %d trailing bytes", errBadRaw, len(b))
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: segment of %d bytes, %d left", errBadRaw, n, len(b))
		}
		segs = append(segs, b[:n:n])
		b = b[n:]
	}
	return segs, nil
}
