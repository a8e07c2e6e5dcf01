package caddymodule

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// updateGolden rewrites the JSON half of every golden file with what the adapter prints today. Use it after a
// deliberate change to the Caddyfile syntax or to the JSON fields, then read the diff before committing it:
//
//	go test -count=1 -run 'TestCaddyfileAdapt$' ./caddymodule -update
var updateGolden = flag.Bool("update", false, "rewrite the expected JSON of caddymodule/testdata/caddyfile_adapt/*.caddyfiletest")

// goldenDir holds one file per case: a Caddyfile, a line of ten dashes, then the JSON `caddy adapt` prints for
// it (tab-indented). It is the layout of Caddy's own caddytest/integration/caddyfile_adapt files, so a reader
// who knows those knows these.
const goldenDir = "testdata/caddyfile_adapt"

const goldenSeparator = "----------"

// TestCaddyfileAdapt adapts every Caddyfile in testdata/caddyfile_adapt exactly as `caddy adapt` does and
// compares the result with the JSON written below it, line for line. The golden files are the contract of the
// `sidehook` directive: what each line means in JSON, which lines add up (never_fire, redact_*, multicall,
// wrapper, subscribe, allow_destination), which replace (retry), and that defaults and the preset are NOT
// expanded at adapt time. A formatting warning fails the case too, so the files stay in `caddy fmt` form.
//
// Run with -update (see updateGolden) to rewrite the JSON halves.
func TestCaddyfileAdapt(t *testing.T) {
	files := goldenFiles(t)
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".caddyfiletest")
		t.Run(name, func(t *testing.T) {
			caddyfileText, wantJSON := readGolden(t, path)
			got := adaptForGolden(t, filepath.Base(path), caddyfileText)
			if *updateGolden {
				out := caddyfileText + goldenSeparator + "\n" + got + "\n"
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != wantJSON {
				t.Errorf("%s: adapted JSON differs from the golden file (rerun with -update if the change is meant)\n%s",
					path, firstDifference(wantJSON, got))
			}
		})
	}
}

// TestCaddyfileAdaptCoversEveryConfigField fails when a JSON field of the handler's config (at any depth:
// identity.resolve.ttl, delivery.paused, subscribe.user …) appears in no golden file, so a field added to
// config.go without a Caddyfile case cannot slip through.
func TestCaddyfileAdaptCoversEveryConfigField(t *testing.T) {
	covered := map[string]bool{}
	for _, path := range goldenFiles(t) {
		_, wantJSON := readGolden(t, path)
		var doc any
		if err := json.Unmarshal([]byte(wantJSON), &doc); err != nil {
			t.Fatalf("%s: expected JSON does not parse: %v", path, err)
		}
		for _, handler := range findSidehookHandlers(doc) {
			collectJSONKeys(handler, "", covered)
		}
	}
	var missing []string
	for _, field := range configJSONFields(reflect.TypeFor[Handler](), "") {
		if !covered[field] {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		t.Errorf("config fields no golden file in %s sets (add a case): %s", goldenDir, strings.Join(missing, ", "))
	}
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(goldenDir, "*.caddyfiletest"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no golden files in %s", goldenDir)
	}
	sort.Strings(files)
	return files
}

// readGolden splits a golden file into its Caddyfile (ending in one newline, as `caddy fmt` writes it) and its
// expected JSON (trimmed).
func readGolden(t *testing.T, path string) (caddyfileText, wantJSON string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	before, after, ok := strings.Cut(text, goldenSeparator)
	if !ok {
		t.Fatalf("%s: no %q line between the Caddyfile and the JSON", path, goldenSeparator)
	}
	return strings.TrimSpace(before) + "\n", strings.TrimSpace(after)
}

// adaptForGolden runs the Caddyfile adapter as `caddy adapt` does and returns the tab-indented JSON.
func adaptForGolden(t *testing.T, filename, caddyfileText string) string {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfileText),
		map[string]any{"filename": filename})
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("adapter warning at %s:%d (%s): %s", w.File, w.Line, w.Directive, w.Message)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "\t"); err != nil {
		t.Fatalf("adapter printed invalid JSON: %v", err)
	}
	return pretty.String()
}

// firstDifference shows the first line where two texts part, with both texts' line there, then the whole
// text that was produced, so the failure can be read without a diff tool.
func firstDifference(want, got string) string {
	wantLines, gotLines := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wantLines) || i < len(gotLines); i++ {
		if i >= len(wantLines) || i >= len(gotLines) || wantLines[i] != gotLines[i] {
			var w, g string
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if i < len(gotLines) {
				g = gotLines[i]
			}
			return fmt.Sprintf("first difference at JSON line %d:\n  want: %s\n  got:  %s\nadapted JSON:\n%s", i+1, w, g, got)
		}
	}
	return "texts are equal"
}

// findSidehookHandlers returns every object with "handler":"sidehook" in an adapted config.
func findSidehookHandlers(v any) []map[string]any {
	var found []map[string]any
	switch x := v.(type) {
	case map[string]any:
		if x["handler"] == "sidehook" {
			return append(found, x)
		}
		for _, c := range x {
			found = append(found, findSidehookHandlers(c)...)
		}
	case []any:
		for _, c := range x {
			found = append(found, findSidehookHandlers(c)...)
		}
	}
	return found
}

// collectJSONKeys records the dotted path of every object key under v (array elements share their array's path).
func collectJSONKeys(v any, prefix string, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			into[prefix+k] = true
			collectJSONKeys(c, prefix+k+".", into)
		}
	case []any:
		for _, c := range x {
			collectJSONKeys(c, prefix, into)
		}
	}
}

// configJSONFields lists the dotted JSON paths of every exported field of a config struct, descending into
// struct, pointer-to-struct and slice-of-struct fields (maps are leaves: their keys are user data).
func configJSONFields(typ reflect.Type, prefix string) []string {
	var fields []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields = append(fields, prefix+name)
		inner := f.Type
		for inner.Kind() == reflect.Pointer || inner.Kind() == reflect.Slice {
			inner = inner.Elem()
		}
		if inner.Kind() == reflect.Struct && inner.PkgPath() == typ.PkgPath() {
			fields = append(fields, configJSONFields(inner, prefix+name+".")...)
		}
	}
	return fields
}
