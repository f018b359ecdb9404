package lists

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// checkLitScan compares the one-pass literal scan of a regex list with the
// reference it replaces: lowerASCII, then bytes.Contains per literal
// (mayMatch).
func checkLitScan(t testing.TB, l *List, text []byte) {
	t.Helper()
	lower := make([]byte, len(text))
	lowerASCII(lower, text)
	found := l.scan.scan(text)
	for r, sets := range l.lits {
		if got, want := l.scan.may(r, found), mayMatch(lower, sets); got != want {
			t.Fatalf("regex %q on %q: may %v, mayMatch %v", l.Items[r], text, got, want)
		}
		for k, set := range sets {
			if got, want := found&l.scan.need[r][k] != 0, mayMatch(lower, [][][]byte{set}); got != want {
				t.Fatalf("regex %q on %q: set %q found %v, bytes.Contains %v", l.Items[r], text, set, got, want)
			}
		}
	}
}

var litScanLists = [][]string{
	{`(?i)account (suspended|locked)`, `(?i)verify your (identity|account)`, `(?i)wire \d+ (usd|eur)`},
	{`(?i)account (suspended|locked)`, `WIRE \d+`, `(?i)grüße`, `[0-9]{6}`, `(?i)(refund|rückerstattung) (iban|card)`, `(?i)kelvin`},
	{`aaa`, `aab|aba|baa`, `(abab|bab)+x`, `a{3,}b`, `.*`, `(?i)ssss|kkkk`},
	{`(?i)(tax refund|steuerr[uü]ckerstattung).{0,80}(iban|card)`, `http://[a-z]+\.(xyz|top)/`, `[A-Z]{2}\d{2}`},
}

func TestLitScanMatchesContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	frags := []string{"account", "ACCOUNT", "Locked", "suspended", "verify your", "identity", "wire", " 12 ", "USD", "eur",
		"a", "b", "ab", "ba", "x", "refund", "IBAN", "card", "tax refund", "http://", ".xyz", "/", "\u212a", "ü", "\xff", " "}
	for _, items := range litScanLists {
		l, err := Compile("r", Regexes, items)
		if err != nil {
			t.Fatal(err)
		}
		if l.scan == nil {
			t.Fatalf("%q: no scan", items)
		}
		for _, f := range frags {
			checkLitScan(t, l, []byte(f))
		}
		for range 20000 {
			var b []byte
			for n := rng.IntN(12); n > 0; n-- {
				b = append(b, frags[rng.IntN(len(frags))]...)
			}
			checkLitScan(t, l, b)
		}
	}
}

// More literals than bits: FirstRegex keeps the lowered copy and mayMatch,
// with the same answers.
func TestLitScanTooManyLiterals(t *testing.T) {
	var items []string
	for i := range maxScanLits + 1 {
		items = append(items, "word"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	l, err := Compile("r", Regexes, items)
	if err != nil {
		t.Fatal(err)
	}
	if l.scan != nil {
		t.Fatalf("%d literals: scan built", len(l.lits))
	}
	if got := l.FirstRegex([]byte("a wordxmc here")); got != 64 {
		t.Errorf("FirstRegex %d, want 64", got)
	}
	if got := l.FirstRegex([]byte("no word here")); got != -1 {
		t.Errorf("FirstRegex %d, want -1", got)
	}
}

// FuzzLitScan: for any regex list and text, the one-pass scan finds
// exactly the literal sets the lowered copy and bytes.Contains find.
func FuzzLitScan(f *testing.F) {
	for _, items := range litScanLists {
		f.Add(strings.Join(items, "\n"), "Your ACCOUNT locked: wire 100 EUR, verify your identity")
	}
	f.Add("(?i)kiosk (open|closed)\nabc|bcd|cde", "\u212aio\u017fk open abcde")
	f.Fuzz(func(t *testing.T, exprs, text string) {
		l, err := Compile("fuzz", Regexes, strings.Split(exprs, "\n"))
		if err != nil || l.scan == nil {
			return
		}
		checkLitScan(t, l, []byte(text))
	})
}
