package lists

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/smsfw/smsfw/filter/textscan"
)

// FuzzCompile: list items from a file (one per line) never panic the
// compiler of any list type; a compiled list answers lookups.
func FuzzCompile(f *testing.F) {
	f.Add("senders", "PayPal\nBANK\n")
	f.Add("prefixes", "49151\n+4917-4918\n900-9\n")
	f.Add("keywords", "claim your prize\nfr33 m0ney\n")
	f.Add("domains", "*.example.com\nbit.ly\n")
	f.Add("regexes", `(?i)verify\s+at\s+http`+"\n[\n")
	f.Fuzz(func(t *testing.T, typ, text string) {
		tp := Type(typ)
		if !tp.Valid() {
			return
		}
		l, err := Compile("fuzz", tp, strings.Split(text, "\n"))
		if err != nil || l == nil {
			return
		}
		_ = l.Items
	})
}

// FuzzRegexPrefilter: the literal prefilter never skips a regex that
// matches the text.
func FuzzRegexPrefilter(f *testing.F) {
	f.Add(`(?i)(tax refund|steuerr[uü]ckerstattung).{0,80}(iban|card)`, "TAX REFUND: send your IBAN")
	f.Add(`(?i)kiosk (open|closed)`, "\u212aio\u017fk open")
	f.Add(`wire \d+ (usd|eur)`, "wire 100 eur")
	f.Fuzz(func(t *testing.T, expr, text string) {
		re, err := regexp.Compile(expr)
		if err != nil {
			return
		}
		if !re.MatchString(text) {
			return
		}
		lower := make([]byte, len(text))
		lowerASCII(lower, []byte(text))
	sets:
		for _, set := range requiredLiterals(expr) {
			for _, lit := range set {
				if bytes.Contains(lower, []byte(lit)) {
					continue sets
				}
			}
			t.Fatalf("%q matches %q, but the text has none of %q", expr, text, set)
		}
	})
}

// FuzzLowerLetters: HasSender's shortcut gives Normalize's form whenever it
// takes a sender, and takes every sender of 1 to 64 ASCII letters.
func FuzzLowerLetters(f *testing.F) {
	for _, s := range []string{"Shop", "PAYPAL", "Sh0p", "A-B", "Ｐａｙ", "", "x y", "a@b", "[bank]", "`z{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var scratch [64]byte
		k, ok := lowerLetters([]byte(s), scratch[:0])
		letters := len(s) > 0 && len(s) <= len(scratch)
		for i := 0; i < len(s); i++ {
			c := s[i]
			letters = letters && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z')
		}
		if ok != letters {
			t.Fatalf("lowerLetters(%q) ok %v, want %v", s, ok, letters)
		}
		if want := textscan.Normalize(nil, []byte(s)); ok && !bytes.Equal(k, want) {
			t.Fatalf("lowerLetters(%q) = %q, Normalize %q", s, k, want)
		}
	})
}
