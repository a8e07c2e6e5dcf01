package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sidehook/sidehook"

// forbiddenImports lists, per package of the module, the packages of the module it must not import, directly
// or through any chain of imports. See the package doc for why.
var forbiddenImports = map[string][]string{
	"proxy":   {"caddymodule", "queue"},
	"matcher": {"caddymodule", "queue", "proxy"},
	"queue":   {"caddymodule", "matcher", "proxy"},
}

// allowedImports lists, per package of the module that stands on a narrow base, the only packages of the
// module it may import, directly or through any chain of imports. The queue's storage seam is one: queue/store
// is the contract and imports nothing of the project, so that any store (and any engine) can be built on it
// alone; badgerstore, memstore, jsstore and storetest know the contract and nothing else (jsstore also how to
// reach NATS, natsconn), so a store never reaches into the delivery engine it serves. (queue may import all of
// them.) Cluster mode's subscription storage, natskv, is a certmagic.Storage that knows only how to reach NATS
// (natsconn): whoever wires it hands it to the matcher.
var allowedImports = map[string][]string{
	"queue/store":           {},
	"queue/store/storetest": {"queue/store"},
	"queue/badgerstore":     {"queue/store"},
	"queue/store/memstore":  {"queue/store"},
	"queue/jsstore":         {"queue/store", "internal/natsconn"},
	"internal/natsconn":     {},
	"internal/natskv":       {"internal/natsconn"},
}

// TestSeamPackagesImportOnlyTheirBase asks `go list -deps` for the import graph of allowedImports' packages and
// fails, naming the chain of imports, when one of them reaches a package of the module it is not allowed.
func TestSeamPackagesImportOnlyTheirBase(t *testing.T) {
	var pkgs []string
	for pkg := range allowedImports {
		pkgs = append(pkgs, pkg)
	}
	graph := importGraph(t, pkgs...)
	for pkg, allowed := range allowedImports {
		from := module + "/" + pkg
		if _, ok := graph[from]; !ok {
			t.Fatalf("go list did not report %s: has the package moved? update allowedImports", from)
		}
		ok := map[string]bool{from: true}
		for _, a := range allowed {
			ok[module+"/"+a] = true
		}
		for dep := range graph {
			if !strings.HasPrefix(dep, module+"/") || ok[dep] {
				continue
			}
			if chain := importChain(graph, from, dep); chain != nil {
				t.Errorf("%s may import only %v of the module, but reaches %s: %s", pkg, allowed, dep, strings.Join(chain, " -> "))
			}
		}
	}
}

// TestPackagesImportOnlyDownwards asks `go list -deps` for the whole import graph of proxy, matcher and queue
// and fails, naming the chain of imports, when one of them reaches a package forbiddenImports denies it.
// Test files are not part of the graph: a test may import what it needs to set up its world.
func TestPackagesImportOnlyDownwards(t *testing.T) {
	graph := importGraph(t, "proxy", "matcher", "queue")
	for pkg, forbidden := range forbiddenImports {
		from := module + "/" + pkg
		if _, ok := graph[from]; !ok {
			t.Fatalf("go list did not report %s: has the package moved? update forbiddenImports", from)
		}
		for _, f := range forbidden {
			if chain := importChain(graph, from, module+"/"+f); chain != nil {
				t.Errorf("%s must not import %s, but does: %s", pkg, f, strings.Join(chain, " -> "))
			}
		}
	}
}

// importGraph returns, for every package the given packages of the module depend on (themselves included),
// the packages it imports.
func importGraph(t *testing.T, pkgs ...string) map[string][]string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to read the import graph: %v", err)
	}
	args := []string{"list", "-deps", "-json=ImportPath,Imports"}
	for _, p := range pkgs {
		args = append(args, module+"/"+p)
	}
	cmd := exec.Command(goTool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
		graph[p.ImportPath] = p.Imports
	}
	return graph
}

// importChain returns the shortest chain of imports from one package to another (both included), or nil when
// from does not depend on to.
func importChain(graph map[string][]string, from, to string) []string {
	cameFrom := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		if pkg == to {
			var chain []string
			for p := to; p != ""; p = cameFrom[p] {
				chain = append([]string{p}, chain...)
			}
			return chain
		}
		for _, imp := range graph[pkg] {
			if _, seen := cameFrom[imp]; !seen {
				cameFrom[imp] = pkg
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

// TestImportChainFindsIndirectImports checks the search itself on a made-up graph, so a bug in it cannot make
// the layering test pass vacuously.
func TestImportChainFindsIndirectImports(t *testing.T) {
	graph := map[string][]string{
		"a": {"b", "x"},
		"b": {"c"},
		"c": {"d"},
		"x": {},
	}
	if got := strings.Join(importChain(graph, "a", "d"), " -> "); got != "a -> b -> c -> d" {
		t.Errorf("chain a to d = %q, want a -> b -> c -> d", got)
	}
	if got := importChain(graph, "x", "d"); got != nil {
		t.Errorf("chain x to d = %v, want none", got)
	}
}
