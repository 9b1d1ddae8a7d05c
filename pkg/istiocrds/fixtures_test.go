package istiocrds

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const repoRoot = "../.."

var (
	istioAPIVersion = regexp.MustCompile(`apiVersion: (networking|security)\.istio\.io/`)
	heredocStart    = regexp.MustCompile(`<<-?['"]?(\w+)`)
	shellVariable   = regexp.MustCompile(`\$(\{\w+\}|\w+)`)
	printfVerb      = regexp.MustCompile(`%[dsv]`)
)

// repoFixtures collects the Istio objects the project's other tests and scripts apply (Go raw
// strings under test/, heredocs under hack/), with placeholders filled by plain values.
func repoFixtures(t *testing.T) []example {
	t.Helper()
	var out []example
	add := func(source, text string) {
		text = printfVerb.ReplaceAllString(text, "8080")
		text = shellVariable.ReplaceAllString(text, "9000")
		for i, obj := range yamlDocuments(t, source, []byte(text)) {
			if !istioAPIVersion.MatchString("apiVersion: " + asString(obj["apiVersion"])) {
				continue
			}
			out = append(out, example{source: source + "#" + string(rune('0'+i)), obj: obj})
		}
	}
	err := filepath.WalkDir(filepath.Join(repoRoot, "test"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		// A file that does not parse fails its own package's build; its literals still count.
		file, _ := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if file == nil {
			return nil
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if e, ok := n.(ast.Expr); ok {
				if text, ok := stringExpr(e); ok && istioAPIVersion.MatchString(text) {
					add(path, text)
					return false
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob(filepath.Join(repoRoot, "hack", "*.sh"))
	for _, path := range scripts {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range heredocs(string(data)) {
			if istioAPIVersion.MatchString(doc) {
				add(path, doc)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("found no Istio objects in the repository's tests and scripts")
	}
	t.Logf("%d Istio objects from the repository's tests and scripts", len(out))
	return out
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// stringExpr returns the text of a raw string literal, or of a concatenation that holds one,
// with "x" for the other operands (variables that fill in names).
func stringExpr(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING && strings.HasPrefix(e.Value, "`") {
			return strings.Trim(e.Value, "`"), true
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			left, lok := stringExpr(e.X)
			right, rok := stringExpr(e.Y)
			if !lok {
				left = "x"
			}
			if !rok {
				right = "x"
			}
			return left + right, lok || rok
		}
	}
	return "", false
}

// heredocs returns the bodies of a shell script's here-documents.
func heredocs(script string) []string {
	var bodies []string
	lines := strings.Split(script, "\n")
	for i := 0; i < len(lines); i++ {
		m := heredocStart.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != m[1]; i++ {
			body = append(body, lines[i])
		}
		bodies = append(bodies, strings.Join(body, "\n"))
	}
	return bodies
}
