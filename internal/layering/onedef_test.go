package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rulesDefinedOnce names functions that are each the only definition of a rule several packages rely on. A
// second function of the same name is a second definition, free to drift from the first: the method's service
// call must be the same in a webhook's payload and in pattern matching, and a static subscription's uid the
// same wherever it is derived, or queued jobs lose their subscription.
var rulesDefinedOnce = []string{"ServiceCall", "StaticUID"}

// TestEachRuleIsDefinedOnce parses every non-test Go file of the module and fails when a function of
// rulesDefinedOnce is declared other than exactly once.
func TestEachRuleIsDefinedOnce(t *testing.T) {
	root := filepath.Join("..", "..")
	where := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil {
				where[fn.Name.Name] = append(where[fn.Name.Name], fset.Position(fn.Pos()).String())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module root is not where this test expects it: %v", err)
	}
	for _, name := range rulesDefinedOnce {
		if got := where[name]; len(got) != 1 {
			t.Errorf("func %s is declared %d times, want exactly once: %v", name, len(got), got)
		}
	}
}
