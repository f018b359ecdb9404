package textscan

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func otpVariants() []string {
	names := []string{"John", "Maria", "Ahmed", "Li", "Olga", "Pierre", "Sam", "Anna", "Jean", "Zoë", "Søren", "Ana"}
	var v []string
	for i, name := range names {
		v = append(v, fmt.Sprintf("Hi %s, your verification code is %06d. It expires in %d minutes. Do not share it with anyone.", name, (i*7919+123)%1000000, 5+i%10))
	}
	v = append(v,
		"HI TOM, YOUR VERIFICATION CODE IS 000001. IT EXPIRES IN 9 MINUTES. DO NOT SHARE IT WITH ANYONE.",
		"Hi  Eve,  your verification code is 99-88-77.  It expires in 15 minutes! Do not share it with anyone",
		"hi bob your verification code is: 4242 -- it expires in 3 minutes, do not share it with anyone!!",
		"Hi Ｌｅｏ, your verification code is １２３４５６. It expires in 5 minutes. Do not share it with anyone.",
		"Hello Kim, your verification code is 777777. It expires in 10 minutes. Do not share it with anyone. ",
		"Hi Max, your verification\u200B code is 314159. It expires in 2 minutes. Do not share it with anyone.",
		"Hi Ola, your verification code is ٣١٤١٥٩. It expires in 2 minutes. Do not share it with anyone.",
		"Hi Ugo, your verification code is 271828. It expires in 30 minutes. Do not share it with anyone.",
	)
	return v
}

var unrelatedTexts = []string{
	"Your verification code is 123456. It expires in 5 minutes.",
	"Hi mum, I lost my phone, this is my new number, can you send me money?",
	"Your parcel could not be delivered. Reschedule at dhl-redelivery.com",
	"Congratulations! You have won a $1000 Walmart gift card. Claim now",
	"Meeting moved to 3pm tomorrow, same room. See you there",
	"Your Uber is arriving in 2 minutes. Look for the white Toyota",
	"Reminder: your dentist appointment is on Friday at 10:30",
	"URGENT: your bank account has been suspended, verify your identity",
	"Happy birthday! Wishing you a wonderful year ahead",
	"Your electricity bill of 84.20 is due on the 15th",
	"Flash sale: 50% off all shoes this weekend only at our store",
	"The server backup completed successfully at 02:00",
	"Can you pick up milk and bread on the way home please",
	"Your flight BA123 to London is delayed by 45 minutes",
	"Vote for your favourite contestant by replying with their name",
}

func TestFingerprintTemplate(t *testing.T) {
	v := otpVariants()
	if len(v) != 20 {
		t.Fatalf("%d variants", len(v))
	}
	worst := 0
	for i := range v {
		for j := i + 1; j < len(v); j++ {
			d := Hamming(Fingerprint([]byte(v[i])), Fingerprint([]byte(v[j])))
			worst = max(worst, d)
			if d > 3 {
				t.Errorf("variants %d and %d are %d bits apart:\n%q\n%q", i, j, d, v[i], v[j])
			}
		}
	}
	t.Logf("template variants: at most %d bits apart", worst)
}

// A one-word edit outside the masked slots moves a 15-word text by some
// bits, well short of the ~32 of unrelated texts.
func TestFingerprintOneWordEdit(t *testing.T) {
	base := "Your parcel is waiting at the depot. Pay the 1.99 customs fee at the link to release it."
	edits := []string{
		"Your package is waiting at the depot. Pay the 2.49 customs fee at the link to release it.",
		"Your parcel is waiting at the depot. Pay the 1.99 delivery fee at the link to release it.",
		"Your parcel is waiting at our depot. Pay the 1.99 customs fee at the link to release it.",
		"Your parcel is waiting at the depot. Pay the 1.99 customs fee at the link to release it now.",
	}
	for _, e := range edits {
		d := Hamming(Fingerprint([]byte(base)), Fingerprint([]byte(e)))
		t.Logf("%2d bits: %q", d, e)
		if d > 20 {
			t.Errorf("one-word edit moved %d bits: %q", d, e)
		}
	}
}

func TestFingerprintUnrelated(t *testing.T) {
	best, sum, pairs := 64, 0, 0
	for i := range unrelatedTexts {
		for j := i + 1; j < len(unrelatedTexts); j++ {
			d := Hamming(Fingerprint([]byte(unrelatedTexts[i])), Fingerprint([]byte(unrelatedTexts[j])))
			best = min(best, d)
			sum += d
			pairs++
			if d < 12 {
				t.Errorf("unrelated texts %d and %d only %d bits apart:\n%q\n%q", i, j, d, unrelatedTexts[i], unrelatedTexts[j])
			}
		}
	}
	t.Logf("unrelated texts: at least %d bits apart, mean %.1f", best, float64(sum)/float64(pairs))
}

func TestFingerprintEdges(t *testing.T) {
	for _, s := range []string{"", "   ", "!!!", "\u200B"} {
		if fp := Fingerprint([]byte(s)); fp != 0 {
			t.Errorf("Fingerprint(%q) = %x, want 0", s, fp)
		}
	}
	if Fingerprint([]byte("hello")) == 0 || Fingerprint([]byte("hello world")) == 0 {
		t.Error("short texts should hash")
	}
	// Only digits differ: identical fingerprints.
	a := Fingerprint([]byte("Pay 100 to account 12345"))
	b := Fingerprint([]byte("Pay 999 to account 54321"))
	if a != b {
		t.Errorf("digit-only difference changed the fingerprint: %d bits", Hamming(a, b))
	}
	// Long texts: only the first 640 bytes count; the cut respects runes.
	long := strings.Repeat("Grüße aus München ", 100)
	if Fingerprint([]byte(long)) != Fingerprint([]byte(long+"tail that is ignored")) {
		t.Error("text past the hashed prefix changed the fingerprint")
	}
	if Hamming(0, ^uint64(0)) != 64 || Hamming(5, 5) != 0 || Hamming(1, 2) != 2 {
		t.Error("Hamming")
	}
}

func TestFingerprintAllocs(t *testing.T) {
	texts := [][]byte{
		[]byte(sample160),
		[]byte(strings.Repeat("Ⱥ", 400)), // the worst growth under Normalize
		[]byte(strings.Repeat("word ", 300)),
		[]byte(strings.Repeat("Ｐａｙｐａｌ 𝐏𝐚𝐲 ", 60)),
	}
	for _, in := range texts {
		if n := testing.AllocsPerRun(100, func() { Fingerprint(in) }); n != 0 {
			t.Errorf("Fingerprint(%q...) allocs = %v", in[:8], n)
		}
	}
}

func BenchmarkFingerprint160(b *testing.B) {
	in := []byte(sample160)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		Fingerprint(in)
	}
}

func TestFingerprintNormalizedMatches(t *testing.T) {
	texts := []string{"", "Your code is 482913. Do not share it.", "Hi John, your parcel 12-34-56 arrives today",
		"ВАШ КОД 1234", "FR33 V1AGRA!! at http://203.0.113.9/x", strings.Repeat("word ", 120)}
	for _, x := range texts {
		want := Fingerprint([]byte(x))
		if got := FingerprintNormalized(Normalize(nil, []byte(x))); got != want {
			t.Errorf("%q: %x, want %x", x, got, want)
		}
	}
	norm := Normalize(nil, []byte(texts[1]))
	if n := testing.AllocsPerRun(100, func() { FingerprintNormalized(norm) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

// The fingerprint is a function of FingerprintKey: the key's own
// fingerprint is the text's, and texts of one template share a key.
func TestFingerprintKey(t *testing.T) {
	long := strings.Repeat("wörd 12 ", 200) // > 1 KiB normalized, cut inside the text
	texts := []string{"", "Your code is 482913. Do not share it.", "Hi John, your parcel 12-34-56 arrives today",
		"ВАШ КОД 1234", "FR33 V1AGRA!! at http://203.0.113.9/x", strings.Repeat("word ", 300), long, long[1:],
		"验证码123456", "code123456 x", "pay 1,000.50 EUR now"}
	for _, x := range texts {
		norm := Normalize(nil, []byte(x))
		key := FingerprintKey(nil, norm)
		if got, want := FingerprintNormalized(key), FingerprintNormalized(norm); got != want {
			t.Errorf("%.20q: key fingerprint %x, text %x", x, got, want)
		}
		if len(key) > 1024 {
			t.Errorf("%.20q: key of %d bytes", x, len(key))
		}
	}
	a := FingerprintKey(nil, Normalize(nil, []byte("Your code is 482913. Valid until 12:30.")))
	b := FingerprintKey(nil, Normalize(nil, []byte("Your code is 7. Valid until 09:05.")))
	if string(a) != string(b) {
		t.Errorf("one template, two keys: %q, %q", a, b)
	}
	buf := make([]byte, 0, 1024)
	norm := Normalize(nil, []byte(long))
	if n := testing.AllocsPerRun(100, func() { FingerprintKey(buf[:0], norm) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

// KeyHash hashes FingerprintKey without writing it: equal keys, equal
// hashes; different keys, different hashes (a 64-bit collision aside).
func TestKeyHash(t *testing.T) {
	long := strings.Repeat("wörd 12 ", 200)
	texts := []string{"", "1", "123", "a1", "1a", "a1b", "a12b3", "Your code is 482913. Do not share it.",
		"Your code is 7. Do not share it.", "Your code is 48 2913. Do not share it.", "Your code is . Do not share it.",
		"ВАШ КОД 1234", "验证码123456", "code123456 x", "pay 1,000.50 EUR now", long, long[1:], long + "1", strings.Repeat("9", 2000)}
	// Runs of 7, 8 and 9 bytes around digits: a partial word, a whole one.
	for _, w := range []string{"abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmno", "abcdefghijklmnop"} {
		texts = append(texts, w, w+"1", "1"+w, w+"12"+w, w+"1"+w+"2", "1"+w+"1")
	}
	checkKeyHash(t, texts)
	norm := Normalize(nil, []byte(long))
	seed := rand.Uint64()
	if n := testing.AllocsPerRun(100, func() { KeyHash(seed, norm) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

// checkKeyHash compares KeyHash with a hash of FingerprintKey over every
// pair of the normalized texts.
func checkKeyHash(t *testing.T, texts []string) {
	t.Helper()
	seed := rand.Uint64()
	norms := make([][]byte, len(texts))
	for i, x := range texts {
		norms[i] = Normalize(nil, []byte(x))
	}
	for i := range norms {
		for j := range norms {
			sameKey := string(FingerprintKey(nil, norms[i])) == string(FingerprintKey(nil, norms[j]))
			if sameHash := KeyHash(seed, norms[i]) == KeyHash(seed, norms[j]); sameKey != sameHash {
				t.Fatalf("%.30q and %.30q: same key %v, same KeyHash %v", norms[i], norms[j], sameKey, sameHash)
			}
		}
	}
}

func FuzzKeyHash(f *testing.F) {
	f.Add("Your code is 482913.", "Your code is 7.")
	f.Add("a1b22c", "a9b2c")
	f.Add("x 1", "x 12 ")
	f.Fuzz(func(t *testing.T, a, b string) {
		checkKeyHash(t, []string{a, b})
	})
}

func BenchmarkFingerprintNormalized160(b *testing.B) {
	norm := Normalize(nil, []byte("Your verification code is 482913. Do not share it with anyone, our staff will never ask for it. Thanks, ExampleBank customer care team"))
	b.ReportAllocs()
	for b.Loop() {
		FingerprintNormalized(norm)
	}
}
