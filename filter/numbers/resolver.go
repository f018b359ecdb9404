package numbers

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/nyaruka/phonenumbers"
)

// Type is the kind of line a number belongs to, as phonenumbers' metadata
// knows it.
type Type uint8

const (
	Unknown Type = iota
	Mobile
	FixedLine
	FixedLineOrMobile
	TollFree
	PremiumRate
	SharedCost
	VoIP
	Personal
	Pager
	UAN
	Voicemail
)

var typeNames = [...]string{
	"unknown", "mobile", "fixed_line", "fixed_line_or_mobile", "toll_free",
	"premium_rate", "shared_cost", "voip", "personal", "pager", "uan", "voicemail",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

func typeOf(t phonenumbers.PhoneNumberType) Type {
	switch t {
	case phonenumbers.MOBILE:
		return Mobile
	case phonenumbers.FIXED_LINE:
		return FixedLine
	case phonenumbers.FIXED_LINE_OR_MOBILE:
		return FixedLineOrMobile
	case phonenumbers.TOLL_FREE:
		return TollFree
	case phonenumbers.PREMIUM_RATE:
		return PremiumRate
	case phonenumbers.SHARED_COST:
		return SharedCost
	case phonenumbers.VOIP:
		return VoIP
	case phonenumbers.PERSONAL_NUMBER:
		return Personal
	case phonenumbers.PAGER:
		return Pager
	case phonenumbers.UAN:
		return UAN
	case phonenumbers.VOICEMAIL:
		return Voicemail
	}
	return Unknown
}

// Info is what the Resolver knows about an address.
type Info struct {
	// Valid reports that phonenumbers considers the number valid (it matches
	// an allocated range of its country).
	Valid bool
	// CountryCode is the country calling code (49), 0 when not parsable.
	CountryCode int
	// Region is the ISO 3166-1 alpha-2 code ("DE"); "" when unknown, for
	// invalid numbers, and for non-geographic codes (+800, +882, ...).
	Region string
	// Type is the line type; Unknown for invalid numbers.
	Type Type
	// nsn is the national significant number and nsnLen its length in
	// digits (leading zeros included); nsnLen 0 when not parsable. Kept as
	// numbers so that the table path allocates nothing: E164 formats.
	nsn    uint64
	nsnLen uint8
}

// E164 is the number in E.164 form ("+4915112345678") whenever it was
// parsable, valid or not; "" otherwise. It allocates.
func (i Info) E164() string {
	if i.nsnLen == 0 {
		return ""
	}
	var d [20]byte
	digits := strconv.AppendUint(d[:0], i.nsn, 10)
	out := append(make([]byte, 0, 4+int(i.nsnLen)), '+')
	out = strconv.AppendInt(out, int64(i.CountryCode), 10)
	for k := len(digits); k < int(i.nsnLen); k++ {
		out = append(out, '0')
	}
	return string(append(out, digits...))
}

// lookup modes, part of the cache key: the same digits mean different
// numbers depending on how they are read.
const (
	modeIntl     = iota // digits are E.164 without '+'
	modeNational        // digits are national, read with the default region
	modeUnknown         // TON 0: international if that parses valid, else national
	numModes
)

// maxDigits bounds what is parsed and cached; E.164 allows 15 digits, SMPP
// addresses hold 20 characters.
const maxDigits = 20

// cached is one cache value. It carries its own key so that a 64-bit hash
// collision is detected and treated as a miss: a hit is always exact.
type cached struct {
	mode   uint8
	digits string
	info   Info
}

// Resolver parses SMPP addresses with phonenumbers and caches the results in
// a ristretto cache keyed by a seeded 64-bit hash of (mode, digits). Lookup
// is safe for concurrent use. A hit costs one hash of the digits and one
// ristretto Get and does not allocate (see README for ristretto's amortised
// access-buffer allocation); a miss parses (a few microseconds, some
// allocations) and inserts asynchronously, so the very next Lookup of the
// same address may still miss.
type Resolver struct {
	region  string
	notable bool // tests and benchmarks: every number through phonenumbers
	seeds   [numModes]maphash.Seed
	cache   *ristretto.Cache[uint64, *cached]
	nocache bool
	bg      background
}

// NewResolver returns a Resolver reading national numbers (TON 2, and TON 0
// without a recognisable country code) in defaultRegion (an ISO 3166-1
// alpha-2 code such as "DE"; "" disables national parsing) and caching up
// to maxEntries results (<= 0 disables the cache; every Lookup then parses).
func NewResolver(defaultRegion string, maxEntries int64) (*Resolver, error) {
	region := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if region != "" && phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return nil, fmt.Errorf("numbers: unknown default region %q", defaultRegion)
	}
	if region == "" {
		region = phonenumbers.UNKNOWN_REGION
	}
	r := &Resolver{region: region}
	for i := range r.seeds {
		r.seeds[i] = maphash.MakeSeed()
	}
	if maxEntries <= 0 {
		r.nocache = true
		return r, nil
	}
	c, err := ristretto.NewCache(&ristretto.Config[uint64, *cached]{
		NumCounters:        maxEntries * 10, // TinyLFU wants ~10x the item count
		MaxCost:            maxEntries,      // every entry costs 1
		BufferItems:        64,
		IgnoreInternalCost: true,
		// The key already is a well-mixed seeded hash; the default hasher
		// would box it into an interface first.
		KeyToHash: func(k uint64) (uint64, uint64) { return k, 0 },
	})
	if err != nil {
		return nil, fmt.Errorf("numbers: cache: %w", err)
	}
	r.cache = c
	return r, nil
}

// Close stops the cache's background goroutine. Lookup keeps working after
// Close, without caching.
func (r *Resolver) Close() {
	r.stopBackground()
	if r.cache != nil {
		r.cache.Close()
	}
}

func hashDigits(r *Resolver, mode uint8, digits []byte) uint64 {
	return maphash.Bytes(r.seeds[mode], digits)
}

// errNotDigits is internal: the address is not a digit string.
var errNotDigits = errors.New("not digits")

// normalize splits addr into a lookup mode and its digits. It strips a
// leading '+' or "00" (both mean international, whatever the TON) and
// rejects anything that is not a digit string of 1..maxDigits digits.
func normalize(ton byte, addr []byte) (mode uint8, digits []byte, err error) {
	if ton == TONAlphanumeric || len(addr) == 0 {
		return 0, nil, errNotDigits
	}
	switch ton {
	case TONInternational:
		mode = modeIntl
	case TONNational:
		mode = modeNational
	default:
		mode = modeUnknown
	}
	digits = addr
	if digits[0] == '+' {
		mode = modeIntl
		digits = digits[1:]
	} else if len(digits) > 2 && digits[0] == '0' && digits[1] == '0' {
		mode = modeIntl
		digits = digits[2:]
	}
	if len(digits) == 0 || len(digits) > maxDigits {
		return 0, nil, errNotDigits
	}
	if !allDigits(digits) {
		return 0, nil, errNotDigits
	}
	return mode, digits, nil
}

// Lookup resolves an SMPP address.
//
//   - TON 1 (international): the digits are E.164 without '+'.
//   - TON 2 (national): the digits are read in the default region.
//   - TON 0 (unknown): read as international when that parse is valid
//     (the digits start with a country code and form a valid number),
//     otherwise as national.
//   - A leading '+' or "00" means international whatever the TON.
//   - TON 5 (alphanumeric), empty addresses, addresses with anything but
//     digits (after the optional '+'), and more than 20 digits return
//     Info{} at once, without phonenumbers or the cache.
//
// Numbers the E.164 table decides (e164.go) are answered from it, without
// phonenumbers or the cache.
//
// npi is accepted for completeness and not used: in practice the TON and the
// digits decide how a number reads.
func (r *Resolver) Lookup(ton, npi byte, addr []byte) Info {
	_ = npi
	mode, digits, err := normalize(ton, addr)
	if err != nil {
		return Info{}
	}
	var info Info
	if r.fromTable(mode, digits, &info) {
		return info
	}
	if r.nocache || r.cache == nil {
		return r.resolve(mode, string(digits))
	}
	h := hashDigits(r, mode, digits)
	if c, ok := r.cache.Get(h); ok && c.mode == mode && c.digits == string(digits) {
		return c.info
	}
	s := string(digits)
	info = r.resolve(mode, s)
	r.cache.Set(h, &cached{mode: mode, digits: s, info: info}, 1)
	return info
}

// resolve parses without the cache.
func (r *Resolver) resolve(mode uint8, digits string) Info {
	switch mode {
	case modeIntl:
		info, _ := parse("+"+digits, phonenumbers.UNKNOWN_REGION)
		return info
	case modeNational:
		info, _ := parse(digits, r.region)
		return info
	}
	// TON 0: a leading 0 is a trunk prefix (or an IDD) in most numbering
	// plans and never starts a country code, so such digits go national.
	if digits[0] != '0' {
		if info, ok := parse("+"+digits, phonenumbers.UNKNOWN_REGION); ok && info.Valid {
			return info
		}
	}
	info, ok := parse(digits, r.region)
	if !ok && digits[0] != '0' {
		// No default region (or not parsable there): keep whatever the
		// international reading gave.
		info, _ = parse("+"+digits, phonenumbers.UNKNOWN_REGION)
	}
	return info
}

// parse runs phonenumbers and converts its answer; ok reports a parsable
// number (valid or not).
func parse(s, region string) (Info, bool) {
	var pn phonenumbers.PhoneNumber
	if err := phonenumbers.ParseToNumber(s, region, &pn); err != nil {
		return Info{}, false
	}
	info := Info{
		CountryCode: int(pn.GetCountryCode()),
		nsn:         pn.GetNationalNumber(),
		nsnLen:      uint8(len(phonenumbers.GetNationalSignificantNumber(&pn))),
	}
	// IsValidNumber is GetNumberType != UNKNOWN for the number's region,
	// with that region's calling code: asked once here, not twice (the
	// type's patterns are most of a parse).
	t := phonenumbers.GetNumberType(&pn)
	if t == phonenumbers.UNKNOWN {
		return info, true
	}
	reg := phonenumbers.GetRegionCodeForNumber(&pn)
	if reg != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY && phonenumbers.GetCountryCodeForRegion(reg) != int(pn.GetCountryCode()) {
		return info, true
	}
	info.Valid = true
	info.Type = typeOf(t)
	if len(reg) == 2 && reg != phonenumbers.UNKNOWN_REGION {
		info.Region = reg
	}
	return info, true
}
