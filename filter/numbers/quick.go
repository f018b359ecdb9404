package numbers

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Parsing a number the cache has not seen costs ~17 us (phonenumbers is
// regex-driven) — too slow for the hot path when a stream of new recipients
// arrives. The E.164 table (e164.go) answers most international numbers
// without parsing; for the others LookupQuick answers at once with what the digits
// tell (the calling code and its main region) and has them parsed in the
// background, so the next message to the same number gets the full answer.

// parseJob carries its digits in an array: queueing (or dropping) a job on
// the hot path allocates nothing.
type parseJob struct {
	mode   uint8
	n      uint8 // len of digits
	digits [maxDigits]byte
	h      uint64
}

type background struct {
	once sync.Once
	jobs chan parseJob
	done chan struct{}
	wg   sync.WaitGroup
}

const parseQueue = 4096

func (r *Resolver) startBackground() {
	r.bg.once.Do(func() {
		r.bg.jobs = make(chan parseJob, parseQueue)
		r.bg.done = make(chan struct{})
		r.bg.wg.Add(1)
		go func() {
			defer r.bg.wg.Done()
			for {
				select {
				case <-r.bg.done:
					return
				case j := <-r.bg.jobs:
					digits := j.digits[:j.n]
					if c, ok := r.cache.Get(j.h); ok && c.digits == string(digits) && c.mode == j.mode {
						continue // queued more than once before the first parse landed
					}
					s := string(digits)
					info := r.resolve(j.mode, s)
					c := &cached{mode: j.mode, digits: s, info: info}
					if !r.cache.Set(j.h, c, 1) {
						r.cache.Wait() // ristretto drops sets when its buffer is full
						r.cache.Set(j.h, c, 1)
					}
				}
			}
		}()
	})
}

func (r *Resolver) stopBackground() {
	if r.bg.done != nil {
		select {
		case <-r.bg.done:
		default:
			close(r.bg.done)
		}
		r.bg.wg.Wait()
	}
}

// LookupQuick is Lookup for the hot path. A number the E.164 table decides
// (most international ones) or a cached number is answered in full
// (complete true). Otherwise it returns at once: for international
// numbers the calling code and the main region of that code (for national
// ones the default region's), Valid false and Type Unknown, complete false;
// the number is queued for a background parse that fills the cache (a full
// queue drops the job: a later message queues it again).
func (r *Resolver) LookupQuick(ton, npi byte, addr []byte) (info Info, complete bool) {
	mode, digits, err := normalize(ton, addr)
	if err != nil {
		return Info{}, true
	}
	if r.fromTable(mode, digits, &info) {
		return info, true
	}
	if r.nocache || r.cache == nil {
		return r.resolve(mode, string(digits)), true
	}
	h := hashDigits(r, mode, digits)
	if c, ok := r.cache.Get(h); ok && c.mode == mode && c.digits == string(digits) {
		return c.info, true
	}
	r.startBackground()
	j := parseJob{mode: mode, n: uint8(len(digits)), h: h}
	copy(j.digits[:], digits)
	select {
	case r.bg.jobs <- j:
	default:
	}
	return quickInfo(r, mode, digits), false
}

// quickInfo derives the calling code and region from the digits alone.
func quickInfo(r *Resolver, mode uint8, digits []byte) Info {
	if mode == modeNational || (mode == modeUnknown && digits[0] == '0') {
		if r.region == "" {
			return Info{}
		}
		return Info{CountryCode: phonenumbers.GetCountryCodeForRegion(r.region), Region: r.region}
	}
	cc := 0
	for i := 0; i < 3 && i < len(digits); i++ {
		cc = cc*10 + int(digits[i]-'0')
		if region := phonenumbers.GetRegionCodeForCountryCode(cc); region != "" && region != "ZZ" {
			if region == "001" { // non-geographic (+800, +882, ...)
				region = ""
			}
			return Info{CountryCode: cc, Region: region}
		}
	}
	return Info{}
}
