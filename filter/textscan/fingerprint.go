package textscan

import (
	"encoding/binary"
	"math/bits"
)

// fpMaxInput is how much of a text Fingerprint hashes. Normalize grows a
// text by at most 1.5× (a 2-byte capital whose small letter takes 3 bytes),
// so the normalized prefix always fits the 1 KiB stack buffer.
const fpMaxInput = 640

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// Fingerprint returns a 64-bit SimHash of the text for campaign clustering.
// The text is normalized (Normalize) and its digit runs masked (MaskDigits);
// consecutive masked numbers merge ("12-34-56" counts as one number) and the
// word after a greeting is masked ("Hi John" -> "hi *"). Every word 2-shingle
// ("w1 w2"; single words when the text has fewer than three words) is hashed
// with FNV-1a 64 and votes on each bit.
//
// Texts of one template that differ only in codes, amounts, case, spacing or
// the greeted name get the same fingerprint; another one-word change in a
// 15-word text moves it by roughly 3–15 bits; unrelated texts are about 32
// bits apart (see Hamming). Only the first 640 bytes are hashed. An empty
// text (or one without words) gives 0. Fingerprint does not allocate.
func Fingerprint(text []byte) uint64 {
	if len(text) > fpMaxInput {
		cut := fpMaxInput
		for cut > 0 && text[cut]&0xC0 == 0x80 { // keep whole runes
			cut--
		}
		text = text[:cut]
	}
	var buf [1024]byte
	b := normalize(buf[:0], text, false)
	return fingerprintNormalized(b)
}

// FingerprintNormalized is Fingerprint of a text the caller already passed
// through Normalize (the inspection pipeline has it): it skips the costliest
// step. It equals Fingerprint(text) for texts up to 640 bytes; for longer
// ones it hashes the first 1 KiB of the normalized text instead of the
// normalized first 640 bytes. norm is not modified.
func FingerprintNormalized(norm []byte) uint64 {
	var buf [fpMaxNorm]byte
	return fingerprintNormalized(append(buf[:0], norm[:fpCut(norm)]...))
}

// fpMaxNorm is how much of a normalized text FingerprintNormalized hashes.
const fpMaxNorm = 1024

// fpCut is the length of the prefix of norm that FingerprintNormalized
// hashes: all of it up to 1 KiB, else 1 KiB less a partial rune.
func fpCut(norm []byte) int {
	n := len(norm)
	if n > fpMaxNorm {
		n = fpMaxNorm
		for n > 0 && norm[n]&0xC0 == 0x80 { // keep whole runes
			n--
		}
	}
	return n
}

// FingerprintKey appends to dst what FingerprintNormalized reads of the
// normalized text norm: its hashed prefix with each digit run masked
// (MaskDigits). The fingerprint is a function of the key alone, and
// FingerprintNormalized(key) == FingerprintNormalized(norm): a cache of
// fingerprints keyed by a hash of the key hits for every text of one
// template whose codes, amounts or dates differ (a stream of one-time
// codes), where a key on the text itself never would. The key is at most
// 1 KiB; FingerprintKey does not allocate when dst has room for it.
func FingerprintKey(dst, norm []byte) []byte {
	return MaskDigits(dst, norm[:fpCut(norm)])
}

// KeyHash is a seeded 64-bit hash of FingerprintKey(nil, norm) that does
// not write the key, for the fingerprint cache, which needs the key itself
// only on a miss. Each run between digit runs is hashed eight bytes at a
// time from its own start, with a last partial word that carries its
// length in its top byte, and each digit run as one mark (0). Normalize
// writes no byte below 0x09 and no '#' (separators), so this sequence of
// words spells the key exactly: two normalized texts hash alike when their
// keys are equal, and otherwise only by a collision of the 64-bit mixing.
func KeyHash(seed uint64, norm []byte) uint64 {
	const ones, highs, zeros = 0x0101010101010101, 0x8080808080808080, 0x3030303030303030
	s := norm[:fpCut(norm)]
	h := seed
	for {
		for len(s) >= 8 {
			w := binary.LittleEndian.Uint64(s)
			y := w ^ zeros
			m := (y - 10*ones) &^ y & highs // the lowest flagged byte is the first digit
			if m == 0 {
				h = keyMix(h, w)
				s = s[8:]
				continue
			}
			k := bits.TrailingZeros64(m) / 8
			h = keyMix(keyMix(h, w&(1<<(8*k)-1)|uint64(k+1)<<56), 0)
			s = s[skipDigits(s, k):]
		}
		var w uint64
		k := 0
		for ; k < len(s) && s[k]-'0' >= 10; k++ {
			w |= uint64(s[k]) << (8 * k)
		}
		h = keyMix(h, w|uint64(k+1)<<56)
		if k == len(s) {
			return h
		}
		h = keyMix(h, 0)
		s = s[skipDigits(s, k):]
	}
}

// skipDigits returns the index after the digit run starting at s[i].
func skipDigits(s []byte, i int) int {
	for i++; i < len(s) && s[i]-'0' < 10; i++ {
	}
	return i
}

// keyMix folds x into h, order-dependent (a multiply-xorshift step).
func keyMix(h, x uint64) uint64 {
	h = (h ^ x) * 0xFF51AFD7ED558CCD
	return h ^ h>>29
}

// fingerprintNormalized hashes normalized text b, masking digits in place.
func fingerprintNormalized(b []byte) uint64 {
	b = MaskDigits(b[:0], b)
	b = templateWords(b)
	if len(b) == 0 {
		return 0
	}
	words := 1
	for _, c := range b {
		if c == ' ' {
			words++
		}
	}
	var v votes
	shingles := 0
	if words < 3 {
		start := 0
		for i := 0; i <= len(b); i++ {
			if i == len(b) || b[i] == ' ' {
				v.add(fnv64(b[start:i]))
				shingles++
				start = i + 1
			}
		}
	} else {
		// A shingle is two consecutive words with the single space between
		// them, which Normalize leaves contiguous.
		prev, cur := 0, -1 // starts of the previous and current word
		for i := 0; i <= len(b); i++ {
			if i == len(b) || b[i] == ' ' {
				if cur >= 0 {
					v.add(fnv64(b[prev:i]))
					shingles++
					prev = cur
				}
				cur = i + 1
			}
		}
	}
	return v.majority(shingles)
}

// templateWords rewrites the normalized, masked text in place into its
// template: each "#" word that follows another "#" word is dropped, so that
// grouped codes ("99-88-77", "1 234 567") shingle like plain ones, and the
// word after a greeting ("hi john" -> "hi *") becomes "*", the usual slot of
// a recipient's name.
func templateWords(b []byte) []byte {
	j := 0
	prevNum, prevGreet := false, false
	for i := 0; i < len(b); {
		k := i
		for k < len(b) && b[k] != ' ' {
			k++
		}
		w := b[i:k]
		num := len(w) == 1 && w[0] == '#'
		if !num || !prevNum {
			if j > 0 {
				b[j] = ' '
				j++
			}
			if prevGreet && !num {
				b[j] = '*'
				j++
			} else {
				j += copy(b[j:], w)
			}
		}
		prevNum = num
		prevGreet = !prevGreet && isGreeting(w)
		i = k + 1
	}
	return b[:j]
}

func isGreeting(w []byte) bool {
	switch string(w) {
	case "hi", "hello", "hey", "dear", "mr", "mrs", "ms", "dr", "hola", "bonjour", "hallo", "ciao", "ola", "salut", "privet":
		return true
	}
	return false
}

func fnv64(b []byte) uint64 {
	h := uint64(fnvOffset64)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

// votes counts, for each of the 64 bit positions, the shingle hashes that
// have the bit set: lane l (16 bits) of c[k] counts bit 16*l+k. A lane
// cannot overflow: a 640-byte text has fewer than 65536 shingles.
type votes struct{ c [16]uint64 }

const laneOnes = 0x0001_0001_0001_0001

func (v *votes) add(h uint64) {
	for k := range v.c {
		v.c[k] += h >> uint(k) & laneOnes
	}
}

// majority sets each bit whose count exceeds half of the n shingles.
func (v *votes) majority(n int) uint64 {
	var h uint64
	for k, x := range v.c {
		for l := 0; l < 4; l++ {
			if 2*int(x>>(16*l)&0xFFFF) > n {
				h |= 1 << uint(16*l+k)
			}
		}
	}
	return h
}

// Hamming returns the number of differing bits of two fingerprints.
func Hamming(a, b uint64) int { return bits.OnesCount64(a ^ b) }
