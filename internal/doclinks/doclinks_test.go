package doclinks

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// root is the repository, seen from this package's directory (go test runs in it).
const root = "../.."

var (
	fencedCode   = regexp.MustCompile("(?s)```.*?```")
	markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading      = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)
	inlineLink   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	hasScheme    = regexp.MustCompile(`^[a-z][a-z0-9+.-]*:`)
)

// TestRelativeLinksResolve fails for every relative link whose file is missing, or whose #fragment names no
// heading of the Markdown file it points at (GitHub's anchors: lower case, punctuation dropped, spaces to
// hyphens, a -N suffix for repeated headings).
func TestRelativeLinksResolve(t *testing.T) {
	files := []string{"README.md", "bench/README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md found (err %v): has the folder moved?", err)
	}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		files = append(files, rel)
	}
	checked := 0
	for _, f := range files {
		text, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range markdownLink.FindAllStringSubmatch(fencedCode.ReplaceAllString(string(text), ""), -1) {
			target := m[1]
			if hasScheme.MatchString(target) {
				continue // http:, https:, mailto: are not the repository's to answer for
			}
			checked++
			path, fragment, _ := strings.Cut(target, "#")
			dest := filepath.Join(root, f)
			if path != "" {
				dest = filepath.Join(root, filepath.Dir(f), path)
			}
			info, err := os.Stat(dest)
			if err != nil {
				t.Errorf("%s: link %s: %v", f, target, err)
				continue
			}
			if fragment == "" {
				continue
			}
			if info.IsDir() || !strings.HasSuffix(dest, ".md") {
				t.Errorf("%s: link %s: a #fragment on something that is not a Markdown file", f, target)
				continue
			}
			if !anchorsOf(t, dest)[fragment] {
				t.Errorf("%s: link %s: no heading #%s in %s", f, target, fragment, dest)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found at all: the pattern no longer matches the docs")
	}
}

// anchorsOf returns the anchors GitHub gives the headings of a Markdown file (headings inside fenced code
// are not headings).
func anchorsOf(t *testing.T, path string) map[string]bool {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	anchors, seen := map[string]bool{}, map[string]int{}
	inCode := false
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		m := heading.FindStringSubmatch(line)
		if inCode || m == nil {
			continue
		}
		s := slug(m[2])
		if n := seen[s]; n > 0 {
			anchors[s+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[s] = true
		}
		seen[s]++
	}
	return anchors
}

// slug is GitHub's anchor of a heading's text.
func slug(h string) string {
	h = inlineLink.ReplaceAllString(strings.ReplaceAll(strings.TrimSpace(h), "`", ""), "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestSlugFollowsGitHub(t *testing.T) {
	for h, want := range map[string]string{
		"Under faults and hostile input": "under-faults-and-hostile-input",
		"The `delivery` block":           "the-delivery-block",
		"Disk full (Linux)":              "disk-full-linux",
		"[Payloads](payloads.md) & more": "payloads--more",
	} {
		if got := slug(h); got != want {
			t.Errorf("slug(%q) = %q, want %q", h, got, want)
		}
	}
}
