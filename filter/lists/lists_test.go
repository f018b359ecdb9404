package lists

import (
	"slices"
	"testing"
)

func TestRequiredLiterals(t *testing.T) {
	type sets = [][]string
	cases := map[string]sets{
		`(?i)your (account|card) (has been|is) (suspended|locked)`: {{"your "}, {"account", "card"}, {"loc", "pended"}},
		`(?i)verify your (identity|account)`:                       {{"verify your "}, {"account", "identity"}},
		`wire \d+ (usd|eur)`:                                       {{"wire "}, {"eur", "usd"}},
		`(usd|euro) \d+`:                                           {{"euro", "usd"}},
		`(a|b)+`:                                                   nil,
		`x*`:                                                       nil,
		`(?i)Grüße`:                                                nil,
		`(?:foo){2,}bar`:                                           {{"foo"}, {"bar"}},
		`(?i)kiosk`:                                                {{"io"}},
		`(?i)(tax refund|steuerr[uü]ckerstattung|remboursement d.imp[oô]t).{0,80}(iban|bank details|bankverbindung|card)`: {
			{"rembour", "tattung", "tax refund"}, {" detail", "card", "iban", "verbindung"}},
		`(tax|refund)?now`: {{"now"}},
		`(tax|)refund`:     {{"refund"}},
		`a.b.c.d.e.f`:      {{"a"}},
	}
	for expr, want := range cases {
		got := requiredLiterals(expr)
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}

// The literal prefilter never changes the answer.
func TestFirstRegexPrefilter(t *testing.T) {
	l, err := Compile("r", Regexes, []string{`(?i)account (suspended|locked)`, `WIRE \d+`, `(?i)grüße`, `[0-9]{6}`,
		`(?i)(refund|rückerstattung) (iban|card)`, `(?i)kelvin`})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]int{
		"Your ACCOUNT Suspended now": 0,
		"please WIRE 500 now":        1,
		"please wire 500 now":        -1,
		"GRÜSSE":                     -1,
		"Grüße aus Berlin":           2,
		"code 123456":                3,
		"nothing here":               -1,
		"Refund CARD":                4,
		"Rückerstattung iban":        4,
		"refund bank":                -1,
		"\u212aelvin":                5, // the Kelvin sign folds to k
	}
	for text, want := range cases {
		if got := l.FirstRegex([]byte(text)); got != want {
			t.Errorf("%q: %d, want %d", text, got, want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	if _, err := Compile("r", Regexes, []string{"ok", "(unclosed"}); err == nil {
		t.Fatal("bad regex accepted")
	} else if ie, ok := err.(*ItemError); !ok || ie.Index != 1 {
		t.Fatalf("%v", err)
	}
	if _, err := Compile("p", Prefixes, []string{"4912", "49x"}); err == nil {
		t.Fatal("bad prefix accepted")
	}
	if _, err := Compile("k", Keywords, []string{"!!!"}); err == nil {
		t.Fatal("empty keyword accepted")
	}
	if _, err := Compile("x", Type("bogus"), nil); err == nil {
		t.Fatal("bad type accepted")
	}
}

func TestLookups(t *testing.T) {
	s, _ := Compile("s", Senders, []string{"PayPal", "SPAM-CO"})
	if !s.HasSender([]byte("paypal"), nil) || !s.HasSender([]byte("Ｐａｙｐａｌ"), nil) || s.HasSender([]byte("paypa"), nil) {
		t.Fatal("senders")
	}
	d, _ := Compile("d", Domains, []string{"Evil.com", "*.bad.org"})
	if !d.HasDomain("evil.com") || !d.HasDomain("a.b.evil.com") || !d.HasDomain("bad.org") || d.HasDomain("notevil.com") {
		t.Fatal("domains")
	}
	p, _ := Compile("p", Prefixes, []string{"+44900", "4915100000-4915199999"})
	if _, ok := p.MatchPrefix([]byte("449001234")); !ok {
		t.Fatal("prefix")
	}
	if _, ok := p.MatchPrefix([]byte("4915155555123")); !ok {
		t.Fatal("range")
	}
	if _, ok := p.MatchPrefix([]byte("4917")); ok {
		t.Fatal("false prefix")
	}
	k, _ := Compile("k", Keywords, []string{"Free Viagra", "win"})
	if k.FirstKeyword([]byte("get free viagra now")) != 0 || k.FirstKeyword([]byte("window")) != -1 {
		t.Fatal("keywords")
	}
}

// lowerASCII lowers exactly the bytes 'A'..'Z', whatever their neighbours
// and position in a word of eight.
func TestLowerASCII(t *testing.T) {
	src := make([]byte, 19)
	dst := make([]byte, len(src))
	for pos := range src {
		for c := range 256 {
			for i := range src {
				src[i] = byte(255 - (i*37+c)%256) // every neighbour byte too
			}
			src[pos] = byte(c)
			lowerASCII(dst, src)
			for i, b := range src {
				want := b
				if 'A' <= b && b <= 'Z' {
					want += 'a' - 'A'
				}
				if dst[i] != want {
					t.Fatalf("byte %#x at %d (testing %#x at %d): %#x, want %#x", b, i, c, pos, dst[i], want)
				}
			}
		}
	}
}
