package classify_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/classify"
	"github.com/smsfw/smsfw/filter/filtertest"
	"github.com/smsfw/smsfw/filter/lists"
)

// t0 is aligned to the minute, so window buckets start exactly on it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

// msg builds MT facts the way the pipeline does for the fields the
// classifier reads.
func msg(kind, sender, dest, text string) *filter.Facts {
	f := &filter.Facts{Direction: "mt", Peer: "acme", Sender: sender, SenderKind: kind, Dest: dest,
		Segments: 1, DestCount: 1}
	return filtertest.SetText(f, text)
}

func newDetector(cfg classify.Config) *classify.Detector {
	cfg = cfg.Defaults()
	return classify.New(cfg, classify.NewState(cfg.Window, testBytes))
}

func TestDefaults(t *testing.T) {
	got := classify.Config{}.Defaults()
	want := classify.Config{FanoutRecipients: 20, SenderVelocity: 60, Window: 10 * time.Minute}
	if got != want {
		t.Fatalf("Defaults() = %+v, want %+v", got, want)
	}
	keep := classify.Config{FanoutRecipients: 3, SenderVelocity: 4, Window: time.Second}
	if got := keep.Defaults(); got != keep {
		t.Fatalf("Defaults() changed set values: %+v", got)
	}
}

func TestName(t *testing.T) {
	if n := newDetector(classify.Config{}).Name(); n != "classification" {
		t.Fatalf("Name() = %q", n)
	}
}

// One message each: the reason bits and the class they lead to.
func TestReasons(t *testing.T) {
	const (
		a2p = filter.ClassA2P
		p2p = filter.ClassP2P
	)
	for _, tc := range []struct {
		name    string
		f       *filter.Facts
		class   string
		reasons uint32
	}{
		{"alphanumeric OTP", msg(filter.KindAlphanumeric, "MyBank", "4915112345678", "Your code is 123456"),
			a2p, filter.ReasonAlphaSender | filter.ReasonBusinessText},
		{"short code", msg(filter.KindShortCode, "12345", "4915112345678", "Reply STOP to end"),
			a2p, filter.ReasonShortCode | filter.ReasonBusinessText},
		{"binary coding", func() *filter.Facts {
			f := msg(filter.KindNumber, "4915100000001", "4915112345678", "")
			f.Binary = true
			return f
		}(), a2p, filter.ReasonBinaryCoding},
		{"submit_multi", func() *filter.Facts {
			f := msg(filter.KindNumber, "4915100000002", "4915112345678", "see you at 8")
			f.DestCount = 5
			return f
		}(), a2p, filter.ReasonMultiDest},
		{"P2P chat", msg(filter.KindNumber, "4915100000003", "4915112345678", "Hi mum, running late, see you at 8"),
			p2p, filter.ReasonConsumerProfile},
		{"P2P with a link (URL alone is weak)", msg(filter.KindNumber, "4915100000004", "4915112345678", "look at this example.com/cat.jpg"),
			p2p, filter.ReasonURL | filter.ReasonConsumerProfile},
		{"alphanumeric with a link", msg(filter.KindAlphanumeric, "Shop", "4915112345678", "Sale! shop.example.com"),
			a2p, filter.ReasonAlphaSender | filter.ReasonURL},
		{"empty sender, empty text", msg(filter.KindEmpty, "", "4915112345678", ""),
			p2p, filter.ReasonConsumerProfile},
		{"everything strong at once", func() *filter.Facts {
			f := msg(filter.KindShortCode, "12345", "4915112345678", "")
			f.Binary, f.DestCount = true, 2
			return f
		}(), a2p, filter.ReasonShortCode | filter.ReasonBinaryCoding | filter.ReasonMultiDest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(classify.Config{})
			var det filter.Detections
			d.Detect(tc.f, &det, t0)
			if tc.f.Class != tc.class || tc.f.ClassReasons != tc.reasons {
				t.Fatalf("class %s %v, want %s %v", tc.f.Class, filter.ReasonNames(tc.f.ClassReasons),
					tc.class, filter.ReasonNames(tc.reasons))
			}
			// Its one finding is the business text kind, with the reason.
			if (det.Text(classify.Business) != "") != (tc.reasons&filter.ReasonBusinessText != 0) {
				t.Fatalf("business_text %q with reasons %v", det.Text(classify.Business), filter.ReasonNames(tc.reasons))
			}
			det.SetText(classify.Business, "")
			if det != (filter.Detections{}) {
				t.Fatalf("classifier wrote other detections: %+v", det)
			}
		})
	}
}

func TestMO(t *testing.T) {
	d := newDetector(classify.Config{})
	for _, tc := range []struct {
		receipt bool
		class   string
	}{{false, filter.ClassMO}, {true, filter.ClassReceipt}} {
		// Strong A2P signals do not matter for MO: the class is the direction.
		f := msg(filter.KindAlphanumeric, "MyBank", "12345", "id:1 stat:DELIVRD")
		f.Direction, f.Receipt, f.Binary = "mo", tc.receipt, true
		var det filter.Detections
		d.Detect(f, &det, t0)
		if f.Class != tc.class || f.ClassReasons != 0 {
			t.Errorf("receipt=%v: class %q reasons %v", tc.receipt, f.Class, filter.ReasonNames(f.ClassReasons))
		}
	}
}

// One template with a link or a code to more than FanoutRecipients distinct
// recipients is A2P, even from a phone number; exactly FanoutRecipients is
// not. A plain phrase stays P2P however far it goes ("Happy New Year").
func TestTemplateFanout(t *testing.T) {
	const n = 5
	d := newDetector(classify.Config{FanoutRecipients: n})
	now := t0
	send := func(i, dest int) *filter.Facts {
		// A different sender each time keeps sender velocity out of it;
		// the codes differ, the fingerprint does not.
		f := msg(filter.KindNumber, fmt.Sprintf("49151000%05d", i), fmt.Sprintf("49170000%05d", dest),
			fmt.Sprintf("Deals of the week %d at shop-deals.com/w", 100000+i))
		d.Detect(f, &filter.Detections{}, now)
		return f
	}
	for i := 1; i <= n; i++ {
		if f := send(i, i); f.Class != filter.ClassP2P || f.ClassReasons&filter.ReasonTemplateFanout != 0 {
			t.Fatalf("recipient %d of %d: class %s %v", i, n, f.Class, filter.ReasonNames(f.ClassReasons))
		}
	}
	// Repeating a recipient does not count.
	if f := send(99, 1); f.ClassReasons&filter.ReasonTemplateFanout != 0 {
		t.Fatal("a repeated recipient counted")
	}
	f := send(100, n+1)
	if f.Class != filter.ClassA2P || f.ClassReasons&filter.ReasonTemplateFanout == 0 {
		t.Fatalf("recipient %d: class %s %v", n+1, f.Class, filter.ReasonNames(f.ClassReasons))
	}
	if f.ClassReasons&filter.ReasonConsumerProfile != 0 {
		t.Fatal("consumer_profile set on A2P")
	}
	// Another template is counted on its own.
	other := msg(filter.KindNumber, "4915199999999", "4917000000001", "Hi mum, running late, see you at 8")
	d.Detect(other, &filter.Detections{}, now)
	if other.Class != filter.ClassP2P {
		t.Fatalf("unrelated text: %s %v", other.Class, filter.ReasonNames(other.ClassReasons))
	}
	// The recipient set is a tumbling window from its first recipient:
	// one nanosecond before it ends the set is still there, at the end it
	// restarts.
	now = t0 + int64(10*time.Minute) - 1
	if f := send(200, 200); f.ClassReasons&filter.ReasonTemplateFanout == 0 {
		t.Fatal("window ended early")
	}
	now = t0 + int64(10*time.Minute)
	if f := send(201, 201); f.Class != filter.ClassP2P {
		t.Fatalf("after the window: %s %v", f.Class, filter.ReasonNames(f.ClassReasons))
	}
}

// A numeric sender sending more than SenderVelocity segments in the window
// is beyond a consumer; segments count, not messages.
func TestSenderVelocity(t *testing.T) {
	const limit = 6
	d := newDetector(classify.Config{SenderVelocity: limit, Window: 10 * time.Minute})
	const sender = "4915100000001"
	now := t0
	send := func(i, segs int) *filter.Facts {
		// A new text and recipient each time keeps template fan-out out of it.
		f := msg(filter.KindNumber, sender, fmt.Sprintf("49170000%05d", i), fmt.Sprintf("message number %c%c", 'a'+i%26, 'a'+i/26))
		f.Segments = segs
		d.Detect(f, &filter.Detections{}, now)
		return f
	}
	// 2 + 2 + 2 = 6 segments: at the limit, still a consumer.
	for i := 0; i < 3; i++ {
		if f := send(i, 2); f.Class != filter.ClassP2P {
			t.Fatalf("message %d: %s %v", i, f.Class, filter.ReasonNames(f.ClassReasons))
		}
	}
	f := send(3, 1) // 7 > 6
	if f.Class != filter.ClassA2P || f.ClassReasons != filter.ReasonSenderVelocity {
		t.Fatalf("over the limit: %s %v", f.Class, filter.ReasonNames(f.ClassReasons))
	}
	// Other senders are not affected.
	other := msg(filter.KindNumber, "4915100000002", "4917000000001", "hello there")
	d.Detect(other, &filter.Detections{}, now)
	if other.Class != filter.ClassP2P {
		t.Fatal("another sender inherited the count")
	}
	// Alphanumeric senders are not counted by sender velocity.
	for i := 0; i < 2*limit; i++ {
		a := msg(filter.KindAlphanumeric, "Shop", fmt.Sprintf("49170000%05d", i), fmt.Sprintf("offer %c", 'a'+i))
		d.Detect(a, &filter.Detections{}, now)
		if a.ClassReasons&filter.ReasonSenderVelocity != 0 {
			t.Fatal("alphanumeric sender counted for sender velocity")
		}
	}
	// The window slides in buckets of a minute: the burst at t0 still
	// counts one nanosecond before the window ends, and not at its end.
	now = t0 + int64(10*time.Minute) - 1
	if f := send(10, 1); f.ClassReasons&filter.ReasonSenderVelocity == 0 {
		t.Fatal("count dropped before the window ended")
	}
	now = t0 + int64(10*time.Minute)
	// Only the message at the last nanosecond is still in the window: 1 + 6.
	if f := send(11, 5); f.Class != filter.ClassP2P {
		t.Fatalf("after the window: %s %v", f.Class, filter.ReasonNames(f.ClassReasons))
	}
	if f := send(12, 1); f.ClassReasons != filter.ReasonSenderVelocity {
		t.Fatalf("restarted count: %v", filter.ReasonNames(f.ClassReasons))
	}
}

func TestReuse(t *testing.T) {
	cfg := classify.Config{FanoutRecipients: 2, Window: time.Minute}.Defaults()
	st := classify.Reuse(nil, cfg, testBytes)
	if st == nil {
		t.Fatal("Reuse(nil) = nil")
	}
	// A new threshold with the same window keeps the state and its counts.
	cfg2 := cfg
	cfg2.FanoutRecipients = 3
	cfg2.SenderVelocity = 1000
	if got := classify.Reuse(st, cfg2, testBytes); got != st {
		t.Fatal("same window: state not reused")
	}
	text := "Your parcel is waiting, track it now"
	d1 := classify.New(cfg, st)
	for i := 0; i < 3; i++ {
		d1.Detect(msg(filter.KindNumber, fmt.Sprintf("4915100%06d", i), fmt.Sprintf("4917000%06d", i), text), &filter.Detections{}, t0)
	}
	d2 := classify.New(cfg2, classify.Reuse(st, cfg2, testBytes))
	f := msg(filter.KindNumber, "4915100999999", "4917000999999", text)
	d2.Detect(f, &filter.Detections{}, t0)
	if f.ClassReasons&filter.ReasonTemplateFanout == 0 {
		t.Fatal("counts lost across the reload (4 recipients > 3)")
	}
	// A new window means new counters.
	cfg3 := cfg2
	cfg3.Window = 2 * time.Minute
	st3 := classify.Reuse(st, cfg3, testBytes)
	if st3 == st {
		t.Fatal("window changed: state reused")
	}
	if classify.Reuse(st3, cfg3, 2*testBytes) == st3 {
		t.Fatal("memory budget changed: state reused")
	}
	d3 := classify.New(cfg3, st3)
	f = msg(filter.KindNumber, "4915100888888", "4917000888888", text)
	d3.Detect(f, &filter.Detections{}, t0)
	if f.Class != filter.ClassP2P {
		t.Fatalf("fresh state: %s %v", f.Class, filter.ReasonNames(f.ClassReasons))
	}
}

func TestReasonNames(t *testing.T) {
	got := filter.ReasonNames(filter.ReasonAlphaSender | filter.ReasonURL | filter.ReasonConsumerProfile)
	want := []string{"alphanumeric_sender", "contains_url", "consumer_profile"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReasonNames = %v", got)
	}
}

func TestConcurrent(t *testing.T) {
	d := newDetector(classify.Config{FanoutRecipients: 1000, SenderVelocity: 1000})
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				f := msg(filter.KindNumber, "4915100000001", fmt.Sprintf("49170000%05d", i), "same text for everyone here")
				d.Detect(f, &filter.Detections{}, t0)
				if f.Class != filter.ClassP2P {
					t.Errorf("class %s", f.Class)
					return
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
}

// testBytes is the counters' memory budget in tests: room for thousands of
// keys.
const testBytes = 4 << 20

func TestCommonPhraseStaysP2P(t *testing.T) {
	d := newDetector(classify.Config{FanoutRecipients: 5})
	for i := 0; i < 50; i++ {
		f := msg(filter.KindNumber, fmt.Sprintf("49151000%05d", i), fmt.Sprintf("49170000%05d", i), "Happy New Year! 🎉")
		d.Detect(f, &filter.Detections{}, t0)
		if f.Class != filter.ClassP2P {
			t.Fatalf("message %d: %s %v", i, f.Class, filter.ReasonNames(f.ClassReasons))
		}
	}
}

// Business texts are A2P on first sight, in any language, from any sender.
func TestBusinessText(t *testing.T) {
	for _, tc := range []struct{ text, kind string }{
		{"Your code is 482913. Do not share it.", classify.BusinessOTP},
		{"Ваш код PayPal: 527071. Никому его не сообщайте.", classify.BusinessOTP},
		{"Tu código de PayPal es 188130. No lo compartas.", classify.BusinessOTP},
		{"您的验证码是 482913，请勿泄露", classify.BusinessOTP},
		{"DHL OTP 863146 है। इसे किसी के साथ साझा न करें।", classify.BusinessOTP},
		{"20% off everything this weekend! Reply STOP to opt out", classify.BusinessMarketing},
		{"Sommer-Sale: 30% auf alles. Abmelden: SMS STOP an 72524", classify.BusinessMarketing},
		{"DHL: Your parcel JJD840436816651 will be delivered today. Track: https://www.dhl.com/t", classify.BusinessNotification},
		{"Ihre Bestellung 12345 ist unterwegs, Zustellung morgen", classify.BusinessNotification},
		// Not business: chat, a single notice word, a code word without a code.
		{"Hochzeitsfotos sind online, Passwort bekommt ihr von Jana", ""},
		{"Did you get the parcel?", ""},
		{"Kids are asleep finally. Wine at 9:15?", ""},
		{"the meeting moved to 3pm, same room", ""},
	} {
		f := msg(filter.KindNumber, "4915100000001", "4917000000001", tc.text)
		var det filter.Detections
		newDetector(classify.Config{}).Detect(f, &det, t0)
		if got := det.Text(classify.Business); got != tc.kind {
			t.Errorf("%q: business %q, want %q", tc.text, got, tc.kind)
		}
		if (f.Class == filter.ClassA2P) != (tc.kind != "") {
			t.Errorf("%q: class %s", tc.text, f.Class)
		}
	}
}

// A text labelled with a brand ("PayPal: ...") is business, from any
// sender; the brand elsewhere in the text, or an unknown label, is not.
func TestBrandLabel(t *testing.T) {
	d := newDetector(classify.Config{}).WithBrands([]string{"PayPal", "Deutsche Bahn", "Telegram"})
	for _, tc := range []struct {
		text string
		a2p  bool
	}{
		{"PayPal: New sign-in to your account from Chrome on Windows.", true},
		{"paypal : Sie haben EUR 119.86 erhalten", true},
		{"Deutsche Bahn: Ihr Zug fällt aus", true},
		{"【Telegram】验证码已发送", true},
		{"[Telegram] new login", true},
		{"I paid you on PayPal: check it", false},
		{"Mum: call me", false},
		{"PayPalX: hello", false},
	} {
		f := msg(filter.KindNumber, "4915100000001", "4917000000001", tc.text)
		d.Detect(f, &filter.Detections{}, t0)
		if (f.Class == filter.ClassA2P) != tc.a2p {
			t.Errorf("%q: class %s %v", tc.text, f.Class, filter.ReasonNames(f.ClassReasons))
		}
	}
}

// With home_prefixes, an MO says whether it came from a home subscriber.
func TestMOOrigin(t *testing.T) {
	home, err := lists.Compile("home", lists.Prefixes, []string{"49151", "49160"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &classify.Config{HomePrefixes: "home"}
	cfg.Check(&filter.SettingsCheck{Section: "detectors.classification", Lists: lists.Set{"home": home},
		Report: func(k, m string) { t.Fatalf("%s: %s", k, m) }})
	d := classify.New(*cfg, classify.NewState(cfg.Window, testBytes))
	for _, tc := range []struct{ sender, origin string }{
		{"4915112345678", classify.OriginHome},
		{"4916012345678", classify.OriginHome},
		{"447700900123", classify.OriginForeign},
	} {
		f := &filter.Facts{Direction: "mo", Sender: tc.sender, SenderKind: filter.KindNumber, Dest: "12345", Segments: 1}
		var det filter.Detections
		d.Detect(f, &det, t0)
		if f.Class != filter.ClassMO || det.Text(classify.Origin) != tc.origin {
			t.Errorf("%s: class %s origin %q, want %q", tc.sender, f.Class, det.Text(classify.Origin), tc.origin)
		}
	}
	// Without the list: no origin.
	var det filter.Detections
	newDetector(classify.Config{}).Detect(&filter.Facts{Direction: "mo", Sender: "4915112345678"}, &det, t0)
	if det.Text(classify.Origin) != "" {
		t.Fatal("origin without home_prefixes")
	}
}
