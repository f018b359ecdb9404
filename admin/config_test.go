package admin

import (
	"errors"
	"strings"
	"testing"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// A bcrypt hash of "pw" (cost 4) and the SHA-256 of "token".
const (
	testBcrypt = "$2a$04$uvkmlN8y1kok1XR0scZgieg2jtcH4Rn1YYpy/myBMXFEbxA14JB8."
	testSHA256 = "3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0"
)

func TestInvalidConfigs(t *testing.T) {
	testutil.InvalidConfigs(t, func(path string) error { _, err := yamlx.LoadConfig[Config](path); return err }, map[string]string{
		"invalid-admin-tls.yaml": `testdata/invalid-admin-tls.yaml:2: tls: cert_file and key_file are required on a listener`,
	})
}

func TestAdminAuthConfig(t *testing.T) {
	cases := []struct {
		name, yaml, want string // want "" means valid
	}{
		{"none", "admin: 127.0.0.1:9775\n", ""},
		{"empty", "admin_auth: {}\n", ""},
		{"token and user", "admin_auth:\n  tokens:\n    - name: ci\n      token_sha256: " + testSHA256 +
			"\n  users:\n    - name: alice\n      password_hash: \"" + testBcrypt + "\"\n", ""},
		{"token not hex", "admin_auth:\n  tokens:\n    - name: ci\n      token_sha256: secret\n",
			`a.yaml:4: admin_auth: token "ci": token_sha256 must be 64 hex digits (printf %s TOKEN | sha256sum)`},
		{"token too short", "admin_auth:\n  tokens:\n    - name: ci\n      token_sha256: abcd\n", `a.yaml:4: admin_auth: token "ci": token_sha256`},
		{"token without name", "admin_auth:\n  tokens:\n    - token_sha256: " + testSHA256 + "\n", "a.yaml:3: admin_auth: name is required"},
		{"plain password", "admin_auth:\n  users:\n    - name: alice\n      password_hash: hunter2\n",
			`a.yaml:4: admin_auth: user "alice": password_hash: not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters) (smsfw passwd, or htpasswd -nbB USER PASSWORD)`},
		// The same bounds as peers' password_hash: cost 31 would make one
		// login cost minutes of CPU.
		{"cost 31", "admin_auth:\n  users:\n    - name: alice\n      password_hash: \"$2a$31$" + testBcrypt[7:] + "\"\n",
			`a.yaml:4: admin_auth: user "alice": password_hash: bcrypt cost outside [4, 14] (smsfw passwd, or htpasswd -nbB USER PASSWORD)`},
		{"admin connections per source", "admin_max_connections_per_source: 1000000\n",
			"a.yaml:1: admin_max_connections_per_source 1000000 outside [1, 100000] (or negative: no cap)"},
		{"duplicate name", "admin_auth:\n  tokens:\n    - name: alice\n      token_sha256: " + testSHA256 +
			"\n  users:\n    - name: alice\n      password_hash: \"" + testBcrypt + "\"\n",
			`a.yaml:6: admin_auth: duplicate name "alice" (also admin_auth.tokens[0])`},
		{"unknown key", "admin_auth:\n  users:\n    - name: alice\n      password: pw\n", "a.yaml:4: field password not found in type admin.User"},
		{"plaintext token key", "admin_auth:\n  tokens:\n    - name: ci\n      token: abc\n", "a.yaml:4: field token not found in type admin.Token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := yamlx.ParseConfig[Config]("a.yaml", []byte(c.yaml))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(c.yaml, "alice") && (len(cfg.Auth.Users) != 1 || cfg.Auth.Empty()) {
					t.Fatalf("%+v", cfg.Auth)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || !errors.Is(err, yamlx.ErrConfig) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
}
