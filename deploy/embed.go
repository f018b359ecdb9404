// Package deploy ships smsfw's deployment files; the default policy is
// embedded so `smsfw demo` works from the binary alone.
package deploy

import _ "embed"

// DefaultPolicy is rules/default.yaml.
//
//go:embed rules/default.yaml
var DefaultPolicy []byte
