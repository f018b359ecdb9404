package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsfw/smsfw/internal/config"
	"github.com/smsfw/smsfw/store"
)

// TestKubernetesMultiNode: the multi-node overlay names files that exist,
// runs more than one pod, gives them the DSN the config expands, and its
// config passes `smsfw config check` with the cluster section and a
// PostgreSQL store; the Redis service is there for the counters.
func TestKubernetesMultiNode(t *testing.T) {
	const dir = "kubernetes/multi-node"
	k := yamlDocs(t, filepath.Join(dir, "kustomization.yaml"))[0]
	var files []string
	for _, key := range []string{"resources", "patches"} {
		for _, r := range get(k, key).([]any) {
			switch v := r.(type) {
			case string:
				files = append(files, v)
			case map[string]any:
				files = append(files, str(v, "path"))
			}
		}
	}
	objs := map[string]map[string]any{}
	services := map[string]bool{}
	for _, f := range files {
		if f == "../" {
			continue
		}
		for _, d := range yamlDocs(t, filepath.Join(dir, f)) {
			objs[str(d, "kind")] = d
			if str(d, "kind") == "Service" {
				services[str(get(d, "metadata").(map[string]any), "name")] = true
			}
		}
	}
	if !services["smsfw-postgres"] || !services["smsfw-redis"] {
		t.Errorf("external services %v: want smsfw-postgres and smsfw-redis", services)
	}
	dep := objs["Deployment"]
	if n, _ := get(dep, "spec", "replicas").(int); n < 2 {
		t.Errorf("replicas %v: a multi-node example runs several", get(dep, "spec", "replicas"))
	}
	env := get(dep, "spec", "template", "spec", "containers", "[0]", "env", "[0]").(map[string]any)
	secret := objs["Secret"]
	if str(env, "name") != "SMSFW_EVENTS_DSN" || get(env, "valueFrom", "secretKeyRef", "name") != get(secret, "metadata", "name") {
		t.Errorf("the DSN's env %v does not come from the Secret %v", env, get(secret, "metadata", "name"))
	}
	dsn, _ := get(secret, "stringData", "dsn").(string)
	t.Setenv("SMSFW_EVENTS_DSN", dsn)
	cfgText, _ := get(objs["ConfigMap"], "data", "smsfw.yaml").(string)
	cfg, err := config.Parse("smsfw.yaml", []byte(cfgText))
	if err != nil {
		t.Fatalf("the overlay's config: %v", err)
	}
	if cfg.Cluster == nil || cfg.Events == nil || !store.IsPostgres(cfg.Events.DB) || !strings.Contains(cfg.Events.DB, "@smsfw-postgres:") {
		t.Fatalf("the overlay's config: cluster %+v, events %+v", cfg.Cluster, cfg.Events)
	}
}

// TestSystemdMultiNode: the node config passes `smsfw config check` (its
// dsn_file is the credential the drop-in loads) with the cluster section.
func TestSystemdMultiNode(t *testing.T) {
	conf, err := os.ReadFile("systemd/multi-node/multi-node.conf")
	if err != nil {
		t.Fatal(err)
	}
	const cred = "/run/credentials/smsfw.service/events.dsn"
	if !strings.Contains(string(conf), "LoadCredential=events.dsn:") {
		t.Fatal("multi-node.conf loads no events.dsn credential")
	}
	data, err := os.ReadFile("systemd/multi-node/smsfw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "dsn_file: "+cred) {
		t.Fatalf("smsfw.yaml does not read the DSN from %s", cred)
	}
	dsn := filepath.Join(t.TempDir(), "events.dsn")
	if err := os.WriteFile(dsn, []byte("postgres://smsfw:pw@db.example.net/smsfw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("smsfw.yaml", []byte(strings.ReplaceAll(string(data), cred, dsn)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster == nil || cfg.Cluster.Node == "" || !store.IsPostgres(cfg.Events.DB) {
		t.Fatalf("cluster %+v, events %+v", cfg.Cluster, cfg.Events)
	}
}
