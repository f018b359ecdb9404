package content

import (
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
)

const name = "content"

// Findings.
var (
	Keyword        = filter.NewFlag(name, "keyword", "a blocked keyword")
	KeywordHit     = filter.NewText(name, "keyword_hit", "the keyword found")
	Regex          = filter.NewFlag(name, "regex", "a blocked pattern")
	RegexHit       = filter.NewText(name, "regex_hit", "the pattern that matched")
	BlockedDomain  = filter.NewFlag(name, "blocked_domain", "a link to a blocked domain")
	AllowedDomains = filter.NewFlag(name, "allowed_domains", "every link's domain is on the allow list")
	Phishing       = filter.NewFlag(name, "phishing", "shortener beside a brand word, IP-literal link, brand inside a foreign domain")
	PhishingWhy    = filter.NewText(name, "phishing_why", "which phishing sign")
	// SuspiciousDomain: a link to a domain not on the allow list that looks
	// registered to lure (a cheap TLD, a lure word, digits glued to a word).
	SuspiciousDomain = filter.NewFlag(name, "suspicious_domain", "a link's domain carries suspicious_domain_score lure signs or more")
	DomainRisk       = filter.NewCount(name, "domain_risk", "the most lure signs of a link's domain (0-3)")
	DomainRiskWhy    = filter.NewText(name, "domain_risk_why", "the signs: tld, lure_word, digits")
)

// Settings is the detectors.content section: the names of the lists the
// detector uses (any may be empty).
type Settings struct {
	Keywords     string `yaml:"keywords"`      // keywords list: blocked words
	Regexes      string `yaml:"regexes"`       // regexes list
	BlockDomains string `yaml:"block_domains"` // domains list
	AllowDomains string `yaml:"allow_domains"` // domains list
	Brands       string `yaml:"brands"`        // keywords list: with a shortener link, phishing
	// SuspiciousDomainScore: lure signs that make a link's domain
	// suspicious (default 2 of 3).
	SuspiciousDomainScore int `yaml:"suspicious_domain_score"`

	resolved Config
}

// Check implements filter.Settings: the lists must exist with their type.
func (s *Settings) Check(k *filter.SettingsCheck) {
	s.resolved = Config{
		Keywords:     k.List("keywords", s.Keywords, lists.Keywords),
		Regexes:      k.List("regexes", s.Regexes, lists.Regexes),
		BlockDomains: k.List("block_domains", s.BlockDomains, lists.Domains),
		AllowDomains: k.List("allow_domains", s.AllowDomains, lists.Domains),
		Brands:       k.List("brands", s.Brands, lists.Keywords),
	}
	k.NotNegative("suspicious_domain_score", int64(s.SuspiciousDomainScore))
	if s.SuspiciousDomainScore == 0 {
		s.SuspiciousDomainScore = 2
	}
	s.resolved.SuspiciousScore = s.SuspiciousDomainScore
}

// Plugin registers the content detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:     name,
	Settings: func() filter.Settings { return &Settings{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		return filter.Built{Detector: New(env.Settings.(*Settings).resolved)}
	},
})

// Explain implements filter.Explainer.
func (d *Detector) Explain(f *filter.Facts, det *filter.Detections, add func(string, ...any)) {
	if det.Has(Keyword) {
		add("keyword=%q", det.Text(KeywordHit))
	}
	if det.Has(Regex) {
		add("regex=%q", det.Text(RegexHit))
	}
	if det.Has(BlockedDomain) {
		add("blocked_domain=%q", f.FirstDomain)
	}
	if det.Has(Phishing) {
		add("phishing=%s domain=%q", det.Text(PhishingWhy), f.FirstDomain)
	}
	if det.Has(SuspiciousDomain) {
		add("suspicious_domain=%s", det.Text(DomainRiskWhy))
	}
}

// Highlight implements filter.Highlighter: the keyword, pattern or domain.
func (d *Detector) Highlight(f *filter.Facts, det *filter.Detections) string {
	switch {
	case det.Has(Keyword) && det.Text(KeywordHit) != "":
		return det.Text(KeywordHit)
	case det.Has(Regex) && det.Text(RegexHit) != "":
		return det.Text(RegexHit)
	case (det.Has(BlockedDomain) || det.Has(Phishing) || det.Has(SuspiciousDomain)) && f.FirstDomain != "":
		return f.FirstDomain
	}
	return ""
}
