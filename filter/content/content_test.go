package content_test

import (
	"testing"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/content"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/textscan"
)

func compile(t testing.TB, name string, typ lists.Type, items ...string) *lists.List {
	t.Helper()
	l, err := lists.Compile(name, typ, items)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func config(t testing.TB) content.Config {
	return content.Config{
		Keywords: compile(t, "kw", lists.Keywords, "free viagra", "casino bonus", "you have won"),
		Regexes: compile(t, "re", lists.Regexes,
			`(?i)your (account|card) (has been|is) (suspended|locked|blocked)`,
			`(?i)verify your (identity|account) (now|immediately|within)`),
		BlockDomains: compile(t, "block", lists.Domains, "secure-login.xyz", "*.verify-account.top"),
		AllowDomains: compile(t, "allow", lists.Domains, "example-bank.com", "dhl.com", "paypal.com"),
		Brands:       compile(t, "brands", lists.Keywords, "paypal", "dhl", "amazon", "netflix", "example bank"),
	}
}

// facts fills what the pipeline computes from the text.
func facts(text string) *filter.Facts {
	f := &filter.Facts{Direction: "mt", Peer: "acme", Sender: "Shop", SenderKind: filter.KindAlphanumeric,
		Dest: "4915112345678", Text: text, Segments: 1}
	if text != "" {
		f.Norm = string(textscan.Normalize(nil, []byte(text)))
		f.Fingerprint = textscan.Fingerprint([]byte(text))
		textscan.FindURLs([]byte(text), func(u textscan.URL) bool {
			if f.URLCount == 0 {
				f.FirstDomain, _ = textscan.RegistrableDomain(u.Host)
			}
			f.URLCount++
			return true
		})
	}
	return f
}

func TestContent(t *testing.T) {
	d := content.New(config(t))
	for _, tc := range []struct {
		name string
		text string
		want filter.Detections
	}{
		// Legitimate traffic.
		{"OTP", "Your code is 123456. Do not share it.", filter.Detections{}},
		{"chat", "Hi mum, running late, see you at 8", filter.Detections{}},
		{"brand word alone", "Your PayPal payment of 12 EUR was received", filter.Detections{}},
		{"empty", "", filter.Detections{}},
		// Keywords: normalized, whole words.
		{"keyword", "get free viagra today", filter.Found("keyword", true, "keyword_hit", "free viagra")},
		{"obfuscated keyword", "FR33 V1AGRA!! order now", filter.Found("keyword", true, "keyword_hit", "free viagra")},
		{"keyword across punctuation", "Free...Viagra", filter.Found("keyword", true, "keyword_hit", "free viagra")},
		{"keyword, zero-width space", "free vi\u200Bagra", filter.Found("keyword", true, "keyword_hit", "free viagra")},
		{"keyword, Cyrillic confusable", "c\u0430sino bonus inside", filter.Found("keyword", true, "keyword_hit", "casino bonus")},
		{"not a whole word (suffix)", "free viagras", filter.Detections{}},
		{"not a whole word (glued)", "freeviagra", filter.Detections{}},
		{"not a whole word (prefix)", "carefree viagra", filter.Detections{}},
		// Regexes run over the decoded text.
		{"regex", "Your ACCOUNT has been suspended. Call us.", filter.Found("regex", true, "regex_hit", `(?i)your (account|card) (has been|is) (suspended|locked|blocked)`)},
		{"second regex", "Please verify your identity now", filter.Found("regex", true, "regex_hit", `(?i)verify your (identity|account) (now|immediately|within)`)},
		{"regex near miss", "Your account is active", filter.Detections{}},
		{"keyword and regex", "You have won! Your card is blocked", filter.Found("keyword", true, "keyword_hit", "you have won", "regex", true, "regex_hit", `(?i)your (account|card) (has been|is) (suspended|locked|blocked)`)},
		// Domains.
		{"blocked domain", "Log in at https://secure-login.xyz/a", filter.Found("blocked_domain", true)},
		{"blocked domain, subdomain", "Log in at http://www.accounts.secure-login.xyz/a", filter.Found("blocked_domain", true)},
		{"blocked domain, bare", "go to verify-account.top now", filter.Found("blocked_domain", true)},
		{"blocked domain, second URL", "dhl.com/track or secure-login.xyz", filter.Found("blocked_domain", true)},
		{"similar domain not blocked", "see not-secure-login.xyz", filter.Detections{}},
		{"allowed domain", "Track at https://www.dhl.com/track?id=42", filter.Found("allowed_domains", true)},
		{"allowed domains, all", "dhl.com and https://online.example-bank.com", filter.Found("allowed_domains", true)},
		{"one URL not allowed", "dhl.com and example.org", filter.Detections{}},
		{"unlisted domain", "Menu at https://pizza-roma.de", filter.Detections{}},
		// Phishing.
		{"IP literal", "Login http://192.168.10.5/paypal", filter.Found("phishing", true, "phishing_why", content.WhyIPLiteral)},
		{"IP literal beside allowed domain", "dhl.com or 10.0.0.1/track", filter.Found("phishing", true, "phishing_why", content.WhyIPLiteral)},
		{"shortener with brand", "PayPal: your account is limited, see bit.ly/3xYz", filter.Found("phishing", true, "phishing_why", content.WhyShortenerBrand)},
		{"shortener with obfuscated brand", "P@yP@l alert: tinyurl.com/abcd", filter.Found("phishing", true, "phishing_why", content.WhyShortenerBrand)},
		{"shortener without brand", "Party pics: bit.ly/3xYz", filter.Detections{}},
		{"brand in foreign domain", "PayPal: confirm at https://paypal.com.secure-login.xyz/signin", filter.Found("blocked_domain", true, "phishing", true, "phishing_why", content.WhyBrandDomain)},
		{"brand in foreign domain, no brand word", "confirm at https://netflix-billing.info/update", filter.Found("phishing", true, "phishing_why", content.WhyBrandDomain)},
		{"brand in foreign domain, upper case", "see WWW.AMAZON-REFUNDS.COM", filter.Found("phishing", true, "phishing_why", content.WhyBrandDomain)},
		{"homograph of the brand's domain", "PayPal: log in at https://p\u0430ypal.com/signin", filter.Found("phishing", true, "phishing_why", content.WhyBrandDomain)},
		{"leetspeak brand in a domain", "Refund: amaz0n-refunds.com/claim", filter.Found("phishing", true, "phishing_why", content.WhyBrandDomain)},
		{"brand's own domain, allow-listed", "PayPal: log in at https://www.paypal.com/signin", filter.Found("allowed_domains", true)},
		{"brand's own domain, not listed", "Your order: https://www.amazon.co.uk/orders", filter.Detections{}},
		{"brand's own domain, shortener beside it", "PayPal receipt www.paypal.com/r and bit.ly/x", filter.Found("phishing", true, "phishing_why", content.WhyShortenerBrand)},
		{"short brand not searched in domains", "dhlparcel-fees.com/pay", filter.Detections{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var det filter.Detections
			d.Detect(facts(tc.text), &det, 0)
			clearDomainRisk(&det) // TestSuspiciousDomain checks it
			if det != tc.want {
				t.Fatalf("%q:\n got %+v\nwant %+v", tc.text, det, tc.want)
			}
		})
	}
}

func TestReceiptIgnored(t *testing.T) {
	d := content.New(config(t))
	f := facts("id:123 stat:DELIVRD free viagra http://10.0.0.1/")
	f.Direction, f.Receipt = "mo", true
	var det filter.Detections
	d.Detect(f, &det, 0)
	if det != (filter.Detections{}) {
		t.Fatalf("receipt inspected: %+v", det)
	}
}

// MO text is inspected as well.
func TestMO(t *testing.T) {
	d := content.New(config(t))
	f := facts("free viagra")
	f.Direction = "mo"
	var det filter.Detections
	d.Detect(f, &det, 0)
	if !det.Has(content.Keyword) {
		t.Fatal("MO keyword missed")
	}
}

// Any list may be nil: nothing found, nothing panics.
func TestNilLists(t *testing.T) {
	d := content.New(content.Config{})
	for _, text := range []string{"free viagra", "PayPal bit.ly/x", "paypal.com.secure-login.xyz", "http://10.0.0.1/x", "dhl.com"} {
		var det filter.Detections
		d.Detect(facts(text), &det, 0)
		clearDomainRisk(&det) // built in, not a list
		want := filter.Detections{}
		if text == "http://10.0.0.1/x" {
			want = filter.Found("phishing", true, "phishing_why", content.WhyIPLiteral)
		}
		if det != want {
			t.Errorf("%q: %+v", text, det)
		}
	}
	// Without an allow list no message is "all allowed", and a brand's own
	// domain is still not phishing (multi-word brands are not searched in
	// hosts).
	for _, text := range []string{"https://www.paypal.com/signin", "https://online.example-bank.com/login",
		"https://www.netflix.com/account"} {
		cfg := config(t)
		cfg.AllowDomains = nil
		var det filter.Detections
		content.New(cfg).Detect(facts(text), &det, 0)
		clearDomainRisk(&det)
		if det != (filter.Detections{}) {
			t.Errorf("%q: %+v", text, det)
		}
	}
	cfg := config(t)
	cfg.AllowDomains = nil
	var det filter.Detections
	content.New(cfg).Detect(facts("https://www.dhl.com/track"), &det, 0)
	if det.Has(content.AllowedDomains) {
		t.Fatal("AllowedDomains without an allow list")
	}
}

func TestName(t *testing.T) {
	if n := content.New(content.Config{}).Name(); n != "content" {
		t.Fatalf("Name() = %q", n)
	}
}

func clearDomainRisk(det *filter.Detections) {
	for _, name := range []string{"suspicious_domain", "domain_risk", "domain_risk_why"} {
		det.Clear(name)
	}
}

// Links to domains that look registered to lure are suspicious, whoever
// sends them; shared news and video links, and allow-listed domains, are not.
func TestSuspiciousDomain(t *testing.T) {
	d := content.New(content.Config{AllowDomains: compile(t, "allow", lists.Domains, "example-bank.com"), SuspiciousScore: 2})
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"You have an unpaid toll. Pay: update-login48.buzz/x", true},
		{"Paket: dhl-sendung01.icu/?id=7", true},
		{"Log in at https://secure-login.xyz/a", true},
		{"Rezept für morgen https://www.spiegel.de/panorama/a-4t3nxeb4kj4", false},
		{"look https://open.spotify.com/track/c5M5", false},
		{"Programm: https://www.stadtfest-33nw.de/programm", false},
		{"secure-login.example-bank.com", false},
	} {
		var det filter.Detections
		d.Detect(facts(tc.text), &det, 0)
		if det.Has(content.SuspiciousDomain) != tc.want {
			t.Errorf("%q: suspicious=%v (%d: %s)", tc.text, !tc.want, det.Count(content.DomainRisk), det.Text(content.DomainRiskWhy))
		}
	}
}
