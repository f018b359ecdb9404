// Package config is smsfw's configuration file: the sections owned by the
// packages that use them (proxy, admin, store's events, mo's routes, bpf), composed here and
// nowhere else. The file is decoded strictly once; each section validates
// itself against the same positions, and every problem of every section
// is reported in line order as "file:line: message".
package config

import (
	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/alerts"
	"github.com/smsfw/smsfw/bpf"
	"github.com/smsfw/smsfw/filter/counters/shared"
	"github.com/smsfw/smsfw/internal/yamlx"
	"github.com/smsfw/smsfw/mo"
	"github.com/smsfw/smsfw/proxy"
	"github.com/smsfw/smsfw/store"
)

// Config is the whole file. The proxy's and the admin server's keys sit at
// its top level.
type Config struct {
	Proxy proxy.Config `yaml:",inline"`
	Admin admin.Config `yaml:",inline"`
	// Events configure the analysts' event store (nil: no store unless
	// --db names one).
	Events *store.EventsConfig `yaml:"events"`
	// MORoutes send MO messages beyond SMPP (HTTP push, pull).
	MORoutes mo.Routes `yaml:"mo_routes"`
	// BPF is the eBPF shield and the ban list (the bpf package's section).
	BPF bpf.Config `yaml:"bpf"`
	// SMTP is the mail server of the routes' email targets and of alerts.
	SMTP *mo.SMTP `yaml:"smtp"`
	// Alerts watch the event store (campaigns, rule hit jumps, leakage).
	Alerts *alerts.Config `yaml:"alerts"`
	// Rules is a policy file, relative to the config file (loaded by the
	// rules engine when present).
	Rules string `yaml:"rules"`
	// Counters say where the detectors' counters live (nil: local to this
	// node; backend redis shares them between nodes).
	Counters *shared.Config `yaml:"counters"`
}

// Load reads, strictly decodes and validates a configuration file.
func Load(path string) (*Config, error) { return yamlx.LoadConfig[Config](path) }

// Parse decodes data (named file in errors): unknown keys, wrong types and
// invalid values are errors with line numbers, all of them, wrapping
// yamlx.ErrConfig.
func Parse(file string, data []byte) (*Config, error) { return yamlx.ParseConfig[Config](file, data) }

// Validate has every section check itself.
func (c *Config) Validate(at yamlx.At) error {
	return yamlx.Join(c.Proxy.Validate(at), c.Admin.Validate(at), c.Events.Validate(at.In("events")),
		c.MORoutes.Validate(at.In("mo_routes")), c.SMTP.Validate(at.In("smtp")), mo.CheckEmail(c.MORoutes, c.SMTP, at.In("mo_routes")),
		c.Alerts.Validate(at.In("alerts")), alerts.CheckEmail(c.Alerts, c.SMTP != nil, at.In("alerts")),
		c.BPF.Validate(at.In("bpf")), c.Counters.Validate(at.In("counters")))
}
