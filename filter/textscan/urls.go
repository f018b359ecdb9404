package textscan

import (
	"bytes"
	"hash/maphash"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// URL is one link found by FindURLs. Start and End are byte offsets of the
// whole link in the text (text[Start:End]); Host is a sub-slice of the text
// (without brackets for an IPv6 literal), not lower-cased.
type URL struct {
	Start, End int
	Host       []byte
	HasScheme  bool // http:// or https:// (any case)
	IPLiteral  bool // the host is an IPv4 (or bracketed IPv6) address
}

// FindURLs calls fn for each link in text, in order, until fn returns false.
// It recognizes
//
//   - http:// and https:// in any case (user info before '@' is skipped,
//     the host follows it; ports are kept in the link, not in Host);
//   - "www." followed by at least two more labels;
//   - bare "name.tld[:port][/path]" when the last label is a known top-level
//     domain: the embedded gTLD list, or a two-letter ICANN country code
//     (a Title-case country code without a path, "Ok.Im", reads as two
//     sentences and is skipped);
//   - IPv4 literal hosts, with or without a scheme (IPLiteral set).
//
// A link starts at a word boundary and is not part of an e-mail address: the
// domain of user@host.tld is not a link. Host labels are ASCII letters,
// digits and '-', plus Latin, Greek and Cyrillic letters (homograph hosts
// such as "pаypal.com" with a Cyrillic а are found; CJK text glued to a link
// is not taken into its host). The path runs to the next space, control
// character, '<', '>' or '"' (or non-ASCII space/punctuation); trailing
// . , ; : ! ? ) ] ' " are stripped (a ')' closing a '(' of the link stays).
// FindURLs does not allocate.
func FindURLs(text []byte, fn func(u URL) bool) {
	if mayHaveURL(text) {
		findURLs(text, fn)
	}
}

// findURLs is FindURLs without its prefilter.
func findURLs(text []byte, fn func(u URL) bool) {
	n := len(text)
	for i := 0; i < n; {
		c := text[i]
		if c < utf8.RuneSelf {
			if !isAlnum(c) {
				i++
				continue
			}
		} else {
			r, size := utf8.DecodeRune(text[i:])
			if !isHostRune(r) {
				i += size
				continue
			}
		}
		if !boundaryBefore(text, i) {
			i = skipHostRun(text, i)
			continue
		}
		if c < utf8.RuneSelf {
			// Cheap reject: every link has '.' or ':' right after its
			// first ASCII label ("http:", "www.", "name.", "1.2.3.4").
			j := i + 1
			for j < n && (isAlnum(text[j]) || text[j] == '-') {
				j++
			}
			if j == n || text[j] != '.' && text[j] != ':' && text[j] < utf8.RuneSelf {
				i = j
				continue
			}
			if oneLabelHost(text, j) {
				i = j // where parseURL would fail and resume
				continue
			}
		}
		u, ok, next := parseURL(text, i)
		if ok {
			if !fn(u) {
				return
			}
			i = u.End
			continue
		}
		if next <= i {
			next = skipHostRun(text, i)
		}
		i = next
	}
}

// oneLabelHost reports whether the ASCII label that ends at text[j] (a '.'
// or ':') is a whole host of one label ("Note:", "10:00", "messages."),
// which is no link: only "://" makes a scheme and only a '.' before another
// label a second label. parseURL would fail there and resume at j.
func oneLabelHost(text []byte, j int) bool {
	if text[j] == ':' {
		return !(j+2 < len(text) && text[j+1] == '/' && text[j+2] == '/')
	}
	return text[j] == '.' && !startsLabel(text[j+1:])
}

// mayHaveURL is FindURLs' prefilter: every link has a '.' followed by the
// first character of a host label (an ASCII letter or digit, or a non-ASCII
// byte) or a ':' followed by '/' ("http://"). A text whose dots end
// sentences and whose colons separate hours is answered by a few SIMD byte
// searches instead of a walk of every word.
func mayHaveURL(text []byte) bool {
	for t := text; ; {
		k := bytes.IndexByte(t, '.')
		if k < 0 || k+1 == len(t) {
			break
		}
		if c := t[k+1]; c >= utf8.RuneSelf || isAlnum(c) {
			return true
		}
		t = t[k+1:]
	}
	for t := text; ; {
		k := bytes.IndexByte(t, ':')
		if k < 0 || k+1 == len(t) {
			return false
		}
		if t[k+1] == '/' {
			return true
		}
		t = t[k+1:]
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isHostRune reports whether a non-ASCII rune may appear in a host label:
// Latin, Greek and Cyrillic letters (the scripts of homograph attacks).
func isHostRune(r rune) bool {
	if r < 0xC0 || r >= 0x530 || r == 0xD7 || r == 0xF7 {
		return false
	}
	return unicode.IsLetter(r)
}

// boundaryBefore reports whether a link may start at text[i]: the previous
// character is not part of a word, a host or an e-mail address.
func boundaryBefore(text []byte, i int) bool {
	if i == 0 {
		return true
	}
	p := text[i-1]
	if p < utf8.RuneSelf {
		return !isAlnum(p) && p != '-' && p != '.' && p != '_' && p != '@'
	}
	r, _ := utf8.DecodeLastRune(text[:i])
	return !isHostRune(r)
}

// skipHostRun returns the index after the run of host-like characters
// (letters, digits, '-', '_', '.', '@') that starts at i, at least i+1.
func skipHostRun(text []byte, i int) int {
	j := i
	for j < len(text) {
		c := text[j]
		if c < utf8.RuneSelf {
			if !isAlnum(c) && c != '-' && c != '_' && c != '.' && c != '@' {
				break
			}
			j++
			continue
		}
		r, size := utf8.DecodeRune(text[j:])
		if !isHostRune(r) {
			break
		}
		j += size
	}
	if j == i {
		j = i + 1
	}
	return j
}

func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// hostInfo describes a scanned host name.
type hostInfo struct {
	end       int // index after the host
	labels    int
	lastStart int // start of the last label
}

// scanHost scans dot-separated labels from p. A dot is taken only when a
// label follows it, so a sentence's final dot stays out.
func scanHost(text []byte, p int) hostInfo {
	h := hostInfo{end: p}
	i := p
	for {
		start := i
		for i < len(text) {
			c := text[i]
			if c < utf8.RuneSelf {
				if !isAlnum(c) && c != '-' {
					break
				}
				i++
				continue
			}
			r, size := utf8.DecodeRune(text[i:])
			if !isHostRune(r) {
				break
			}
			i += size
		}
		if i == start {
			return h
		}
		h.labels++
		h.lastStart = start
		h.end = i
		if i+1 < len(text) && text[i] == '.' && startsLabel(text[i+1:]) {
			i++
			continue
		}
		return h
	}
}

func startsLabel(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if b[0] < utf8.RuneSelf {
		return isAlnum(b[0])
	}
	r, _ := utf8.DecodeRune(b)
	return isHostRune(r)
}

// isIPv4 reports whether h is a dotted-quad IPv4 address.
func isIPv4(h []byte) bool {
	parts := 0
	for i := 0; i <= len(h); {
		j := i
		v := 0
		for j < len(h) && isDigit(h[j]) {
			v = v*10 + int(h[j]-'0')
			j++
			if j-i > 3 {
				return false
			}
		}
		if j == i || v > 255 {
			return false
		}
		parts++
		if j == len(h) {
			return parts == 4
		}
		if h[j] != '.' || parts == 4 {
			return false
		}
		i = j + 1
	}
	return false
}

// parseURL tries to read a link that starts at text[i] (a word boundary).
// When there is none it returns a resume index (or <= i to skip the word).
func parseURL(text []byte, i int) (URL, bool, int) {
	n := len(text)
	u := URL{Start: i}
	p := i
	if hasPrefixFold(text[i:], "http") {
		q := i + 4
		if q < n && (text[q] == 's' || text[q] == 'S') {
			q++
		}
		if q+3 <= n && text[q] == ':' && text[q+1] == '/' && text[q+2] == '/' {
			u.HasScheme = true
			p = q + 3
		}
	}
	var h hostInfo
	if u.HasScheme {
		// Skip user info: the host follows the last '@' of the authority.
		ae := p
		for ae < n {
			c := text[ae]
			if c <= ' ' || c == '/' || c == '?' || c == '#' || c == '<' || c == '>' || c == '"' || c == 0x7F {
				break
			}
			ae++
		}
		if at := bytes.LastIndexByte(text[p:ae], '@'); at >= 0 {
			p += at + 1
		}
		if p < n && text[p] == '[' { // IPv6 literal
			cl := bytes.IndexByte(text[p:ae], ']')
			if cl < 2 {
				return u, false, p
			}
			u.Host = text[p+1 : p+cl]
			u.IPLiteral = true
			h.end = p + cl + 1
		} else {
			h = scanHost(text, p)
			if h.labels == 0 {
				return u, false, p
			}
			u.Host = text[p:h.end]
			u.IPLiteral = isIPv4(u.Host)
		}
	} else {
		h = scanHost(text, i)
		if h.labels < 2 {
			return u, false, h.end
		}
		if h.end < n && text[h.end] == '@' { // the user part of an e-mail address
			return u, false, h.end + 1
		}
		u.Host = text[i:h.end]
		switch {
		case isIPv4(u.Host):
			u.IPLiteral = true
		case hasPrefixFold(u.Host, "www.") && h.labels >= 3 && isAlphaLabel(text[h.lastStart:h.end]):
		case knownTLD(text[h.lastStart:h.end]):
			if len(u.Host)-(h.lastStart-i) == 2 && isTitle(text[h.lastStart:h.end]) && !hasPath(text, h.end) {
				return u, false, h.end
			}
		default:
			return u, false, h.end
		}
	}
	end := h.end
	// Port.
	if end+1 < n && text[end] == ':' && isDigit(text[end+1]) {
		end++
		for end < n && isDigit(text[end]) {
			end++
		}
	}
	pathStart := end
	if end < n && (text[end] == '/' || text[end] == '?' || text[end] == '#') {
		end = scanPath(text, end)
	}
	// Strip trailing punctuation from the path.
	for end > pathStart {
		c := text[end-1]
		if c == ')' {
			seg := text[u.Start:end]
			if bytes.Count(seg, []byte{'('}) >= bytes.Count(seg, []byte{')'}) {
				break
			}
		} else if !strings.ContainsRune(".,;:!?]'\"", rune(c)) {
			break
		}
		end--
	}
	u.End = end
	return u, true, end
}

func hasPath(text []byte, i int) bool {
	return i+1 < len(text) && (text[i] == '/' || text[i] == '?' || text[i] == '#') && text[i+1] > ' '
}

// scanPath returns the end of the path, query and fragment that start at i.
func scanPath(text []byte, i int) int {
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7F || c == '<' || c == '>' || c == '"' {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:])
		if r != utf8.RuneError && (unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.Is(unicode.Cf, r)) {
			return i
		}
		i += size
	}
	return i
}

func isAlphaLabel(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	for _, c := range b {
		if !isLetter(c) {
			return false
		}
	}
	return true
}

func isTitle(b []byte) bool {
	if len(b) < 2 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	for _, c := range b[1:] {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// knownTLD reports whether the label is a top-level domain that FindURLs
// accepts without a scheme.
func knownTLD(label []byte) bool {
	if len(label) == 2 {
		a, b := label[0]|0x20, label[1]|0x20
		if a < 'a' || a > 'z' || b < 'a' || b > 'z' || !isLetter(label[0]) || !isLetter(label[1]) {
			return false
		}
		return ccTLD[(int(a-'a')*26+int(b-'a'))/64]>>(uint(int(a-'a')*26+int(b-'a'))%64)&1 != 0
	}
	if len(label) < 2 || len(label) > len(tldBuf{}) {
		return false
	}
	var buf tldBuf
	for i, c := range label {
		if !isLetter(c) {
			return false
		}
		buf[i] = c | 0x20
	}
	_, ok := gTLDs[string(buf[:len(label)])] // no allocation for a map index
	return ok
}

type tldBuf [24]byte

// ccTLDList is the ICANN two-letter country-code top-level domains (checked
// against the public suffix list by the tests).
const ccTLDList = "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bv bw by bz " +
	"ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu " +
	"fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu " +
	"id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly " +
	"ma mc md me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz " +
	"om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st su sv sx sy sz " +
	"tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"

// gTLDList is the generic top-level domains recognized without a scheme:
// the legacy ones and those common in SMS spam and phishing.
const gTLDList = "com net org info biz edu gov mil int arpa mobi name pro aero asia cat coop jobs museum tel travel post " +
	"xyz top online site club app dev page shop store live link click vip win bid loan work today tech space website " +
	"fun icu buzz cyou rest monster sbs cfd bond lol help support services email cloud digital network life world news " +
	"blog xin ltd group center money finance bank cash pay one men date trade review download stream party racing " +
	"science zip mov best quest beauty hair skin makeup cam uno host press team express delivery agency company " +
	"solutions systems ink wiki tips guru pics pictures photo photos video tube game games casino bet poker fit " +
	"health care clinic doctor dental loans credit creditcard insurance tax claims gift gifts deals sale discount " +
	"promo coupons market markets exchange trading global world city africa london berlin tokyo nyc " +
	"moscow paris amsterdam brussels wang ren ooo kim lat mom pet run rocks plus zone tools works network " +
	"cool land red blue pink green black gold vin wine beer bar pub cafe pizza restaurant hotel hotels " +
	"flights tours vacations travel rent house homes property realestate estate apartments fashion shoes " +
	"clothing boutique jewelry watch watches style design studio art media social chat forum community " +
	"events tickets icu ac biz cc website yachts boats auto autos car cars bike moto parts repair report " +
	"secure security safe protection accountant accountants inc llc co " +
	"academy education school university college courses training institute software technology " +
	"computer codes energy solar"

var (
	ccTLD [11]uint64 // 26×26 bits
	gTLDs = map[string]struct{}{}
)

func init() {
	for _, t := range strings.Fields(ccTLDList) {
		k := int(t[0]-'a')*26 + int(t[1]-'a')
		ccTLD[k/64] |= 1 << uint(k%64)
	}
	for _, t := range strings.Fields(gTLDList) {
		if len(t) > 2 {
			gTLDs[t] = struct{}{}
		}
	}
}

// RegistrableDomain returns the registrable domain of a host (eTLD+1 by the
// public suffix list, lower-cased, e.g. "paypal.com.secure-login.xyz" ->
// "secure-login.xyz", "www.bbc.co.uk" -> "bbc.co.uk"). It returns false for
// IP literals, empty or malformed hosts, and hosts that are themselves a
// public suffix ("co.uk"). The answers for the last few thousand hosts are
// remembered: a host seen recently costs one hash and no allocation; a new
// one allocates its lower-cased copy (and publicsuffix an error value).
func RegistrableDomain(host []byte) (string, bool) {
	for len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	if len(host) == 0 || isIPv4(host) || bytes.IndexByte(host, ':') >= 0 || host[0] == '[' {
		return "", false
	}
	if len(host) > maxCachedHost {
		return registrableDomain(host)
	}
	h := maphash.Bytes(domains.seed, host)
	sh := &domains.shards[h%uint64(len(domains.shards))]
	slot := &sh.entries[(h>>16)%uint64(len(sh.entries))]
	sh.mu.Lock()
	if slot.host == string(host) && slot.host != "" {
		d, ok := slot.domain, slot.ok
		sh.mu.Unlock()
		return d, ok
	}
	sh.mu.Unlock()
	d, ok := registrableDomain(host)
	e := domainEntry{host: string(host), domain: d, ok: ok}
	sh.mu.Lock()
	*slot = e
	sh.mu.Unlock()
	return d, ok
}

func registrableDomain(host []byte) (string, bool) {
	h := strings.ToLower(string(host))
	d, err := publicsuffix.EffectiveTLDPlusOne(h)
	if err != nil {
		return "", false
	}
	return d, true
}

// maxCachedHost bounds the hosts the domain cache keeps.
const maxCachedHost = 128

// domains is RegistrableDomain's cache: direct-mapped slots in locked
// shards, keyed by a seeded hash of the host as written (a slot holds the
// host itself, so a hit is exact). 64 x 64 hosts.
var domains = &domainCache{seed: maphash.MakeSeed()}

type domainCache struct {
	seed   maphash.Seed
	shards [64]struct {
		mu      sync.Mutex
		entries [64]domainEntry
	}
}

type domainEntry struct {
	host, domain string
	ok           bool
}

// IsShortener reports whether a registrable domain (lower case) belongs to a
// URL shortener, whose links hide their destination.
func IsShortener(domain string) bool {
	switch domain {
	case "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "is.gd", "cutt.ly", "rb.gy",
		"shorturl.at", "ow.ly", "buff.ly", "tiny.cc", "s.id", "t.ly", "lnkd.in", "rebrand.ly",
		"bl.ink", "v.gd", "tinu.be", "shorte.st", "x.gd", "qrco.de", "shorturl.asia", "tiny.one",
		"u.to", "clck.ru", "rebrandly.com", "surl.li", "urlz.fr", "short.gy", "kutt.it":
		return true
	}
	return false
}
