package textscan

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var normalizeCases = []struct{ in, want string }{
	// The examples of the contract.
	{"FR33 V1AGRA!!", "free viagra"},
	{"Ｐａｙｐａｌ", "paypal"},
	{"pаypаl", "paypal"}, // Cyrillic а
	{"Your code is 123456", "your code is 123456"},
	// Case, whitespace and punctuation.
	{"", ""},
	{"   ", ""},
	{"!!!", ""},
	{"  Hello,   World!!  ", "hello world"},
	{"a\t\r\nb", "a b"},
	{"one...two---three", "one two three"},
	{"don't", "don t"},
	{"ÀÉÎÕÜ", "aeiou"},
	// Confusables.
	{"РАУРАL", "paypal"},     // Cyrillic capitals Р А У Р А + Latin L
	{"АррӏеID", "appleid"},   // Cyrillic а р р ӏ е
	{"ѕесurіtу", "security"}, // Cyrillic ѕ е с і т у
	{"Νетflix", "netflix"},   // Greek capital Ν, Cyrillic е т
	{"ΑΜΑΖΟΝ", "amazon"},     // Greek capitals
	{"αmαzοn", "amazon"},     // Greek small α ο
	{"𝐏𝐚𝐲𝐏𝐚𝐥", "paypal"},     // mathematical bold
	{"𝓅𝒶𝓎𝓅𝒶𝓁", "paypal"},     // mathematical script
	{"𝟏𝟐𝟑", "123"},           // mathematical digits
	{"ℍ𝕊𝔹ℂ", "hsbc"},         // double-struck with letter-like holes
	{"ⓅⒶⓎⓅⒶⓁ", "paypal"},     // circled letters
	{"１２３４ ＡＢＣ", "1234 abc"}, // fullwidth digits and letters
	{"ＷＩＮ！！", "win"},         // fullwidth punctuation separates
	{"Kelvin", "kelvin"},     // U+212A KELVIN SIGN
	{"ﬁnance", "finance"},    // ligature
	// Diacritics.
	{"Crème Brûlée", "creme brulee"},
	{"Straße", "strasse"},
	{"Øre Łódź Æon œuvre", "ore lodz aeon oeuvre"},
	{"Đặng Thị Ngọc", "dang thi ngoc"},
	{"e\u0301te\u0301", "ete"}, // combining acute accents
	{"İstanbul ılık", "istanbul ilik"},
	// Leetspeak.
	{"Fr33 m0n3y", "free money"},
	{"P@yp@l", "paypal"},
	{"ca$h", "cash"},
	{"1nf0 4 y0u", "info 4 you"},
	{"l33t 1337", "leet 1337"},
	{"code123456", "code123456"}, // more digits than letters: a code
	{"G-123456 is your code", "g 123456 is your code"},
	{"$100 @ 5pm", "100 spm"},
	{"@@", ""},
	// Zero-width and format characters.
	{"pay\u200Bpal", "paypal"},
	{"pa\u200Cy\u200Dp\u2060a\uFEFFl", "paypal"},
	{"soft\u00ADhyphen", "softhyphen"},
	{"\u200B\u200B", ""},
	{"a \u200B b", "a b"},
	// Other scripts pass through lower-cased.
	{"مرحبا ALI", "مرحبا ali"},
	{"验证码123456", "验证码123456"},
	{"رمز التحقق ١٢٣٤٥٦", "رمز التحقق 123456"}, // Arabic-Indic digits
	{"कोड ९८७६", "कोड 9876"},                   // Devanagari digits
	{"비밀번호 ６５４３", "비밀번호 6543"},
	{"ПРИВЕТ мир", "пpиbet mиp"}, // Cyrillic look-alikes fold, the other letters lower-case
	{"Hi 😀 there", "hi 😀 there"},
	{"Ünïcödé\xffbad", "unicode bad"}, // invalid UTF-8 separates
	{"→ click ← here", "click here"},
}

func TestNormalize(t *testing.T) {
	for _, tc := range normalizeCases {
		got := string(Normalize(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := string(Normalize(nil, []byte(got))); again != got {
			t.Errorf("Normalize not idempotent on %q: %q -> %q", tc.in, got, again)
		}
	}
}

func TestNormalizeAppends(t *testing.T) {
	dst := []byte("prefix:")
	got := Normalize(dst, []byte("  Hello  World "))
	if string(got) != "prefix:hello world" {
		t.Fatalf("got %q", got)
	}
	got = Normalize([]byte("x"), []byte("@@ a"))
	if string(got) != "xa" {
		t.Fatalf("got %q", got)
	}
}

func TestSkeleton(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PAYPA1", "paypal"},
		{"Bank-0f-X", "bankofx"},
		{"Pay Pal", "paypal"},
		{"PayPal", "paypal"},
		{"pаypаl", "paypal"},
		{"Ｐａｙ Ｐａｌ", "paypal"},
		{"AMAZ0N", "amazon"},
		{"B4NK 0F AMER1CA", "bankofamerlca"},
		{"G00GLE", "google"},
		{"8ank", "bank"},
		{"HSBC-UK", "hsbcuk"},
		{"1NG", "lng"},
		{"1337", "lee7"}, // 7 folds only inside words with letters,
		{"T-Mobile", "tmobile"},
		{"", ""},
		{"...", ""},
	} {
		if got := string(Skeleton(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("Skeleton(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskDigits(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"abc", "abc"},
		{"123456", "#"},
		{"your code is 123456", "your code is #"},
		{"a1b22c333", "a#b#c#"},
		{"1 2 3", "# # #"},
		{"pay 10.50 now", "pay #.# now"},
		{"١٢٣", "١٢٣"}, // only ASCII digits
	} {
		if got := string(MaskDigits(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("MaskDigits(%q) = %q, want %q", tc.in, got, tc.want)
		}
		b := []byte(tc.in)
		if got := string(MaskDigits(b[:0], b)); got != tc.want {
			t.Errorf("in-place MaskDigits(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

const sample160 = "URGENT: Your PayPal account has been l1mited! Verify your identity within 24h at paypa1-secure.com/verify or lose access. Ref 88231. Reply STOP to opt out"

func TestNormalizeAllocs(t *testing.T) {
	dst := make([]byte, 0, 512)
	texts := []string{sample160, "Ｐａｙｐａｌ 𝐏𝐚𝐲 Crème ß 验证码123456 😀", strings.Repeat("Ⱥ", 100)}
	for _, s := range texts {
		in := []byte(s)
		if n := testing.AllocsPerRun(100, func() { dst = Normalize(dst[:0], in) }); n != 0 {
			t.Errorf("Normalize(%q...) allocs = %v", s[:10], n)
		}
		if n := testing.AllocsPerRun(100, func() { dst = Skeleton(dst[:0], in) }); n != 0 {
			t.Errorf("Skeleton allocs = %v", n)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(sample160))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := Normalize(nil, in)
		if want := normalizeRef(in, false); !bytes.Equal(out, want) {
			t.Fatalf("Normalize(%q) = %q, the oracle %q", in, out, want)
		}
		if !utf8.Valid(out) {
			t.Fatalf("Normalize(%q) = %q: invalid UTF-8", in, out)
		}
		if again := Normalize(nil, out); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if len(out) > 0 && (out[0] == ' ' || out[len(out)-1] == ' ' || bytes.Contains(out, []byte("  "))) {
			t.Fatalf("bad spacing: %q -> %q", in, out)
		}
		if len(out) > len(in)*3/2 {
			t.Fatalf("grew more than 1.5x: %q -> %q", in, out)
		}
		checkNormalizeStarts(t, in, out)
		sk := Skeleton(nil, in)
		if want := normalizeRef(in, true); !bytes.Equal(sk, want) {
			t.Fatalf("Skeleton(%q) = %q, the oracle %q", in, sk, want)
		}
		if !utf8.Valid(sk) || bytes.IndexByte(sk, ' ') >= 0 {
			t.Fatalf("Skeleton(%q) = %q", in, sk)
		}
	})
}

func BenchmarkNormalize160(b *testing.B) {
	in := []byte(sample160)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		dst = Normalize(dst[:0], in)
	}
}

func BenchmarkNormalize160Cyrillic(b *testing.B) {
	in := []byte("Ваш код подтверждения: 482913. Никому не сообщайте этот код. Сотрудники банка никогда не спрашивают его")
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		dst = Normalize(dst[:0], in)
	}
}

func BenchmarkSkeleton(b *testing.B) {
	in := []byte("PAYPA1-Secure")
	var dst [64]byte
	b.ReportAllocs()
	for b.Loop() {
		Skeleton(dst[:0], in)
	}
}

func TestNormalizeCaseFold(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ΟΔΟΣ οδος οδοσ", "oδoσ oδoσ oδoσ"}, // final sigma folds to σ; ο is a confusable
		{"ϰϱϵ", "kpe"}, // Greek symbol variants fold, then confuse
		{"ſecure", "secure"},
		{"ꭰꭱ ᎠᎡ", "ꭰꭱ ꭰꭱ"}, // Cherokee
	} {
		if got := string(Normalize(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every code point, alone and inside a word, normalizes to valid UTF-8 that
// Normalize leaves unchanged.
func TestNormalizeAllRunesIdempotent(t *testing.T) {
	var in, out, again []byte
	bad := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		for _, ctx := range [...]string{"", "a1"} {
			in = append(in[:0], ctx...)
			in = utf8.AppendRune(in, r)
			in = append(in, ctx...)
			out = Normalize(out[:0], in)
			again = Normalize(again[:0], out)
			if !utf8.Valid(out) || !bytes.Equal(out, again) {
				if bad++; bad < 10 {
					t.Errorf("U+%04X in %q: %q -> %q", r, ctx, out, again)
				}
			}
		}
	}
}

// maskDigitsRef is MaskDigits byte by byte (the oracle).
func maskDigitsRef(dst, s []byte) []byte {
	inRun := false
	for _, c := range s {
		if c >= '0' && c <= '9' {
			if !inRun {
				dst = append(dst, '#')
				inRun = true
			}
			continue
		}
		inRun = false
		dst = append(dst, c)
	}
	return dst
}

// TestMaskDigitsMatchesByteLoop compares MaskDigits, into a new slice and in place, with
// the byte loop on texts of every length up to 40 over an alphabet of
// digits, their neighbours ('/', ':'), '#', letters and bytes >= 0x80
// (the word-at-a-time test must flag no other byte).
func TestMaskDigitsMatchesByteLoop(t *testing.T) {
	alphabet := []byte("0189/:#aZ \x80\xb9\xff\x00")
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n <= 40; n++ {
		for range 300 {
			s := make([]byte, n)
			for i := range s {
				s[i] = alphabet[r.IntN(len(alphabet))]
			}
			want := maskDigitsRef([]byte("x"), s)
			if got := MaskDigits([]byte("x"), s); !bytes.Equal(got, want) {
				t.Fatalf("%q: %q, want %q", s, got, want)
			}
			in := append([]byte(nil), s...)
			if got := MaskDigits(in[:0], in); !bytes.Equal(got, want[1:]) {
				t.Fatalf("%q in place: %q, want %q", s, got, want[1:])
			}
		}
	}
}

// normalizeRef is Normalize (Skeleton with skel) one character at a time
// through the normer, without the letter-run path: the oracle of
// TestNormalizeMatchesRef and FuzzNormalize.
func normalizeRef(s []byte, skel bool) []byte {
	n := normer{skel: skel}
	var dst []byte
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r < utf8.RuneSelf {
			dst = n.ascii(dst, s[0])
		} else {
			dst = n.rune(dst, r, size)
		}
		s = s[size:]
	}
	return n.end(dst)
}

// TestNormalizeMatchesRef compares Normalize and Skeleton with the
// character-at-a-time oracle on the test cases, on random ASCII and mixed
// texts, and with destinations of every spare capacity (the letter runs
// stop where dst's room ends).
func TestNormalizeMatchesRef(t *testing.T) {
	texts := []string{sample160, "Your verification code is 482913. Do not share it.", "FR33 iPhone W1NNER p@y$al",
		"Ｐａｙｐａｌ 𝐏𝐚𝐲 Crème ß 验证码123456 😀", "ABCdef\xffGHI", "a", "Z9", ""}
	for _, tc := range normalizeCases {
		texts = append(texts, tc.in)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "Z", "q", "0", "1", "3", "7", "42", "9", " ", ",", "ж", "验", "Ж", ".", "@", "$", "-", "é", "Ｑ", "а", "\u200b", "ß", "\xff", "ǅ",
		"Verification", "abcdefgh", "ABCDEFGHIJKLMNOPQRST", "passWORDxyz"} // letter runs longer than eight bytes
	for range 20_000 {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		in := []byte(s)
		for _, skel := range []bool{false, true} {
			want := normalizeRef(in, skel)
			for _, room := range []int{0, 1, 2, 5, len(in), 2 * len(in)} {
				dst := append(make([]byte, 0, 2+room), "xy"...)
				got := normalize(dst, in, skel)
				if string(got[:2]) != "xy" || !bytes.Equal(got[2:], want) {
					t.Fatalf("normalize(%q, skel %v, room %d) = %q, want %q", s, skel, room, got[2:], want)
				}
			}
			if !skel {
				checkNormalizeStarts(t, in, want)
			}
		}
	}
}

func BenchmarkNormalizeOTP(b *testing.B) {
	in := []byte("Your verification code is 482913. Do not share it.")
	dst := make([]byte, 0, 256)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		dst = Normalize(dst[:0], in)
	}
}

// checkNormalizeStarts: NormalizeStarts appends what Normalize does (want)
// and, to starts, the WordStarts of it, after what dst and starts held.
func checkNormalizeStarts(t *testing.T, in, want []byte) {
	t.Helper()
	dst := append(make([]byte, 0, 8), "x y"...)
	starts := []int32{7, 9}
	got, st := NormalizeStarts(dst, starts, in)
	if string(got[:3]) != "x y" || !bytes.Equal(got[3:], want) {
		t.Fatalf("NormalizeStarts(%q) = %q, want %q", in, got[3:], want)
	}
	if wantSt := append([]int32{7, 9}, WordStarts(nil, want)...); !slices.Equal(st, wantSt) {
		t.Fatalf("NormalizeStarts(%q) -> %q: starts %v, WordStarts %v", in, want, st, wantSt)
	}
}
