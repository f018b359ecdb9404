// Package filtertest fills message facts for detector tests the way the
// inspection pipeline does, so a detector's tests see what it sees in
// production.
package filtertest

import (
	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/textscan"
)

// SetText sets f's text and what the pipeline derives from it: the
// normalized text, the fingerprint, the URLs and first domain, and the
// text's shape (words, codes, phone numbers, e-mail addresses, amounts).
func SetText(f *filter.Facts, text string) *filter.Facts {
	f.Text = text
	if text == "" {
		return f
	}
	b := []byte(text)
	norm, starts := textscan.NormalizeStarts(nil, nil, b)
	f.Norm, f.NormStarts = string(norm), starts
	f.Fingerprint = textscan.Fingerprint(b)
	textscan.FindURLs(b, func(u textscan.URL) bool {
		if f.URLCount == 0 {
			if d, ok := textscan.RegistrableDomain(u.Host); ok {
				f.FirstDomain = d
			}
		}
		f.URLCount++
		return true
	})
	s := textscan.ShapeOf(b)
	f.Words, f.Codes, f.Phones, f.Emails, f.Money, f.Handoffs = s.Words, s.Codes, s.Phones, s.Emails, s.Money, s.Handoffs
	return f
}
