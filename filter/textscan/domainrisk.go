package textscan

import "strings"

// Signs that a link's domain was registered to lure, not to be a business's
// home: the cheap top-level domains smishing favours, words that ask the
// reader to act (login, verify, redelivery, Zoll, colis, ...) as parts of
// the name, and digits glued to a word (update-login48). One sign is common
// on the web; two together are how throwaway phishing domains look.
// (DomainRisk is a heuristic for links nobody vetted; operators keep their
// trusted domains on an allow list.)

var abusedTLDs = map[string]bool{
	"top": true, "xyz": true, "icu": true, "buzz": true, "shop": true, "click": true, "club": true,
	"online": true, "site": true, "live": true, "cc": true, "tk": true, "ml": true, "ga": true, "cf": true,
	"gq": true, "rest": true, "cyou": true, "sbs": true, "bond": true, "monster": true, "support": true,
	"best": true, "lol": true, "mom": true, "vip": true, "work": true, "pw": true, "loan": true, "win": true,
	"bid": true, "cfd": true, "quest": true, "beauty": true, "hair": true, "skin": true, "autos": true,
	"boats": true, "homes": true, "motorcycles": true, "yachts": true, "zip": true, "mov": true, "info": true,
}

var lureWords = map[string]bool{
	// en
	"login": true, "signin": true, "logon": true, "verify": true, "verification": true, "secure": true,
	"security": true, "update": true, "account": true, "accounts": true, "billing": true, "payment": true,
	"refund": true, "redelivery": true, "delivery": true, "parcel": true, "package": true, "customs": true,
	"tracking": true, "track": true, "support": true, "helpdesk": true, "confirm": true, "unlock": true,
	"suspended": true, "wallet": true, "bonus": true, "prize": true, "claim": true, "reward": true,
	"rewards": true, "toll": true, "fine": true, "fee": true, "fees": true, "invoice": true, "auth": true,
	// de fr es it pt nl
	"sendung": true, "zustellung": true, "konto": true, "paket": true, "zoll": true, "gebuehr": true,
	"colis": true, "livraison": true, "compte": true, "amende": true, "envio": true, "paquete": true,
	"cuenta": true, "multa": true, "pacco": true, "spedizione": true, "conta": true, "encomenda": true,
	"pakket": true, "bezorging": true,
}

// DomainRisk returns how many lure signs a registrable domain carries and
// a short reason naming them ("tld+lure_word+digits"). It does not
// allocate.
func DomainRisk(domain string) (score int, why string) {
	name, tld, ok := strings.Cut(domain, ".")
	if !ok {
		return 0, ""
	}
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		tld = domain[i+1:]
	}
	var signs [3]bool // tld, lure_word, digits
	signs[0] = abusedTLDs[tld]
	for rest := name; rest != ""; {
		tok := rest
		if i := strings.IndexAny(rest, "-_"); i >= 0 {
			tok, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		word := strings.TrimRightFunc(tok, func(r rune) bool { return r >= '0' && r <= '9' })
		signs[1] = signs[1] || lureWords[word]
		signs[2] = signs[2] || word != tok && len(word) >= 3
	}
	var mask int
	for i, sign := range signs {
		if sign {
			score++
			mask |= 1 << i
		}
	}
	why = riskReasons[mask]
	return score, why
}

// riskReasons names each combination of signs (bit 0 tld, 1 lure_word, 2 digits).
var riskReasons = [8]string{"", "tld", "lure_word", "tld+lure_word", "digits", "tld+digits", "lure_word+digits", "tld+lure_word+digits"}
