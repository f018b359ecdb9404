package textscan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/publicsuffix"
)

// urlString renders the links FindURLs reports: "link|host|flags" with s for
// HasScheme and i for IPLiteral.
func findAll(text string) []string {
	var got []string
	FindURLs([]byte(text), func(u URL) bool {
		flags := ""
		if u.HasScheme {
			flags += "s"
		}
		if u.IPLiteral {
			flags += "i"
		}
		got = append(got, fmt.Sprintf("%s|%s|%s", text[u.Start:u.End], u.Host, flags))
		return true
	})
	return got
}

func TestFindURLs(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"Verify at bit.ly/3xYz now", []string{"bit.ly/3xYz|bit.ly|"}},
		{"https://paypal.com.secure-login.xyz/verify", []string{"https://paypal.com.secure-login.xyz/verify|paypal.com.secure-login.xyz|s"}},
		{"no links here, just text.", nil},
		{"", nil},
		{"Go to http://example.com.", []string{"http://example.com|example.com|s"}},
		{"HTTPS://EXAMPLE.COM/A?B=C#D!", []string{"HTTPS://EXAMPLE.COM/A?B=C#D|EXAMPLE.COM|s"}},
		{"hTtP://x.y", []string{"hTtP://x.y|x.y|s"}},
		{"visit www.example.org today", []string{"www.example.org|www.example.org|"}},
		{"WWW.Example.COM/path,", []string{"WWW.Example.COM/path|WWW.Example.COM|"}},
		{"(see example.co.uk/a?b=c).", []string{"example.co.uk/a?b=c|example.co.uk|"}},
		{"Is it evil.tk? Or \"good.com\"!", []string{"evil.tk|evil.tk|", "good.com|good.com|"}},
		{"write to john.doe@gmail.com please", nil},
		{"mail: support@paypal.com.", nil},
		{"mailto:a@b.co", nil},
		{"http://192.168.0.1:8080/login", []string{"http://192.168.0.1:8080/login|192.168.0.1|si"}},
		{"go to 10.0.0.1/x now", []string{"10.0.0.1/x|10.0.0.1|i"}},
		{"version 1.2.3 or 300.1.1.1 or 1.2.3.4.5", nil},
		{"http://[2001:db8::1]:443/x", []string{"http://[2001:db8::1]:443/x|2001:db8::1|si"}},
		{"http://user:pw@evil.com/p", []string{"http://user:pw@evil.com/p|evil.com|s"}},
		{"a.com b.net,c.org", []string{"a.com|a.com|", "b.net|b.net|", "c.org|c.org|"}},
		{"price 3.50 eur, see shop.example.de:8443/cart;", []string{"shop.example.de:8443/cart|shop.example.de|"}},
		{"file.txt and image.png are not links", nil},
		{"Ok.Im late", nil}, // two sentences, not a link
		{"ok.im/x and go.io", []string{"ok.im/x|ok.im|", "go.io|go.io|"}},
		{"pаypal.com (Cyrillic а)", []string{"pаypal.com|pаypal.com|"}},
		{"点击bit.ly/abc。谢谢", []string{"bit.ly/abc|bit.ly|"}},
		{"see https://en.wikipedia.org/wiki/Foo_(bar)).", []string{"https://en.wikipedia.org/wiki/Foo_(bar)|en.wikipedia.org|s"}},
		{"[link](https://x.com/a]'", []string{"https://x.com/a|x.com|s"}},
		{"http:// nothing", nil},
		{"https://localhost:8080/", []string{"https://localhost:8080/|localhost|s"}},
		{"click:secure-bank.online/login?id=1", []string{"secure-bank.online/login?id=1|secure-bank.online|"}},
		{"abc.paypal.com.evil.xyz", []string{"abc.paypal.com.evil.xyz|abc.paypal.com.evil.xyz|"}},
		{"the-end.", nil},
	} {
		got := findAll(tc.text)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("FindURLs(%q)\n got %q\nwant %q", tc.text, got, tc.want)
		}
		if len(tc.want) > 0 && !mayHaveURL([]byte(tc.text)) {
			t.Errorf("mayHaveURL(%q) = false", tc.text)
		}
	}
}

func TestFindURLsStop(t *testing.T) {
	n := 0
	FindURLs([]byte("a.com b.com c.com"), func(URL) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("fn called %d times after returning false", n)
	}
}

func TestRegistrableDomain(t *testing.T) {
	for _, tc := range []struct {
		host, want string
		ok         bool
	}{
		{"paypal.com", "paypal.com", true},
		{"WWW.PayPal.COM", "paypal.com", true},
		{"paypal.com.secure-login.xyz", "secure-login.xyz", true},
		{"www.bbc.co.uk", "bbc.co.uk", true},
		{"bit.ly", "bit.ly", true},
		{"a.b.c.example.com.", "example.com", true},
		{"co.uk", "", false},
		{"com", "", false},
		{"192.168.0.1", "", false},
		{"2001:db8::1", "", false},
		{"", "", false},
		{"a..com", "", false},
	} {
		got, ok := RegistrableDomain([]byte(tc.host))
		if got != tc.want || ok != tc.ok {
			t.Errorf("RegistrableDomain(%q) = %q, %v; want %q, %v", tc.host, got, ok, tc.want, tc.ok)
		}
	}
}

func TestIsShortener(t *testing.T) {
	for _, d := range []string{"bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd", "cutt.ly", "rb.gy", "shorturl.at",
		"ow.ly", "buff.ly", "tiny.cc", "s.id", "t.ly", "lnkd.in", "rebrand.ly", "bl.ink", "v.gd", "tinu.be", "shorte.st"} {
		if !IsShortener(d) {
			t.Errorf("IsShortener(%q) = false", d)
		}
	}
	for _, d := range []string{"paypal.com", "", "bit.ly.evil.com", "ly"} {
		if IsShortener(d) {
			t.Errorf("IsShortener(%q) = true", d)
		}
	}
}

// The embedded country codes are exactly the two-letter ICANN suffixes.
func TestCCTLDsMatchPublicSuffixList(t *testing.T) {
	for a := 'a'; a <= 'z'; a++ {
		for b := 'a'; b <= 'z'; b++ {
			tld := string([]rune{a, b})
			_, icann := publicsuffix.PublicSuffix("x." + tld)
			if got := knownTLD([]byte(tld)); got != icann {
				t.Errorf("ccTLD %q: embedded %v, public suffix list ICANN %v", tld, got, icann)
			}
		}
	}
	for tld := range gTLDs {
		if _, icann := publicsuffix.PublicSuffix("x." + tld); !icann {
			t.Errorf("gTLD %q is not an ICANN suffix", tld)
		}
	}
}

func TestFindURLsAllocs(t *testing.T) {
	for _, s := range []string{sample160, "no url in this plain message at all, just words", "https://paypal.com.secure-login.xyz/verify and bit.ly/x"} {
		in := []byte(s)
		n := 0
		fn := func(u URL) bool { n += u.End - u.Start; return true }
		if a := testing.AllocsPerRun(100, func() { FindURLs(in, fn) }); a != 0 {
			t.Errorf("FindURLs(%q) allocs = %v", s, a)
		}
	}
}

func FuzzFindURLs(f *testing.F) {
	for _, s := range []string{"Verify at bit.ly/3xYz now", "https://paypal.com.secure-login.xyz/verify",
		"john.doe@gmail.com", "http://[::1]:80/x", "http://u@p@h.com", "10.0.0.1:80/a).", "pаypal.com", sample160} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		if !mayHaveURL(text) {
			findURLs(text, func(u URL) bool {
				t.Fatalf("the prefilter said no link, the scan found %q in %q", text[u.Start:u.End], text)
				return false
			})
		}
		last := 0
		FindURLs(text, func(u URL) bool {
			if u.Start < last || u.Start >= u.End || u.End > len(text) {
				t.Fatalf("bad offsets %d:%d (previous end %d, len %d) in %q", u.Start, u.End, last, len(text), text)
			}
			if len(u.Host) == 0 {
				t.Fatalf("empty host in %q", text)
			}
			// Host must be a sub-slice of text within [Start, End).
			hs := cap(text) - cap(u.Host)
			if hs < u.Start || hs+len(u.Host) > u.End || &text[hs] != &u.Host[0] {
				t.Fatalf("host %q (at %d) outside %d:%d of %q", u.Host, hs, u.Start, u.End, text)
			}
			last = u.End
			RegistrableDomain(u.Host)
			return true
		})
	})
}

func BenchmarkFindURLsNone(b *testing.B) {
	in := []byte("Hi Anna, your table for four is booked on Friday at 19:30. Reply YES to confirm or call us to change. See you soon, the Riverside team")
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		FindURLs(in, func(URL) bool { return true })
	}
}

func BenchmarkFindURLsOne(b *testing.B) {
	in := []byte(sample160)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		FindURLs(in, func(URL) bool { return true })
	}
}

// RegistrableDomain remembers recent hosts: the same answers, without an
// allocation the second time, whatever else shares the slot.
func TestRegistrableDomainCache(t *testing.T) {
	hosts := []string{"paypal.com.secure-login.xyz", "WWW.BBC.CO.UK", "co.uk", "bit.ly", "Example.COM.", "a..b.com",
		"x.y.z.blogspot.com", "localhost", "dhl.com", strings.Repeat("a", 130) + ".com"}
	for round := 0; round < 2; round++ {
		for _, h := range hosts {
			want, wantOK := registrableDomain(bytes.TrimRight([]byte(h), "."))
			if got, ok := RegistrableDomain([]byte(h)); got != want || ok != wantOK {
				t.Errorf("round %d, %q: %q %v, want %q %v", round, h, got, ok, want, wantOK)
			}
		}
	}
	for i := 0; i < 20_000; i++ { // far more hosts than slots
		h := fmt.Sprintf("host%d.example%d.com", i, i%7)
		if got, ok := RegistrableDomain([]byte(h)); !ok || got != fmt.Sprintf("example%d.com", i%7) {
			t.Fatalf("%q: %q %v", h, got, ok)
		}
	}
	h := []byte("track.dhl.com")
	RegistrableDomain(h)
	if n := testing.AllocsPerRun(100, func() { RegistrableDomain(h) }); n != 0 {
		t.Errorf("%v allocations for a host seen before", n)
	}
}

func BenchmarkRegistrableDomain(b *testing.B) {
	h := []byte("paypal.com.secure-login.xyz")
	b.ReportAllocs()
	for b.Loop() {
		RegistrableDomain(h)
	}
}
