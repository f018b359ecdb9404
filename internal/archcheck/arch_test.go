// Package archcheck holds the import rules of the code's layout: the wire
// layer, the filters and the policy never depend on the proxy or the
// binary, and the binary holds flags and output only.
package archcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/smsfw/smsfw"

// imports maps each package of the module to the module packages its
// non-test files import.
func imports(t *testing.T) map[string][]string { return importGraph(t, false) }

// testImports maps each package to the module packages its test files
// import.
func testImports(t *testing.T) map[string][]string { return importGraph(t, true) }

func importGraph(t *testing.T, tests bool) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	goFiles(t, tests, parser.ImportsOnly, func(pkg, _ string, f *ast.File) {
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module+"/") {
				out[pkg] = append(out[pkg], p)
			}
		}
	})
	return out
}

// goFiles parses every Go file of the module (its test files when tests,
// else the others; nothing under testdata, node_modules or a dot folder)
// and calls fn with the file's package path, its path and its syntax.
func goFiles(t *testing.T, tests bool, mode parser.Mode, fn func(pkg, path string, f *ast.File)) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") != tests {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, mode)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := module
		if rel != "." {
			pkg += "/" + filepath.ToSlash(rel)
		}
		fn(pkg, path, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func under(pkg, prefix string) bool {
	return pkg == module+"/"+prefix || strings.HasPrefix(pkg, module+"/"+prefix+"/")
}

// No arrow from filter/, rules/ or smpp/ (transitively) up to proxy/ or cmd/.
func TestImportGraph(t *testing.T) {
	g := imports(t)
	if len(g) < 20 {
		t.Fatalf("only %d packages found", len(g))
	}
	for pkg := range g {
		if !under(pkg, "filter") && !under(pkg, "rules") && !under(pkg, "smpp") {
			continue
		}
		seen := map[string]bool{}
		var walk func(p string, path []string)
		walk = func(p string, path []string) {
			if seen[p] {
				return
			}
			seen[p] = true
			for _, dep := range g[p] {
				if under(dep, "proxy") || under(dep, "cmd") || under(dep, "internal/app") {
					t.Errorf("%s imports %s (via %s)", pkg, dep, strings.Join(append(path, p), " -> "))
				}
				walk(dep, append(path, p))
			}
		}
		walk(pkg, nil)
	}
	// Their tests do not reach for the proxy either (an end-to-end test
	// builds smsfw through internal/app, or lives in e2e/).
	for pkg, deps := range testImports(t) {
		if !under(pkg, "filter") && !under(pkg, "rules") && !under(pkg, "smpp") {
			continue
		}
		for _, dep := range deps {
			if under(dep, "proxy") || under(dep, "cmd") {
				t.Errorf("a test of %s imports %s", pkg, dep)
			}
		}
	}
}

// Configuration sections are owned by the packages that use them and
// composed in internal/config only: no section imports the composition,
// and the proxy knows nothing of the admin server's or the event store's
// sections (nor, transitively, of those packages).
func TestConfigSections(t *testing.T) {
	g := imports(t)
	deps := func(pkg string) map[string]bool {
		seen := map[string]bool{}
		var walk func(p string)
		walk = func(p string) {
			for _, d := range g[p] {
				if !seen[d] {
					seen[d] = true
					walk(d)
				}
			}
		}
		walk(module + "/" + pkg)
		return seen
	}
	for _, r := range []struct {
		pkg       string
		forbidden []string
	}{
		{"proxy", []string{"admin", "store", "internal/config"}},
		{"admin", []string{"internal/config"}},
		{"store", []string{"internal/config"}},
		{"internal/tlsfiles", []string{"internal/config"}},
		{"internal/yamlx", []string{"internal/config"}},
	} {
		if _, ok := g[module+"/"+r.pkg]; !ok {
			t.Fatalf("package %s not found", r.pkg)
		}
		for d := range deps(r.pkg) {
			for _, f := range r.forbidden {
				if under(d, f) {
					t.Errorf("%s imports %s", r.pkg, d)
				}
			}
		}
	}
}

// The binary holds flags and output: the program is wired in internal/app
// (run, and the offline tools rules test and replay: app.Explain,
// app.Replay) and the demo in internal/demo. So cmd/smsfw imports none of
// the parts they assemble (the inspection chain and its detectors, the
// admin server, the console, the cluster, alerts, eBPF, the test client,
// the TLS reloader), and calls none of the constructors that wire them.
func TestBinaryDoesNotWire(t *testing.T) {
	g := imports(t)
	bin := module + "/cmd/smsfw"
	if _, ok := g[bin]; !ok {
		t.Fatalf("package %s not found", bin)
	}
	parts := []string{"admin", "console", "cluster", "alerts", "bpf", "esme", "deploy", "internal/tlsfiles", "smpp/text"}
	seen := map[string]bool{}
	for _, dep := range g[bin] {
		if seen[dep] {
			continue
		}
		seen[dep] = true
		if strings.HasPrefix(dep, module+"/filter/") {
			t.Errorf("cmd/smsfw imports %s: the chain is built in internal/app", dep)
		}
		for _, p := range parts {
			if under(dep, p) {
				t.Errorf("cmd/smsfw imports %s: wiring belongs in internal/app (or internal/demo)", dep)
			}
		}
	}
	files, err := filepath.Glob("../../cmd/smsfw/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no files: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"proxy.New(", "store.NewWriter(", "review.New(", "admin.Protect(", "console.Mount(", "admin.Handler(",
			"pipeline.New(", "rules.NewEngine", "rules.NewStatic("} {
			if strings.Contains(string(data), call) {
				t.Errorf("%s calls %s: wiring belongs in internal/app", filepath.Base(f), call)
			}
		}
	}
}
