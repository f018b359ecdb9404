// Command gen writes smsfw's labelled evaluation corpora (see
// docs/evaluation.md): bench/corpus/tuning.jsonl, heldout.jsonl (another
// seed, partly other phrases, brands, domains and lures, other burst times:
// never tune on it), sample.jsonl (a small mix for CI) and operator.yaml
// (what the operator knows: registered senders per aggregator, protected
// brands and their domains, high-cost ranges, short codes).
//
//	go run ./bench/corpus/gen            # write the files
//	go run ./bench/corpus/gen -check     # exit 1 when the files differ from what it writes
//
// The output is deterministic: the same program writes the same bytes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/smsfw/smsfw/bench/corpus"
)

// A variant is one corpus: its seed, its size and its pools.
type variant struct {
	file    string
	seed    uint64
	scale   float64
	heldout bool
	// compressTime scales the timeline with the counts, so a small corpus
	// keeps the full one's message density: counting detectors (campaigns,
	// farms, pumping) then see in their windows what they would see in real
	// traffic, not a seventeenth of it.
	compressTime bool
	// Minutes from the start of the bursts.
	newYear, tvVote, promo, marketing float64
}

var variants = []variant{
	{file: "tuning.jsonl", seed: 1, scale: 1, newYear: 45, tvVote: 70, promo: 95, marketing: 20},
	{file: "heldout.jsonl", seed: 2, scale: 1, heldout: true, newYear: 75, tvVote: 30, promo: 50, marketing: 88},
	{file: "sample.jsonl", seed: 3, scale: 0.2, compressTime: true, newYear: 45, tvVote: 70, promo: 95, marketing: 20},
}

// span is how long each corpus lasts.
const span = 2 * 60 * 60 * 1000 // ms

func main() {
	out := flag.String("out", "bench/corpus", "directory to write to")
	check := flag.Bool("check", false, "compare with the files in -out instead of writing them")
	flag.Parse()
	files := map[string][]byte{"operator.yaml": operatorFragment()}
	for _, v := range variants {
		var buf bytes.Buffer
		msgs := generate(v)
		if err := corpus.Write(&buf, msgs); err != nil {
			fail(err)
		}
		files[v.file] = buf.Bytes()
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	differ := false
	for _, n := range names {
		path := filepath.Join(*out, n)
		if *check {
			old, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(old, files[n]) {
				fmt.Fprintf(os.Stderr, "%s differs from what gen writes (go run ./bench/corpus/gen)\n", path)
				differ = true
			}
			continue
		}
		if err := os.WriteFile(path, files[n], 0o644); err != nil {
			fail(err)
		}
		fmt.Printf("%s: %d bytes\n", path, len(files[n]))
	}
	if differ {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}

// gen builds one corpus.
type gen struct {
	v   variant
	rng *rand.Rand
	out []corpus.Message

	common, newYear, groups, smallBiz, luresNoLink, luresLink, domainWords, tlds, lookalikes []string
	brands                                                                                   []brand
	people                                                                                   []person
	used                                                                                     map[string]bool // numbers taken by one role
	stops                                                                                    []stop          // marketing recipients who opt out
}

// person is a subscriber who chats: a number, a language, contacts.
type person struct {
	number   string
	lang     *lang
	contacts []string
}

func pool[T any](v variant, shared, tuning, heldout []T) []T {
	if v.heldout {
		return slices.Concat(shared, heldout)
	}
	return slices.Concat(shared, tuning)
}

func generate(v variant) []corpus.Message {
	g := &gen{v: v, rng: rand.New(rand.NewPCG(v.seed, 0x5eed50f7)), used: map[string]bool{}}
	g.common = pool(v, commonShared, commonTuning, commonHeldout)
	g.newYear = pool(v, newYearShared, newYearTuning, newYearHeldout)
	g.groups = pool(v, groupShared, groupTuning, groupHeldout)
	g.brands = pool(v, brandsShared, brandsTuning, brandsHeldout)
	g.smallBiz = pool(v, smallBizShared, smallBizTuning, smallBizHeldout)
	g.luresNoLink = pool(v, luresNoLinkShared, luresNoLinkTuning, luresNoLinkHeldout)
	g.luresLink = pool(v, luresLinkShared, luresLinkTuning, luresLinkHeldout)
	g.domainWords = pool(v, domainWordsShared, domainWordsTuning, domainWordsHeldout)
	g.tlds = pool(v, tldsShared, tldsTuning, tldsHeldout)
	g.lookalikes = lookalikesTuning
	if v.heldout {
		g.lookalikes = lookalikesHeldout
	}
	g.population(g.n(2500))

	// Legitimate traffic.
	g.chat(g.n(6000))
	g.links(g.n(300))
	g.commonPhrases(g.n(3000))
	g.newYearBurst(g.n(3500))
	g.groupChats(g.n(1200))
	g.otp(g.n(2500))
	g.notifications(g.n(1500))
	g.reminders(g.n(400))
	g.marketingCampaign(g.n(1050), g.n(150))
	g.tvVote(g.n(1500))
	g.keywordBurst(g.n(800))
	g.stopOptOuts(g.n(300))
	// Fraud.
	g.greyNumeric(g.n(800))
	g.greyAlnum(g.n(200))
	g.snowshoe(g.n(500), true)
	g.snowshoe(g.n(400), false)
	g.simFarmMT(g.n(600))
	g.simFarmMO(g.n(400))
	g.pumping(g.n(500))
	g.spoofing(g.n(150))
	g.lookalikeSenders(g.n(150))
	g.phishing(g.n(300))

	if v.compressTime {
		for i := range g.out {
			g.out[i].OffsetMS = int64(math.Round(float64(g.out[i].OffsetMS) * v.scale))
		}
	}
	sort.SliceStable(g.out, func(i, j int) bool { return g.out[i].OffsetMS < g.out[j].OffsetMS })
	for i := range g.out {
		if err := g.out[i].Check(); err != nil {
			fail(fmt.Errorf("%s: message %d (%s): %w", v.file, i, g.out[i].Scenario, err))
		}
	}
	return g.out
}

// n scales a count.
func (g *gen) n(base int) int { return max(1, int(math.Round(float64(base)*g.v.scale))) }

func pick[T any](g *gen, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// zipf picks an index in [0, n) with weights 1/(i+1).
func (g *gen) zipf(n int) int {
	total := 0.0
	for i := range n {
		total += 1 / float64(i+1)
	}
	x := g.rng.Float64() * total
	for i := range n {
		x -= 1 / float64(i+1)
		if x <= 0 {
			return i
		}
	}
	return n - 1
}

func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.rng.IntN(10))
	}
	return string(b)
}

// number is a fresh mobile number of country cc, unused by other roles.
func (g *gen) number(cc string) string {
	c := countries[cc]
	for {
		n := c.code + pick(g, c.prefixes) + g.digits(c.digits)
		if !g.used[n] {
			g.used[n] = true
			return n
		}
	}
}

// home is a subscriber of the home network (Germany).
func (g *gen) home() string { return g.number("DE") }

// at is a uniform time in [from, to) minutes, in ms.
func (g *gen) at(from, to float64) int64 {
	return int64((from + g.rng.Float64()*(to-from)) * 60000)
}

// minute is a uniform time in [from, to) minutes.
func (g *gen) minute(from, to float64) float64 { return from + g.rng.Float64()*(to-from) }

// around is a time near center (minutes) with standard deviation sd, inside the span.
func (g *gen) around(center, sd float64) int64 {
	t := int64((center + g.rng.NormFloat64()*sd) * 60000)
	return min(max(t, 0), span-1)
}

func (g *gen) fill(tmpl string, kv ...string) string {
	r := strings.NewReplacer(kv...)
	return r.Replace(tmpl)
}

// common slot values.
func (g *gen) slots() []string {
	return []string{
		"{time}", fmt.Sprintf("%d:%02d", 7+g.rng.IntN(15), []int{0, 15, 30, 45}[g.rng.IntN(4)]),
		"{n}", fmt.Sprint(2 + g.rng.IntN(25)),
		"{code}", g.digits(6),
		"{id}", "JJD" + g.digits(12),
		"{amount}", fmt.Sprintf("%d.%02d", 5+g.rng.IntN(400), g.rng.IntN(100)),
		"{day}", pick(g, []string{"tomorrow", "Friday", "on Monday", "today", "morgen", "Samstag"}),
		"{phone}", "+" + g.number(pick(g, []string{"GB", "NG", "FR", "ES"})),
	}
}

func (g *gen) add(dir, peer, class, sender, dest, text string, at int64, label, scenario string) {
	ton, npi := 1, 1
	switch {
	case !isDigits(sender):
		ton, npi = 5, 0
	case len(sender) <= 6:
		ton, npi = 3, 0
	}
	g.out = append(g.out, corpus.Message{Direction: dir, Peer: peer, PeerClass: peerClass[peer], Sender: sender, SenderTON: ton,
		SenderNPI: npi, Dest: dest, Text: text, DataCoding: corpus.DataCodingFor(text), OffsetMS: at, Label: label,
		Scenario: scenario})
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// The peers: registered A2P aggregators and brand gateways, P2P
// interconnects (ic-budget is a cheap partner that also carries grey
// routes), an international hub, an unregistered aggregator and the TV
// vote's receiver.
var peerClass = map[string]string{
	"agg-alpha": "a2p", "agg-beta": "a2p", "agg-gamma": "a2p", "paypal-gw": "a2p", "dhl-gw": "a2p", "bank-gw": "enterprise",
	"ic-eu": "p2p", "ic-asia": "p2p", "ic-mena": "p2p", "ic-budget": "p2p", "hub-intl": "interconnect",
	"agg-cheap": "a2p", "tv-votes": "a2p",
}

// p2pPeer is the interconnect a chat message in language l arrives on.
func (g *gen) p2pPeer(l *lang) string {
	switch r := g.rng.Float64(); {
	case r < 0.08:
		return "ic-budget"
	case r < 0.2:
		return "hub-intl"
	}
	switch l.code {
	case "ru", "ar":
		return "ic-mena"
	case "zh", "hi":
		return "ic-asia"
	}
	return "ic-eu"
}

func (g *gen) population(n int) {
	for range n {
		l := &langs[g.zipf(len(langs))]
		p := person{number: g.number(pick(g, l.countries)), lang: l}
		for range 3 + g.rng.IntN(6) {
			p.contacts = append(p.contacts, g.home())
		}
		g.people = append(g.people, p)
	}
}

func (g *gen) someone() *person { return &g.people[g.rng.IntN(len(g.people))] }

func (g *gen) emoji(text string, p float64) string {
	if g.rng.Float64() < p {
		return text + " " + pick(g, emojis)
	}
	return text
}

// chat: person-to-person conversation, each text composed anew.
func (g *gen) chat(n int) {
	for range n {
		p := g.someone()
		l := p.lang
		text := g.fill(pick(g, l.templates), append(g.slots(), "{name}", pick(g, l.names), "{place}", pick(g, l.places),
			"{thing}", pick(g, l.things), "{day}", pick(g, l.days))...)
		g.add(corpus.MT, g.p2pPeer(l), "", p.number, pick(g, p.contacts), g.emoji(text, 0.15), g.at(0, 120), corpus.Legit, "p2p-chat")
	}
}

// links: friends sharing links to sites nobody vetted.
func (g *gen) links(n int) {
	sites := []string{"https://www.youtube.com/watch?v=%s", "https://maps.app.goo.gl/%s", "https://www.instagram.com/p/%s/",
		"https://www.kleinanzeigen.de/s-anzeige/%s", "https://www.spiegel.de/panorama/a-%s", "https://open.spotify.com/track/%s",
		"https://www.chefkoch.de/rezepte/%s", "https://photos.app.goo.gl/%s"}
	intros := []string{"look at this", "schau mal", "regarde ça", "mira esto", "haha", "for Saturday:", "the place I told you about",
		"Rezept für morgen", "смотри", "看看这个"}
	for range n {
		p := g.someone()
		url := fmt.Sprintf(pick(g, sites), g.token(11))
		text := pick(g, intros) + " " + url
		if g.rng.IntN(3) == 0 {
			text = url
		}
		g.add(corpus.MT, g.p2pPeer(p.lang), "", p.number, pick(g, p.contacts), text, g.at(0, 120), corpus.Legit, "p2p-links")
	}
}

func (g *gen) token(n int) string {
	const abc = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = abc[g.rng.IntN(len(abc))]
	}
	return string(b)
}

// commonPhrases: the same short texts from many different people. Phrases
// are Zipf-distributed (a few are very common) and each has its own peak.
func (g *gen) commonPhrases(n int) {
	peaks := make([]float64, len(g.common))
	for i := range peaks {
		peaks[i] = 10 + g.rng.Float64()*100
	}
	for range n {
		i := g.zipf(len(g.common))
		p := g.someone()
		var at int64
		if g.rng.IntN(2) == 0 {
			at = g.around(peaks[i], 8)
		} else {
			at = g.at(0, 120)
		}
		g.add(corpus.MT, g.p2pPeer(p.lang), "", p.number, pick(g, p.contacts), g.common[i], at, corpus.Legit, "common-phrases")
	}
}

// newYearBurst: thousands of people greeting friends around midnight; most
// send one text to a few friends, a few to their whole address book.
func (g *gen) newYearBurst(n int) {
	for sent := 0; sent < n; {
		p := g.someone()
		text := g.newYear[g.zipf(len(g.newYear))]
		if g.rng.IntN(4) == 0 {
			text = g.emoji(text, 1)
		}
		k := 1 + g.rng.IntN(4)
		if g.rng.Float64() < 0.04 {
			k = 20 + g.rng.IntN(25)
		}
		at := g.around(g.v.newYear, 4)
		for j := range min(k, n-sent) {
			dest := pick(g, p.contacts)
			if j >= len(p.contacts) {
				dest = g.home()
			}
			g.add(corpus.MT, g.p2pPeer(p.lang), "", p.number, dest, text, at+int64(j)*int64(1500+g.rng.IntN(4000)), corpus.Legit,
				"new-year-greetings")
			sent++
		}
	}
}

// groupChats: one text to each member of a group, seconds apart.
func (g *gen) groupChats(n int) {
	for sent := 0; sent < n; {
		p := g.someone()
		text := g.fill(pick(g, g.groups), g.slots()...)
		k := min(4+g.rng.IntN(12), n-sent)
		at := g.at(0, 119)
		for j := range k {
			dest := g.home()
			if j < len(p.contacts) {
				dest = p.contacts[j]
			}
			g.add(corpus.MT, g.p2pPeer(p.lang), "", p.number, dest, text, at+int64(j)*int64(300+g.rng.IntN(1500)), corpus.Legit,
				"group-chat")
			sent++
		}
	}
}

// recipient is a destination of A2P traffic: mostly home subscribers.
func (g *gen) recipient() string {
	if g.rng.IntN(8) == 0 {
		return g.number(pick(g, []string{"FR", "GB", "ES", "IT", "PL", "TR", "IN"}))
	}
	if g.rng.IntN(3) == 0 {
		return g.someone().contacts[0]
	}
	return g.home()
}

func (g *gen) otpText(b brand) string {
	t := pick(g, otpTemplates)
	if strings.HasPrefix(t, "G-") && b.sender != "Google" {
		t = otpTemplates[0]
	}
	return g.fill(t, append(g.slots(), "{brand}", b.name)...)
}

// otp: verification codes from many brands through their aggregators.
func (g *gen) otp(n int) {
	for range n {
		b := g.brands[g.zipf(len(g.brands))]
		g.add(corpus.MT, b.peer, "", b.sender, g.recipient(), g.otpText(b), g.at(0, 120), corpus.Legit, "a2p-otp")
	}
}

// notifications: deliveries, account alerts, bookings, some with links to
// the brand's own domain.
func (g *gen) notifications(n int) {
	for range n {
		b := g.brands[g.zipf(len(g.brands))]
		text := g.fill(pick(g, notifyTemplates[b.kind]), append(g.slots(), "{brand}", b.name, "{domain}", b.domain, "{time}", "10:00-12:00")...)
		g.add(corpus.MT, b.peer, "", b.sender, g.recipient(), text, g.at(0, 120), corpus.Legit, "a2p-notifications")
	}
}

// reminders: small businesses (unregistered sender IDs) through the aggregators;
// some recipients answer (mo-replies).
func (g *gen) reminders(n int) {
	for range n {
		s := pick(g, g.smallBiz)
		text := g.fill(pick(g, reminderTemplates), append(g.slots(), "{sender}", s)...)
		dest := g.home()
		at := g.at(0, 110)
		peer := pick(g, []string{"agg-alpha", "agg-beta", "agg-gamma"})
		g.add(corpus.MT, peer, "", s, dest, text, at, corpus.Legit, "a2p-reminders")
		if g.rng.IntN(4) == 0 {
			g.add(corpus.MO, "agg-gamma", "", dest, scService, pick(g, replyTexts), at+int64(20000+g.rng.IntN(600000)), corpus.Legit,
				"mo-replies")
		}
	}
}

// marketingCampaign: three brands' campaigns sent at a few messages a
// second, plus a long-number campaign (a registered business number with a
// link, as US-style 10DLC traffic looks); some recipients opt out later.
func (g *gen) marketingCampaign(n, longNumber int) {
	var bs []brand
	for _, b := range g.brands {
		if b.kind == "shop" || b.kind == "travel" || b.kind == "ride" {
			bs = append(bs, b)
		}
	}
	camp := []brand{pick(g, bs), pick(g, bs), pick(g, bs)}
	for i := range n {
		b := camp[i%len(camp)]
		text := g.fill(pick(g, marketingTemplates), append(g.slots(), "{brand}", b.name, "{domain}", b.domain, "{sc}", scMarket)...)
		at := int64(g.v.marketing*60000) + int64(i)*int64(300+g.rng.IntN(500))
		dest := g.recipient()
		g.add(corpus.MT, b.peer, "", b.sender, dest, text, at, corpus.Legit, "marketing-optout")
		if g.rng.IntN(5) == 0 {
			g.stops = append(g.stops, stop{dest, at})
		}
	}
	sender := "4915799" + g.digits(6)
	for i := range longNumber {
		text := fmt.Sprintf("Stadtfest am Samstag: Programm und Tickets unter https://www.stadtfest-%s.de/programm - Abmelden: STOP", strings.ToLower(g.token(4)))
		if i > 0 {
			text = g.out[len(g.out)-1].Text
		}
		g.add(corpus.MT, "agg-gamma", "", sender, g.home(), text, int64(g.v.marketing*60000)+int64(i)*2000, corpus.Legit, "marketing-longnumber")
	}
}

type stop struct {
	number string
	after  int64
}

// tvVote: thousands of viewers vote by SMS within minutes of the call.
func (g *gen) tvVote(n int) {
	for range n {
		t := g.v.tvVote + 6*math.Pow(g.rng.Float64(), 2)
		g.add(corpus.MO, "tv-votes", "", g.home(), scTV, pick(g, voteTexts), int64(t*60000), corpus.Legit, "tv-vote")
	}
}

// keywordBurst: listeners text a keyword after a radio ad; it decays.
func (g *gen) keywordBurst(n int) {
	for range n {
		t := g.v.promo + g.rng.ExpFloat64()*2
		g.add(corpus.MO, "agg-alpha", "", g.home(), scPromo, pick(g, keywordTexts), min(int64(t*60000), span-1), corpus.Legit,
			"keyword-burst")
	}
}

// stopOptOuts: recipients of the marketing answer STOP (and variants).
func (g *gen) stopOptOuts(n int) {
	for i := range n {
		var who string
		var after int64
		if i < len(g.stops) {
			who, after = g.stops[i].number, g.stops[i].after
		} else {
			who, after = g.home(), int64(g.v.marketing*60000)
		}
		at := min(after+int64(g.rng.ExpFloat64()*8*60000), span-1)
		g.add(corpus.MO, "agg-alpha", "", who, scMarket, pick(g, stopTexts), at, corpus.Legit, "stop-optout")
	}
}

// Fraud.

// greyNumeric: A2P templates (OTPs, notifications) from a SIM box's
// numbers over P2P interconnects.
func (g *gen) greyNumeric(n int) {
	sims := make([]string, 40)
	for i := range sims {
		sims[i] = g.number(pick(g, []string{"NG", "VN", "UA", "IN", "GB"}))
	}
	for range n {
		b := g.brands[g.zipf(len(g.brands))]
		text := g.otpText(b)
		if g.rng.IntN(3) == 0 {
			text = g.fill(pick(g, notifyTemplates[b.kind]), append(g.slots(), "{brand}", b.name, "{domain}", b.domain, "{time}", "10:00-12:00")...)
		}
		peer := "ic-budget"
		if g.rng.IntN(10) < 3 {
			peer = "ic-eu"
		}
		g.add(corpus.MT, peer, "", pick(g, sims), g.recipient(), text, g.at(0, 120), corpus.GreyRoute, "grey-route-numeric")
	}
}

// greyAlnum: A2P with the brand's sender ID, on a P2P interconnect.
func (g *gen) greyAlnum(n int) {
	for range n {
		b := g.brands[g.zipf(len(g.brands))]
		g.add(corpus.MT, pick(g, []string{"ic-budget", "ic-asia"}), "", b.sender, g.recipient(), g.otpText(b), g.at(0, 120),
			corpus.GreyRoute, "grey-route-alnum")
	}
}

// freshDomain looks freshly registered: words, digits, a cheap TLD; a third
// carry a brand name.
func (g *gen) freshDomain() string {
	parts := []string{pick(g, g.domainWords), pick(g, g.domainWords)}
	if g.rng.IntN(3) == 0 {
		parts[0] = strings.ToLower(strings.ReplaceAll(pick(g, g.brands).name, " ", ""))
	}
	d := strings.Join(parts, "-")
	if g.rng.IntN(2) == 0 {
		d += g.digits(2)
	}
	return d + "." + pick(g, g.tlds)
}

func (g *gen) lureURL(domain string) string {
	switch g.rng.IntN(3) {
	case 0:
		return "https://" + domain + "/" + g.token(6)
	case 1:
		return "http://" + domain + "/?id=" + g.digits(8)
	}
	return domain + "/" + strings.ToLower(g.token(5))
}

// snowshoe: spam spread thin over many senders, each sending one to three
// messages, texts rotating, in waves.
func (g *gen) snowshoe(n int, link bool) {
	scenario, lures := "snowshoe-nolink", g.luresNoLink
	if link {
		scenario, lures = "snowshoe-link", g.luresLink
	}
	waves := []float64{g.minute(5, 40), g.minute(50, 80), g.minute(85, 110)}
	domain := g.freshDomain()
	for sent := 0; sent < n; {
		sender := g.number(pick(g, []string{"GB", "FR", "ES", "NG", "PL", "IT"}))
		wave := pick(g, waves)
		peer := pick(g, []string{"ic-budget", "ic-budget", "ic-eu", "hub-intl"})
		for range min(1+g.rng.IntN(3), n-sent) {
			if link && g.rng.IntN(15) == 0 {
				domain = g.freshDomain()
			}
			text := g.fill(pick(g, lures), append(g.slots(), "{url}", g.lureURL(domain))...)
			g.add(corpus.MT, peer, "", sender, g.home(), text, g.around(wave+5, 3), corpus.Fraud, scenario)
			sent++
		}
	}
}

// consecutive returns k consecutive numbers starting at a random base of country cc.
func (g *gen) consecutive(cc string, k int) []string {
	c := countries[cc]
	base := c.code + pick(g, c.prefixes) + g.digits(c.digits-3) + "000"
	var out []string
	first := g.rng.IntN(500)
	for i := range k {
		n := fmt.Sprintf("%s%03d", base[:len(base)-3], first+i)
		g.used[n] = true
		out = append(out, n)
	}
	return out
}

// simFarmMT: racks of SIMs with consecutive numbers, each sending to many
// recipients, texts rotating.
func (g *gen) simFarmMT(n int) {
	farms := []struct {
		cc    string
		start float64
	}{{"GB", g.minute(5, 50)}, {"FR", g.minute(60, 95)}}
	for f, farm := range farms {
		sims := g.consecutive(farm.cc, 40)
		lures := slices.Concat(g.luresNoLink, g.luresLink)
		texts := []string{pick(g, lures), pick(g, lures), pick(g, lures)}
		domain := g.freshDomain()
		count := n / len(farms)
		if f == 0 {
			count += n % len(farms)
		}
		for i := range count {
			text := g.fill(texts[i%len(texts)], append(g.slots(), "{url}", g.lureURL(domain))...)
			at := int64(farm.start*60000) + int64(i)*int64(1000+g.rng.IntN(3000))
			g.add(corpus.MT, pick(g, []string{"ic-eu", "ic-budget"}), "", sims[i%len(sims)], g.home(), text, min(at, span-1),
				corpus.Fraud, "sim-farm-mt")
		}
	}
}

// simFarmMO: consecutive home SIMs voting in the TV vote and entering the
// radio promotion, mixed into the genuine bursts.
func (g *gen) simFarmMO(n int) {
	half := n / 2
	sims := g.consecutive("DE", half)
	for i, s := range sims {
		at := int64((g.v.tvVote+1)*60000) + int64(i)*int64(400+g.rng.IntN(800))
		g.add(corpus.MO, "tv-votes", "", s, scTV, "VOTE 5", at, corpus.Fraud, "sim-farm-mo")
	}
	sims = g.consecutive("DE", n-half)
	for i, s := range sims {
		at := int64((g.v.promo+0.5)*60000) + int64(i)*int64(500+g.rng.IntN(1000))
		g.add(corpus.MO, "agg-alpha", "", s, scPromo, pick(g, []string{"PIZZA", "pizza"}), min(at, span-1), corpus.Fraud, "sim-farm-mo")
	}
}

// highCost are the ranges the operator pays most to terminate in (IRSF).
var highCost = []string{"2693", "23276", "25290", "2222", "23177", "8821"}

// pumping: a brand's OTP endpoint abused to send codes to sequential
// numbers in high-cost ranges, in bursts; the last burst is slow and
// scattered across ranges (no run, below the per-minute threshold).
func (g *gen) pumping(n int) {
	bursts := 4
	per := n / (bursts + 1)
	for bi := range bursts + 1 {
		b := pick(g, g.brands)
		for b.peer == "bank-gw" || b.peer == "paypal-gw" {
			b = pick(g, g.brands)
		}
		start := g.at(5, 110)
		prefix := pick(g, highCost)
		seq := 100000 + g.rng.IntN(800000)
		count := per
		if bi == bursts {
			count = n - per*bursts
		}
		for i := range count {
			var dest string
			at := start + int64(i)*int64(500+g.rng.IntN(2500))
			if bi == bursts { // slow and scattered
				dest = pick(g, highCost) + g.digits(7)
				at = start + int64(i)*int64(4000+g.rng.IntN(4000))
			} else {
				seq += 1 + g.rng.IntN(3)
				dest = fmt.Sprintf("%s%07d", prefix, seq)
			}
			g.add(corpus.MT, b.peer, "", b.sender, dest, g.otpText(b), min(at, span-1), corpus.Fraud, "sms-pumping")
		}
	}
}

// spoofing: protected brands' exact sender IDs from peers not registered for them.
func (g *gen) spoofing(n int) {
	for range n {
		b := pick(g, g.brands)
		text := g.fill(pick(g, g.luresLink), append(g.slots(), "{url}", g.lureURL(g.freshDomain()))...)
		if g.rng.IntN(3) == 0 {
			text = g.otpText(b)
		}
		g.add(corpus.MT, pick(g, []string{"agg-cheap", "agg-cheap", "ic-budget"}), "", b.sender, g.home(), text, g.at(0, 120),
			corpus.Fraud, "sender-spoofing")
	}
}

// lookalikeSenders: near copies of protected IDs.
func (g *gen) lookalikeSenders(n int) {
	for range n {
		text := g.fill(pick(g, g.luresLink), append(g.slots(), "{url}", g.lureURL(g.freshDomain()))...)
		g.add(corpus.MT, "agg-cheap", "", pick(g, g.lookalikes), g.home(), text, g.at(0, 120), corpus.Fraud, "lookalike-senders")
	}
}

// phishing: links to freshly registered domains from generic sender IDs
// and from numbers.
func (g *gen) phishing(n int) {
	for range n {
		text := g.fill(pick(g, g.luresLink), append(g.slots(), "{url}", g.lureURL(g.freshDomain()))...)
		if g.rng.IntN(2) == 0 {
			g.add(corpus.MT, "agg-cheap", "", pick(g, genericSenders), g.home(), text, g.at(0, 120), corpus.Fraud, "phishing-new-domains")
			continue
		}
		g.add(corpus.MT, pick(g, []string{"ic-budget", "hub-intl"}), "", g.number(pick(g, []string{"GB", "FR", "ES", "NG"})), g.home(),
			text, g.at(0, 120), corpus.Fraud, "phishing-new-domains")
	}
}

// operatorFragment is what the operator knows, as a partial policy that
// `smsfw eval --operator` merges over the policy under test: every brand
// of every pool (the operator knows all its registered senders, including
// those only the held-out corpus uses), their own domains, the high-cost
// ranges and the short codes.
func operatorFragment() []byte {
	var b strings.Builder
	b.WriteString(`# Operator knowledge for the evaluation corpora (written by go run ./bench/corpus/gen; do not edit).
# A partial policy: smsfw eval --operator merges it over the policy under test
# (list items are added to the lists of the same name, registry entries
# are added, peers of an existing sender joined).
sender_registry:
`)
	all := slices.Concat(brandsShared, brandsTuning, brandsHeldout)
	for _, br := range all {
		fmt.Fprintf(&b, "  - {sender: %q, peers: [%s]}\n", br.sender, br.peer)
	}
	b.WriteString("lists:\n  brand-words:\n    type: keywords\n    items: [")
	for i, br := range all {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", strings.ToLower(strings.TrimSuffix(br.name, ".com")))
	}
	b.WriteString("]\n  trusted-domains:\n    type: domains\n    items: [")
	for i, br := range all {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", br.domain)
	}
	b.WriteString("]\n  premium-ranges:\n    type: prefixes\n    items: [")
	for i, p := range highCost {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", p)
	}
	fmt.Fprintf(&b, "]\n  # Not used by a rule of the shipped policy yet: the operator's own short codes.\n"+
		"  operator-short-codes:\n    type: senders\n    items: [%q, %q, %q, %q]\n", scTV, scPromo, scMarket, scService)
	return []byte(b.String())
}
