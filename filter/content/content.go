// Package content inspects message text: blocked keywords (Aho-Corasick over
// normalized text, whole words), regular expressions, URL domains on block
// and allow lists, and phishing heuristics (IP-literal links, a shortener
// link beside a brand word, a brand name inside a foreign domain).
package content

import (
	"bytes"
	"strings"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/lists"
	"github.com/smsfw/smsfw/filter/textscan"
	"github.com/smsfw/smsfw/internal/unsafex"
)

// Config names the lists the detector uses (any may be nil).
type Config struct {
	Keywords, Brands           *lists.List
	Regexes                    *lists.List
	BlockDomains, AllowDomains *lists.List
	// SuspiciousScore: a link's domain with at least this many lure signs
	// (textscan.DomainRisk) is suspicious (default 2).
	SuspiciousScore int
}

// Detector is the content detector.
type Detector struct{ cfg Config }

// New returns a content detector.
func New(cfg Config) *Detector {
	if cfg.SuspiciousScore == 0 {
		cfg.SuspiciousScore = 2
	}
	return &Detector{cfg: cfg}
}

// Name implements filter.Detector.
func (d *Detector) Name() string { return "content" }

// Phishing reasons.
const (
	WhyIPLiteral      = "ip_literal_url"
	WhyShortenerBrand = "shortener_with_brand"
	WhyBrandDomain    = "brand_in_foreign_domain"
)

// Detect sets the content findings.
func (d *Detector) Detect(f *filter.Facts, det *filter.Detections, _ int64) {
	if f.Text == "" || f.Receipt {
		return
	}
	norm := unsafex.Bytes(f.Norm)
	if i := d.cfg.Keywords.FirstKeywordFrom(norm, f.NormStarts); i >= 0 {
		det.Raise(Keyword)
		det.SetText(KeywordHit, d.cfg.Keywords.Items[i])
	}
	if i := d.cfg.Regexes.FirstRegex(unsafex.Bytes(f.Text)); i >= 0 {
		det.Raise(Regex)
		det.SetText(RegexHit, d.cfg.Regexes.Items[i])
	}
	if f.URLCount == 0 {
		return
	}
	brand := d.cfg.Brands.FirstKeywordFrom(norm, f.NormStarts)
	allAllowed := d.cfg.AllowDomains != nil
	textscan.FindURLs(unsafex.Bytes(f.Text), func(u textscan.URL) bool {
		if u.IPLiteral {
			det.Raise(Phishing)
			det.SetText(PhishingWhy, WhyIPLiteral)
			allAllowed = false
			return true
		}
		dom, ok := textscan.RegistrableDomain(u.Host)
		if !ok {
			return true
		}
		if d.cfg.BlockDomains.HasDomain(dom) {
			det.Raise(BlockedDomain)
		}
		allowed := d.cfg.AllowDomains.HasDomain(dom)
		if !allowed {
			allAllowed = false
			if score, why := textscan.DomainRisk(dom); score > det.Count(DomainRisk) {
				det.SetCount(DomainRisk, score)
				det.SetText(DomainRiskWhy, why)
				det.Set(SuspiciousDomain, score >= d.cfg.SuspiciousScore)
			}
		}
		if brand >= 0 && !allowed && textscan.IsShortener(dom) {
			det.Raise(Phishing)
			det.SetText(PhishingWhy, WhyShortenerBrand)
		}
		if !allowed && d.cfg.Brands != nil {
			// The host is folded like the text (case, confusables,
			// diacritics, leetspeak; separators become spaces), so a
			// homograph such as "pаypal.com" with a Cyrillic а names the
			// brand; its own domain is recognised on the raw, ASCII dom.
			var hb [128]byte
			host := textscan.Normalize(hb[:0], u.Host)
			for _, b := range d.cfg.Brands.Items {
				if len(b) >= 4 && strings.IndexByte(b, ' ') < 0 && bytes.Contains(host, unsafex.Bytes(b)) &&
					!(strings.HasPrefix(dom, b) && len(dom) > len(b) && dom[len(b)] == '.') {
					det.Raise(Phishing)
					det.SetText(PhishingWhy, WhyBrandDomain)
					break
				}
			}
		}
		return true
	})
	det.Set(AllowedDomains, allAllowed)
}
