package pipeline_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsfw/smsfw/filter"
	"github.com/smsfw/smsfw/filter/pipeline"
	"github.com/smsfw/smsfw/filter/pipeline/testdata/shouting"
	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/rules"
	"github.com/smsfw/smsfw/smpp/pdu"
)

// A detector is one folder plus its line in Order: the example in
// testdata/shouting declares its settings, findings and evidence and nothing
// else names them, yet the policy configures it (detectors.shouting), rules
// read its findings (det.shouting), the verdict explains them and the
// findings metric counts them.
func TestNewDetectorIsOneFolder(t *testing.T) {
	const policy = `version: 1
default: allow
detectors:
  shouting:
    min_letters: 5
rules:
  - id: no-shouting
    when: det.shouting && det.shouting_letters >= 5 && msg.class == "p2p"
    action: flag
`
	load := func(t *testing.T, text string) (*rules.Engine, error) {
		return rules.NewEngineSource(rules.FSSource(fstest.MapFS{"p.yaml": {Data: []byte(text)}}, "p.yaml"), nil, nil)
	}
	eng, err := load(t, policy)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	order := append(slices.Clone(pipeline.Order), shouting.Plugin) // the one line
	c, err := pipeline.New(pipeline.Options{Engine: eng, Metrics: pipeline.NewMetrics(reg), Detectors: order})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	inspect := func(text string) filter.Verdict {
		raw := pdu.AppendSM(nil, pdu.SubmitSM, 1, &pdu.SMFields{SrcTON: 1, SrcNPI: 1, Src: "4915112345678",
			DstTON: 1, DstNPI: 1, Dst: "4917612345678", ShortMessage: []byte(text)})
		var m pdu.Message
		if err := pdu.ParseMessage(raw, &m); err != nil {
			t.Fatal(err)
		}
		v, err := c.Inspect(&filter.Request{Direction: filter.MT, Peer: "p", PeerClass: "p2p", Msg: &m})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := inspect("see you at eight"); v.Action != filter.Allow {
		t.Fatalf("quiet text: %+v", v)
	}
	v := inspect("WHERE ARE YOU")
	if v.Action != filter.Flag || v.RuleID != "no-shouting" {
		t.Fatalf("shouting text: %+v", v)
	}
	if !strings.Contains(v.Evidence, "shouting shouting_letters=11") {
		t.Fatalf("evidence %q lacks the detector's findings", v.Evidence)
	}
	if n := testutil.Metric(t, reg, "smsfw_filter_findings_total", "finding", "shouting"); n != 1 {
		t.Fatalf("smsfw_filter_findings_total{finding=shouting} = %v", n)
	}

	// Its settings are strict and positioned like every section.
	for _, tc := range []struct{ policy, want string }{
		{strings.Replace(policy, "min_letters: 5", "min_leters: 5", 1), "p.yaml:5: field min_leters not found in type shouting.Config"},
		{strings.Replace(policy, "min_letters: 5", "min_letters: -1", 1), "p.yaml:5: shouting.min_letters must not be negative"},
		{strings.Replace(policy, "det.shouting &&", "det.shoutin &&", 1), `p.yaml:8: rule "no-shouting": unknown finding det.shoutin (did you mean det.shouting?)`},
	} {
		if _, err := load(t, tc.policy); err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
	}
}

// Every folder under filter/ that registers a detector has its line in
// Order (without it, the detector is not even linked).
func TestOrderHasEveryDetector(t *testing.T) {
	in := map[string]bool{}
	for _, p := range pipeline.Order {
		fn := runtime.FuncForPC(reflect.ValueOf(p.Build).Pointer()).Name() // .../filter/campaign.init.func1
		in[filepath.Base(fn[:strings.Index(fn, ".init")])] = true
	}
	files, err := filepath.Glob("../*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if dir := filepath.Base(filepath.Dir(name)); strings.Contains(string(src), "filter.Register(") && !in[dir] {
			t.Errorf("filter/%s registers a detector (%s) that is not in pipeline.Order", dir, filepath.Base(name))
		}
	}
	if len(in) != len(pipeline.Order) {
		t.Fatalf("Order lists %d plugins from %d packages", len(pipeline.Order), len(in))
	}
}

// Each detector's README names its findings and every setting with its
// default (the defaults themselves live once, in the detector's Check).
func TestDetectorREADMEs(t *testing.T) {
	set := func(t *testing.T, p *filter.Plugin) filter.Settings {
		s := p.Settings()
		s.Check(&filter.SettingsCheck{Section: "detectors." + p.Name, Report: func(key, msg string) { t.Fatalf("%s: %s", key, msg) }})
		return s
	}
	for _, p := range pipeline.Order {
		fn := runtime.FuncForPC(reflect.ValueOf(p.Build).Pointer()).Name()
		dir := filepath.Base(fn[:strings.Index(fn, ".init")])
		readme, err := os.ReadFile(filepath.Join("..", dir, "README.md"))
		if err != nil {
			t.Errorf("%s: %v", p.Name, err)
			continue
		}
		doc := string(readme)
		for _, f := range filter.Findings() {
			if f.Owner == p.Name && !strings.Contains(doc, "`det."+f.Name+"`") {
				t.Errorf("filter/%s/README.md does not name `det.%s`", dir, f.Name)
			}
		}
		if p.Settings == nil {
			continue
		}
		v := reflect.ValueOf(set(t, p)).Elem()
		for i := 0; i < v.NumField(); i++ {
			key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Pointer && !fv.IsNil() { // a setting whose zero is not its default
				fv = fv.Elem()
			}
			def := fmt.Sprint(fv.Interface())
			if d, ok := fv.Interface().(time.Duration); ok {
				def = shortDuration(d)
			}
			if def == "" || (fv.Kind() == reflect.Map || fv.Kind() == reflect.Slice) && fv.Len() == 0 {
				def = "none"
			}
			row := fmt.Sprintf("| `detectors.%s.%s` | %s", p.Name, key, def) // the cell may explain on
			if !strings.Contains(doc, row) {
				t.Errorf("filter/%s/README.md lacks the row %s", dir, row)
			}
		}
	}
}

func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
