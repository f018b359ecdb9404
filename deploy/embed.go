// Package deploy ships smsfw's deployment files; the default policy is
// embedded so `smsfw demo` works from the binary alone.
package deploy

import (
	"embed"

	"github.com/smsfw/smsfw/rules"
)

// Files holds the shipped policy directory (rules/): the default policy
// and any list files it names.
//
//go:embed rules
var Files embed.FS

// DefaultPolicyPath is the default policy inside Files.
const DefaultPolicyPath = "rules/default.yaml"

// DefaultPolicy is rules/default.yaml.
//
//go:embed rules/default.yaml
var DefaultPolicy []byte

// DefaultPolicySource reads the embedded default policy.
func DefaultPolicySource() rules.Source { return rules.FSSource(Files, DefaultPolicyPath) }
