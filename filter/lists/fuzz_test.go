package lists

import (
	"strings"
	"testing"
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
