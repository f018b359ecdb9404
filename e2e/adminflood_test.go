package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsfw/smsfw/esme"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// BenchmarkAdminLoginFlood measures the bcrypt denial of service on the
// admin address: 32 clients send wrong basic-auth logins, each from a new
// loopback address (127.1.x.y), so the per-source lockout never stops them
// and only the bound on concurrent bcrypt checks protects the relay. It
// reports a good session's submit_sm round trip (one in flight) at the
// median, quiet and under the flood in the same run, their ratio (target
// >= 0.8; before the bound, 0.63 ms became 471 ms) and the password checks
// run per second.
func BenchmarkAdminLoginFlood(b *testing.B) {
	for i := 0; i < b.N; i++ {
		n := newHostileNode(b)
		good := n.dial("good", esme.Options{})
		roundTrips(b, good, 1000) // warm-up
		quiet := roundTrips(b, good, 20000)
		var stop atomic.Bool
		var checked, busy atomic.Int64
		var wg sync.WaitGroup
		var next atomic.Int64
		for c := 0; c < 32; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					k := next.Add(1)
					src := net.IPv4(127, 1, byte(k>>8), byte(k))
					tr := &http.Transport{DisableKeepAlives: true,
						DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}).DialContext}
					req, _ := http.NewRequest(http.MethodGet, "http://"+n.app.AdminAddr()+"/api/v1/events", nil)
					req.SetBasicAuth("analyst", fmt.Sprintf("guess-%d", k))
					resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
					if err != nil {
						time.Sleep(10 * time.Millisecond) // cannot dial from this address here: do not spin
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch resp.StatusCode {
					case http.StatusUnauthorized:
						checked.Add(1)
					case http.StatusServiceUnavailable:
						busy.Add(1)
					}
				}
			}()
		}
		time.Sleep(time.Second) // let the flood build up: a duration, not synchronisation
		start := time.Now()
		attacked := roundTrips(b, good, 20000)
		elapsed := time.Since(start)
		c0 := checked.Load()
		stop.Store(true)
		wg.Wait()
		if c0 == 0 {
			b.Fatal("no password was checked: the flood did not run")
		}
		b.ReportMetric(float64(quiet)/1e3, "quiet_p50_us")
		b.ReportMetric(float64(attacked)/1e3, "attacked_p50_us")
		b.ReportMetric(float64(quiet)/float64(attacked), "ratio")
		b.ReportMetric(float64(c0)/(elapsed+time.Second).Seconds(), "checks/s")
		b.ReportMetric(float64(busy.Load()), "busy_503")
	}
}

// roundTrips sends count submit_sm one at a time and returns the median
// round trip.
func roundTrips(b *testing.B, cl *esme.Client, count int) time.Duration {
	b.Helper()
	ds := make([]time.Duration, 0, count)
	done := make(chan struct{}, 1)
	for i := 0; i < count; i++ {
		raw := pdu.AppendSM(nil, pdu.SubmitSM, 0, &pdu.SMFields{SrcTON: 5, Src: "GoodBank", DstTON: 1,
			Dst: fmt.Sprintf("49151%08d", i), ShortMessage: []byte("Your code is 123456")})
		start := time.Now()
		if _, err := cl.Send(raw, func(r esme.Resp) {
			if r.Err != nil || r.Status != 0 {
				b.Errorf("good message refused: %v %v", r.Status, r.Err)
			}
			done <- struct{}{}
		}); err != nil {
			b.Fatal(err)
		}
		<-done
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}
