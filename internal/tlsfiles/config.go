package tlsfiles

import "github.com/smsfw/smsfw/internal/yamlx"

// Config is a tls section: TLS on a listener (cert_file and key_file
// required; ca_file requires client certificates) or toward a server
// (ca_file verifies it, cert_file/key_file are the client certificate).
type Config struct {
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	CAFile             string `yaml:"ca_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Validate checks the section at at (a nil section is valid); server says
// it is a listener's. The files themselves are read by NewCertReloader.
func (t *Config) Validate(at yamlx.At, server bool) error {
	if t == nil {
		return nil
	}
	if server && (t.CertFile == "" || t.KeyFile == "") {
		return at.Errorf("", "tls: cert_file and key_file are required on a listener")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return at.Errorf("", "tls: cert_file and key_file go together")
	}
	return nil
}
