package shared

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/smsfw/smsfw/internal/testutil"
	"github.com/smsfw/smsfw/internal/yamlx"
)

// file mounts the section where smsfw's configuration has it.
type file struct {
	Counters *Config `yaml:"counters"`
}

func (f *file) Validate(at yamlx.At) error { return f.Counters.Validate(at.In("counters")) }

func TestInvalidConfigs(t *testing.T) {
	testutil.InvalidConfigs(t, func(path string) error { _, err := yamlx.LoadConfig[file](path); return err }, map[string]string{
		"invalid-values.yaml": `testdata/invalid-values.yaml:2: counters.backend must be local or redis, not "memcached"` + "\n" +
			"testdata/invalid-values.yaml:3: counters.sync_interval 20s outside [1ms, 10s]\n" +
			"testdata/invalid-values.yaml:5: counters.redis.timeout 1ms outside [10ms, 10s]",
		"invalid-redis.yaml": "testdata/invalid-redis.yaml:3: counters.key_secret must hold at least 16 characters with backend redis (the same on every node)\n" +
			`testdata/invalid-redis.yaml:5: counters.redis.addrs[1] "redis.example" is not host:port` + "\n" +
			"testdata/invalid-redis.yaml:6: counters.redis.db must be 0 in a Redis Cluster\n" +
			`testdata/invalid-redis.yaml:7: counters.redis.prefix "smsfw{x}" must not contain braces or spaces (the keys' hash tags are the counters')` + "\n" +
			"testdata/invalid-redis.yaml:8: counters.redis.username needs password_file",
		"invalid-missing.yaml": "testdata/invalid-missing.yaml:2: counters.backend redis needs redis.addrs (at least one host:port)\n" +
			"testdata/invalid-missing.yaml:3: counters.key_secret_file open testdata/no-such-secret: no such file or directory",
	})
}

func TestValidConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "smsfw.yaml")
	if err := os.WriteFile(path, []byte(`counters:
  backend: redis
  key_secret_file: secret
  redis:
    addrs: [10.0.0.5:6379]
    username: smsfw
    password_file: pw
`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := yamlx.LoadConfig[file](path)
	if err != nil {
		t.Fatal(err)
	}
	c := f.Counters.WithDefaults()
	if !c.Enabled() || c.KeySecret != "0123456789abcdef0123" || c.Redis.password != "hunter2" ||
		c.SyncInterval != DefaultSyncInterval || c.Redis.Timeout != DefaultTimeout || c.Redis.Prefix != "smsfw" {
		t.Fatalf("decoded %+v", c)
	}
	var none *Config
	if none.Enabled() || (&Config{}).Enabled() || none.Validate(yamlx.At{}) != nil {
		t.Fatal("no section must mean local counters")
	}
}
