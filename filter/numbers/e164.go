package numbers

//go:generate go run ./internal/e164gen/cmd -o e164_table.go

import "github.com/smsfw/smsfw/internal/unsafex"

// The E.164 table answers most international numbers without phonenumbers.
// internal/e164gen derives it from phonenumbers' own metadata: per calling
// code and national significant number (NSN) length, a digit trie (a DAG:
// equal subtrees shared) whose leaves are exactly what phonenumbers answers
// for every number under the prefix: validity, region and line type. A leaf
// is 0 ("undecided") where phonenumbers might strip a national prefix from
// the NSN (the region's national-prefix-for-parsing pattern matches a prefix
// of it): those numbers, national readings, and the TON 0 readings the
// table finds invalid go to phonenumbers as before. TestTableMatchesPhonenumbers checks every answer
// against phonenumbers; TestTableIsFresh that the committed table is what
// the generator writes for the phonenumbers version in go.mod.

// e164Outcome is one leaf of the table.
type e164Outcome struct {
	valid  bool
	region string
	typ    Type
}

// leafBit marks a child value as an index into e164Outcomes; 0 is
// "undecided", anything else an index into e164Nodes.
const leafBit = 1 << 15

// tableLookup answers digits read as international (E.164 without '+') as
// phonenumbers would; ok is false when the table does not decide. It does
// not allocate.
func tableLookup(digits []byte, info *Info) bool {
	// phonenumbers: at least 3 digits after the '+' (ErrTooShortAfterIDD);
	// a calling code never starts with 0.
	if len(digits) < 3 || len(digits) > maxDigits || digits[0] == '0' {
		return false
	}
	cc, n := 0, 0
	var idx uint16
	for n < 3 { // the shortest known code wins, as in extractCountryCode
		cc = cc*10 + int(digits[n]-'0')
		n++
		if idx = e164CC[cc]; idx != 0 {
			break
		}
	}
	nsn := digits[n:]
	if idx == 0 || len(nsn) < 2 || len(nsn) > 17 {
		return false
	}
	v := e164Roots[idx-1][len(nsn)-2]
	val := digitsValue(unsafex.String(nsn)) // digits: the caller's normalize checked them
	for i := 0; v != 0; i++ {
		if v&leafBit != 0 {
			o := &e164Outcomes[v&^leafBit]
			*info = Info{Valid: o.valid, CountryCode: cc, Region: o.region, Type: o.typ,
				nsn: val, nsnLen: uint8(len(nsn))}
			return true
		}
		v = e164Nodes[v][nsn[i]-'0']
	}
	return false
}

// fromTable answers a normalized address from the table where the table
// decides: international readings, and TON 0 readings that the table finds
// valid as international (an invalid one is read nationally next).
func (r *Resolver) fromTable(mode uint8, digits []byte, info *Info) bool {
	if r.notable || mode == modeNational || mode == modeUnknown && digits[0] == '0' {
		return false
	}
	if !tableLookup(digits, info) {
		return false
	}
	if mode == modeUnknown && !info.Valid {
		*info = Info{}
		return false
	}
	return true
}

// LookupTable is Lookup for the numbers the E.164 table decides, and only
// for them: it fills *info and reports true, or reports false when the
// table does not decide (ask Lookup or LookupQuick; *info is then not
// meaningful). It never touches phonenumbers or the cache and does not
// allocate, so a caller with its own cache in front of the Resolver can ask
// it first (~50 ns) and keep its cache for the other numbers.
func (r *Resolver) LookupTable(ton, npi byte, addr []byte, info *Info) bool {
	_ = npi
	mode, digits, err := normalize(ton, addr)
	if err != nil {
		return false
	}
	return r.fromTable(mode, digits, info)
}
