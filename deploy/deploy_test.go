package deploy_test

// The deployment files, checked offline: the Kubernetes manifests against
// smsfw's defaults and each other, the systemd unit (systemd-analyze verify
// when present), the Dockerfile (linted; built only where a container
// engine answers), the Prometheus rules (promtool, required under CI=true).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smsfw/smsfw/admin"
	"github.com/smsfw/smsfw/internal/config"
)

var update = flag.Bool("update", false, "copy rules/default.yaml into kubernetes/configmap.yaml's policy.yaml")

// smsfw's default ports (`smsfw run --listen 127.0.0.1:2775 --admin
// 127.0.0.1:9775`, internal/app's defaults), and the admin paths the
// probes and Prometheus use.
const (
	smppPort  = 2775
	adminPort = 9775
)

// yamlDocs decodes every document of a multi-document YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

// get walks v along path: map keys, or [i] for list items.
func get(v any, path ...string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(strings.Trim(p, "[]"))
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

// Every YAML file under kubernetes/ and prometheus/ parses.
func TestYAMLParses(t *testing.T) {
	n := 0
	for _, dir := range []string{"kubernetes", "prometheus"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if len(yamlDocs(t, f)) == 0 {
				t.Errorf("%s: no YAML document", f)
			}
			n++
		}
	}
	if n < 8 {
		t.Fatalf("only %d YAML files found", n)
	}
}

func TestKubernetes(t *testing.T) {
	objs := map[string]map[string]any{} // kind -> object (one of each)
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var kustomization map[string]any
	for _, f := range files {
		for _, d := range yamlDocs(t, f) {
			kind := str(d, "kind")
			if kind == "Kustomization" {
				kustomization = d
				continue
			}
			if _, dup := objs[kind]; dup {
				t.Fatalf("%s: a second %s", f, kind)
			}
			objs[kind] = d
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodMonitor"} {
		if objs[k] == nil {
			t.Fatalf("no %s under kubernetes/", k)
		}
	}
	// The kustomization names every other file.
	var res []string
	for _, r := range list(kustomization, "resources") {
		res = append(res, r.(string))
	}
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(res, b) {
			t.Errorf("kustomization.yaml does not list %s", b)
		}
	}

	dep, cm, sec, svc, pm := objs["Deployment"], objs["ConfigMap"], objs["Secret"], objs["Service"], objs["PodMonitor"]
	podLabels, _ := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	matches := func(what string, sel any) {
		m, _ := sel.(map[string]any)
		if len(m) == 0 {
			t.Errorf("%s: empty selector", what)
		}
		for k, v := range m {
			if podLabels[k] != v {
				t.Errorf("%s selects %s=%v; the pods have %v", what, k, v, podLabels)
			}
		}
	}
	matches("Deployment", get(dep, "spec", "selector", "matchLabels"))
	matches("Service", get(svc, "spec", "selector"))
	matches("PodMonitor", get(pm, "spec", "selector", "matchLabels"))

	containers := list(dep, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	c := containers[0]
	ports := map[string]int{} // container port name -> number
	for _, p := range list(c, "ports") {
		ports[str(p, "name")] = get(p, "containerPort").(int)
	}
	if ports["smpp"] != smppPort || ports["admin"] != adminPort {
		t.Errorf("container ports %v, want smpp %d and admin %d", ports, smppPort, adminPort)
	}
	port := func(v any) int {
		switch p := v.(type) {
		case int:
			return p
		case string:
			return ports[p]
		}
		return 0
	}
	// Probes: /healthz and /readyz on the admin port, answered by the
	// admin handler without credentials (see TestProbePaths).
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got := str(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %q, want %q", probe, got, path)
		}
		if got := port(get(c, probe, "httpGet", "port")); got != adminPort {
			t.Errorf("%s port %d, want %d", probe, got, adminPort)
		}
		if s := str(c, probe, "httpGet", "scheme"); s != "" && s != "HTTP" {
			t.Errorf("%s scheme %s", probe, s)
		}
	}
	if get(c, "securityContext", "readOnlyRootFilesystem") != true || get(c, "securityContext", "allowPrivilegeEscalation") != false ||
		get(dep, "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the container must run as non-root, read-only, without privilege escalation")
	}
	// The Service's ports reach the container's.
	for _, p := range list(svc, "spec", "ports") {
		if port(get(p, "targetPort")) != get(p, "port") {
			t.Errorf("Service port %v -> %v: not the container's port of that name", get(p, "port"), get(p, "targetPort"))
		}
	}

	// The config volume is the ConfigMap, mounted whole (a subPath mount
	// never sees a changed policy) where --config points.
	args := list(c, "args")
	cfgIdx := slices.Index(args, any("--config"))
	if cfgIdx < 0 || cfgIdx+1 >= len(args) {
		t.Fatalf("args %v: no --config", args)
	}
	cfgPath := args[cfgIdx+1].(string)
	mounts := map[string]string{} // volume -> mount path
	for _, m := range list(c, "volumeMounts") {
		if get(m, "subPath") != nil {
			t.Errorf("volume %s mounted with subPath: the kubelet never updates it", str(m, "name"))
		}
		mounts[str(m, "name")] = str(m, "mountPath")
	}
	var cmVolume, dataPath string
	for _, v := range list(dep, "spec", "template", "spec", "volumes") {
		if name := str(v, "configMap", "name"); name != "" {
			if name != str(cm, "metadata", "name") {
				t.Errorf("volume %s mounts ConfigMap %s; the ConfigMap is %s", str(v, "name"), name, str(cm, "metadata", "name"))
			}
			cmVolume = str(v, "name")
		} else if str(v, "name") == "data" {
			dataPath = mounts["data"]
		}
	}
	cmDir := mounts[cmVolume]
	if cmDir == "" || filepath.Dir(cfgPath) != cmDir {
		t.Fatalf("--config %s is not in the ConfigMap's mount %q", cfgPath, cmDir)
	}
	data, _ := get(cm, "data").(map[string]any)
	cfgText, _ := data[filepath.Base(cfgPath)].(string)
	if cfgText == "" {
		t.Fatalf("the ConfigMap has no %s (keys: %v)", filepath.Base(cfgPath), data)
	}
	cfg, err := config.Parse(cfgPath, []byte(cfgText))
	if err != nil {
		t.Fatalf("the ConfigMap's config: %v", err)
	}
	if cfg.Rules == "" || filepath.IsAbs(cfg.Rules) {
		t.Fatalf("rules %q: want a file of the ConfigMap, relative to the config", cfg.Rules)
	}
	if _, ok := data[cfg.Rules].(string); !ok {
		t.Errorf("the config's rules %q is not a key of the ConfigMap", cfg.Rules)
	}
	for key := range data {
		if key != filepath.Base(cfgPath) && key != cfg.Rules {
			t.Errorf("ConfigMap key %s is used by nothing", key)
		}
	}
	for what, addr := range map[string]string{"listen": cfg.Proxy.Listen, "admin": cfg.Admin.Addr} {
		host, p, err := net.SplitHostPort(addr)
		want := map[string]int{"listen": smppPort, "admin": adminPort}[what]
		if err != nil || p != strconv.Itoa(want) || (host != "0.0.0.0" && host != "" && host != "::") {
			t.Errorf("config %s %q: want all interfaces, port %d", what, addr, want)
		}
	}
	if db := cfg.Events.DB; dataPath == "" || !strings.HasPrefix(db, dataPath+"/") {
		t.Errorf("events.db %q is not on the data volume (%q)", db, dataPath)
	}
	// The policy is the shipped one.
	want, err := os.ReadFile("rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if data[cfg.Rules] != string(want) {
		if *update {
			updatePolicy(t, "kubernetes/configmap.yaml", cfg.Rules, want)
		} else {
			t.Errorf("the ConfigMap's %s differs from rules/default.yaml: go test ./deploy -run TestKubernetes -update", cfg.Rules)
		}
	}

	// Prometheus' token: the PodMonitor reads it from the Secret; the
	// config holds a SHA-256 (the shipped zeros match no token).
	eps := list(pm, "spec", "podMetricsEndpoints")
	if len(eps) != 1 || str(eps[0], "path") != "/metrics" || ports[str(eps[0], "port")] != adminPort {
		t.Fatalf("PodMonitor endpoints %v: want /metrics on the admin port", eps)
	}
	cred := get(eps[0], "authorization", "credentials")
	if str(cred, "name") != str(sec, "metadata", "name") {
		t.Errorf("PodMonitor reads Secret %q; the Secret is %q", str(cred, "name"), str(sec, "metadata", "name"))
	}
	if _, ok := get(sec, "stringData", str(cred, "key")).(string); !ok {
		t.Errorf("the Secret has no key %q", str(cred, "key"))
	}
	if cfg.Admin.Auth == nil || len(cfg.Admin.Auth.Tokens) == 0 {
		t.Fatal("a non-loopback admin address needs admin_auth")
	}
	tok := str(sec, "stringData", str(cred, "key"))
	sum := sha256.Sum256([]byte(tok))
	if cfg.Admin.Auth.Tokens[0].TokenSHA256 == hex.EncodeToString(sum[:]) {
		t.Error("the shipped Secret's token is accepted: a known default credential")
	}
}

// updatePolicy rewrites the policy key of a ConfigMap file: everything
// after its "  key: |" line is the policy, indented.
func updatePolicy(t *testing.T, path, key string, policy []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	marker := "\n  " + key + ": |\n"
	i := bytes.Index(data, []byte(marker))
	if i < 0 {
		t.Fatalf("%s: no %q", path, strings.TrimSpace(marker))
	}
	out := append([]byte{}, data[:i+len(marker)]...)
	sc := bufio.NewScanner(bytes.NewReader(policy))
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			out = append(out, "    "+line...)
		}
		out = append(out, '\n')
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s updated from rules/default.yaml", path, key)
}

// The probes' paths answer without credentials behind admin_auth.
func TestProbePaths(t *testing.T) {
	sum := sha256.Sum256([]byte("t"))
	h, err := admin.Protect(admin.Handler(admin.Options{Ready: func() (bool, string) { return true, "ok" }}),
		&admin.AuthConfig{Tokens: []admin.Token{{Name: "prometheus", TokenSHA256: hex.EncodeToString(sum[:])}}},
		&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: adminPort}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		req := httptest.NewRequest("GET", "http://10.0.0.1:9775"+path, nil)
		req.RemoteAddr = "10.0.0.2:40000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s without credentials: %d %s", path, rec.Code, rec.Body)
		}
	}
}

func TestSystemdUnit(t *testing.T) {
	const unit = "systemd/smsfw.service"
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q", unit, line)
		}
		keys[section+"."+k] = append(keys[section+"."+k], v)
	}
	one := func(k string) string {
		if v := keys["Service."+k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	for k, want := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "StateDirectory": "smsfw",
		"DynamicUser": "yes", "PrivateTmp": "yes", "ProtectHome": "yes"} {
		if got := one(k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if !slices.Contains(strings.Fields(one("ReadOnlyPaths")), "/etc/smsfw") {
		t.Error("ReadOnlyPaths does not hold /etc/smsfw")
	}
	if r := one("ExecReload"); !strings.Contains(r, "-HUP $MAINPID") {
		t.Errorf("ExecReload=%q: want SIGHUP to $MAINPID", r)
	}
	if s := one("ExecStart"); !strings.Contains(s, " run --config /etc/smsfw/smsfw.yaml") {
		t.Errorf("ExecStart=%q", s)
	}
	for _, k := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		for _, c := range strings.Fields(one(k)) {
			if c != "CAP_BPF" && c != "CAP_NET_ADMIN" && c != "CAP_PERFMON" {
				t.Errorf("%s has %s: only what eBPF needs", k, c)
			}
		}
	}

	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: the unit was checked statically only")
	}
	// verify checks that the executable exists: point ExecStart at one that does.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "smsfw.service")
	if err := os.WriteFile(tmp, bytes.ReplaceAll(data, []byte("/usr/local/bin/smsfw"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sa, "verify", tmp).CombinedOutput()
	// verify exits 0 on unknown keys and bad values, which it only prints.
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// dockerfile is the Dockerfile's instructions (continuations joined,
// comments dropped), as [instruction, arguments].
func dockerfile(t *testing.T) [][2]string {
	data, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur += s + " "
			continue
		}
		cur += trimmed
		ins, args, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(ins), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

var remoteURL = regexp.MustCompile(`(?i)\b(https?|ftp)://`)

func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	var stages []string // FROM arguments
	final := map[string][]string{}
	for _, in := range ins {
		switch in[0] {
		case "FROM":
			stages = append(stages, in[1])
			final = map[string][]string{}
		case "ADD":
			if remoteURL.MatchString(in[1]) {
				t.Errorf("ADD of a remote URL: %s", in[1])
			}
		case "RUN":
			if strings.Contains(in[1], "go build") && (!strings.Contains(in[1], "CGO_ENABLED=0") || !strings.Contains(in[1], "-trimpath")) {
				t.Errorf("go build without CGO_ENABLED=0 and -trimpath: %s", in[1])
			}
		case "COPY":
			if f := strings.Fields(in[1]); !strings.HasPrefix(f[0], "--from") {
				for _, src := range f[:len(f)-1] {
					if _, err := os.Stat(filepath.Join("..", src)); err != nil && !strings.HasPrefix(src, "--") && src != "." {
						t.Errorf("COPY %s: not in the repository", src)
					}
				}
			}
		}
		final[in[0]] = append(final[in[0]], in[1])
	}
	if len(stages) < 2 || !strings.HasPrefix(stages[0], "golang:") {
		t.Fatalf("stages %v: want a golang build stage, then the runtime", stages)
	}
	if rt := stages[len(stages)-1]; !strings.Contains(rt, "distroless/static") && !strings.HasPrefix(rt, "scratch") {
		t.Errorf("runtime stage %q: want distroless static or scratch", rt)
	}
	users := final["USER"]
	if len(users) == 0 {
		t.Fatal("the runtime stage sets no USER")
	}
	if u, _, _ := strings.Cut(users[len(users)-1], ":"); u == "root" || u == "0" {
		t.Errorf("USER %s in the runtime stage", users[len(users)-1])
	}
	exposed := strings.Join(final["EXPOSE"], " ")
	for _, p := range []int{smppPort, adminPort} {
		if !slices.Contains(strings.Fields(exposed), strconv.Itoa(p)) {
			t.Errorf("EXPOSE %q lacks %d", exposed, p)
		}
	}
	if len(final["HEALTHCHECK"]) > 0 {
		t.Error("HEALTHCHECK: the image has no shell or client to run it; probes are HTTP from outside")
	}

	engine := ""
	for _, e := range []string{"docker", "podman", "buildah"} {
		if p, err := exec.LookPath(e); err == nil {
			// A client without a daemon cannot build.
			if e == "buildah" || exec.Command(p, "info").Run() == nil {
				engine = e
				break
			}
		}
	}
	if engine == "" || testing.Short() {
		t.Skip("no container engine that answers (docker, podman, buildah) or -short: the Dockerfile was linted, not built")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tag := "smsfw-test:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	args := []string{"build", "-f", "deploy/docker/Dockerfile", "-t", tag, "."}
	if engine == "buildah" {
		args = append([]string{"bud"}, args[1:]...)
	}
	cmd := exec.CommandContext(ctx, engine, args...)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s build: %v\n%s", engine, err, out)
	}
	defer func() { _ = exec.Command(engine, "rmi", tag).Run() }()
	if engine != "buildah" {
		out, err := exec.CommandContext(ctx, engine, "run", "--rm", tag, "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "smsfw ") {
			t.Fatalf("%s run %s version: %v\n%s", engine, tag, err, out)
		}
	}
}

// promtool checks the alerting rules and runs their unit tests; CI
// installs it (Debian's prometheus package), so there it must be present.
func TestPrometheusRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed (apt-get install prometheus); CI must check the alerting rules")
		}
		t.Skip("promtool not installed (apt-get install prometheus): alerts.yaml was parsed, not checked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		cmd := exec.CommandContext(ctx, promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// The shared counters snippet is a valid counters: section.
func TestMultinodeCounters(t *testing.T) {
	data, err := os.ReadFile("multinode/counters.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SMSFW_COUNTERS_SECRET", "0123456789abcdef0123456789abcdef")
	cfg, err := config.Parse("multinode/counters.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Counters.Enabled() || len(cfg.Counters.Redis.Addrs) != 1 || cfg.Counters.KeySecret != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("counters section: %+v", cfg.Counters)
	}
}
