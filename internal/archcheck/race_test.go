package archcheck

import (
	"go/ast"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// A test that skips a check under the race detector (if raceEnabled {
// t.Skip(...) }, or if !raceEnabled { check }) runs in .ci/run's step
// without -race, or CI never runs that check.
func TestRaceSkippedTestsRunWithoutRace(t *testing.T) {
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go test -count=1 -run '([^']+)'`).FindSubmatch(ci)
	if m == nil {
		t.Fatal(".ci/run has no `go test -count=1 -run '...'` step without -race")
	}
	listed := map[string]bool{}
	for _, name := range strings.Split(string(m[1]), "|") {
		listed[name] = true
	}
	found := 0
	goFiles(t, true, 0, func(_, path string, f *ast.File) {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !strings.HasPrefix(fn.Name.Name, "Test") || fn.Body == nil || !skipsUnderRace(fn.Body) {
				continue
			}
			found++
			if !listed[fn.Name.Name] {
				t.Errorf("%s: %s skips a check under -race but is not in .ci/run's step without -race", path, fn.Name.Name)
			}
		}
	})
	if found == 0 {
		t.Fatal("no test skips anything under -race: is the check still looking at the right thing?")
	}
}

// skipsUnderRace reports whether body has an `if raceEnabled` that skips,
// or an `if !raceEnabled` that guards a check.
func skipsUnderRace(body *ast.BlockStmt) bool {
	skips := false
	ast.Inspect(body, func(n ast.Node) bool {
		is, ok := n.(*ast.IfStmt)
		if !ok || !mentions(is.Cond, "raceEnabled") {
			return true
		}
		if u, ok := is.Cond.(*ast.UnaryExpr); ok && u.Op == token.NOT {
			skips = true
		}
		ast.Inspect(is.Body, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Skip") {
				skips = true
			}
			return true
		})
		return true
	})
	return skips
}

func mentions(e ast.Expr, name string) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == name {
			found = true
		}
		return true
	})
	return found
}
