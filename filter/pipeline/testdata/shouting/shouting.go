// Package shouting is an example detector, the whole of one in one folder:
// it flags person-to-person texts written in capitals. It is not in the
// chain; TestNewDetectorIsOneFolder adds it with the one line a real
// detector gets in filter/pipeline/order.go, to prove that a detector's
// settings (detectors.shouting), findings (det.shouting,
// det.shouting_letters), evidence and metrics need nothing outside its
// folder.
package shouting

import (
	"unicode"

	"github.com/smsfw/smsfw/filter"
)

const name = "shouting"

// Findings: rules read det.shouting and det.shouting_letters.
var (
	Shouting = filter.NewFlag(name, "shouting", "a text mostly in capitals")
	Letters  = filter.NewCount(name, "shouting_letters", "capital letters in the text")
)

// Config is the detectors.shouting section.
type Config struct {
	MinLetters int `yaml:"min_letters"` // at least this many letters, default 12
}

// Check implements filter.Settings.
func (c *Config) Check(k *filter.SettingsCheck) {
	k.NotNegative("min_letters", int64(c.MinLetters))
	if c.MinLetters == 0 {
		c.MinLetters = 12
	}
}

// Plugin registers the detector.
var Plugin = filter.Register(&filter.Plugin{
	Name:     name,
	Settings: func() filter.Settings { return &Config{} },
	Build: func(env *filter.BuildEnv) filter.Built {
		return filter.Built{Detector: &detector{min: env.Settings.(*Config).MinLetters}}
	},
})

type detector struct{ min int }

func (d *detector) Name() string { return name }

func (d *detector) Detect(f *filter.Facts, det *filter.Detections, _ int64) {
	if f.Class != filter.ClassP2P {
		return
	}
	var letters, upper int
	for _, r := range f.Text {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters >= d.min && upper*10 >= letters*9 {
		det.Raise(Shouting)
		det.SetCount(Letters, upper)
	}
}
