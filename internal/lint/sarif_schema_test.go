package lint

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// sarifSchemaModule ships the OASIS SARIF 2.1.0 JSON schema (errata01,
// sarif-schema-2.1.0.json) as the constant schema of its v210 package. The
// test reads it from the module cache rather than from a copy in this
// repository, so that the schema is the published one.
const (
	sarifSchemaModule = "github.com/owenrumney/go-sarif/v3"
	sarifSchemaFile   = "pkg/report/v210/sarif/schema.go"
	sarifSchemaID     = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

// officialSARIFSchema compiles the schema found in the module cache, where
// go list -m says the module the test imports is.
func officialSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-json", sarifSchemaModule).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", sarifSchemaModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go list -m -json %s gives no directory (%v): run go mod download", sarifSchemaModule, err)
	}
	file := filepath.Join(mod.Dir, filepath.FromSlash(sarifSchemaFile))
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var text string
	ast.Inspect(f, func(n ast.Node) bool {
		if v, ok := n.(*ast.ValueSpec); ok && len(v.Names) == 1 && v.Names[0].Name == "schema" && len(v.Values) == 1 {
			if lit, ok := v.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				text, err = strconv.Unquote(lit.Value)
			}
		}
		return text == ""
	})
	if err != nil || text == "" {
		t.Fatalf("%s holds no schema constant (%v)", file, err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := doc.(map[string]any)["id"].(string); id != sarifSchemaID {
		t.Fatalf("%s holds the schema %q, want %s", file, id, sarifSchemaID)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	if err := c.AddResource(sarifSchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(sarifSchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSARIFMatchesTheOfficialSchema validates what -o sarif writes for a
// report with errors and warnings of several rules, from files (with
// lines; an absolute and a relative path), a kustomize directory (a
// source, no file) and stdin (neither),
// against the official schema; then reads it back with a SARIF library.
func TestSARIFMatchesTheOfficialSchema(t *testing.T) {
	base, err := LoadKustomize(filepath.Join(corpusDir, "pdb-overlap"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := LoadFile(filepath.Join("testdata", "seeds", "004.yaml")) // a relative path, as on a command line
	if err != nil {
		t.Fatal(err)
	}
	_, r, b := lintToSARIF(t, budgeted("replicas: 3", "maxUnavailable: 0")+"---\n"+autoscaler("web", "2"), base, seed)
	rules, levels, lines := map[string]bool{}, map[Severity]bool{}, 0
	for _, f := range r.Findings {
		rules[f.Rule], levels[f.Severity] = true, true
		if _, isFile := sarifURI(f.Source); isFile && f.Line > 0 {
			lines++
		}
	}
	for _, want := range []string{"pdb-blocks-eviction", "hpa-replicas-conflict", "pdb-overlap", "readiness-probe-missing", "memory-limit", RuleSchema} {
		if !rules[want] {
			t.Errorf("the report has no %s finding, which this test means to cover", want)
		}
	}
	if !levels[Error] || !levels[Warning] || lines == 0 {
		t.Fatalf("the report lacks errors, warnings or file lines:\n%s", text(t, r))
	}

	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	schema := officialSARIFSchema(t)
	if err := schema.Validate(v); err != nil {
		t.Fatalf("the SARIF log does not validate against %s:\n%v", sarifSchemaID, err)
	}
	// The schema is in force: the same log with one defect each fails it.
	for name, breakIt := range map[string]func(result map[string]any){
		"an unknown property":         func(res map[string]any) { res["severity"] = "error" },
		"a level SARIF does not have": func(res map[string]any) { res["level"] = "warn" },
		"a message without text":      func(res map[string]any) { res["message"] = map[string]any{"markdown": "x"} },
		"line 0": func(res map[string]any) {
			res["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)["region"] = map[string]any{"startLine": 0}
		},
	} {
		bad, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		results := bad.(map[string]any)["runs"].([]any)[0].(map[string]any)["results"].([]any)
		for _, res := range results {
			if loc := res.(map[string]any)["locations"].([]any)[0].(map[string]any); loc["physicalLocation"] != nil {
				breakIt(res.(map[string]any))
				break
			}
		}
		if schema.Validate(bad) == nil {
			t.Errorf("a log with %s validates: the schema is not in force", name)
		}
	}

	log, err := gosarif.FromBytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) != len(r.Findings) {
		t.Fatalf("go-sarif reads %d runs, want 1 with %d results", len(log.Runs), len(r.Findings))
	}
	withLine := 0
	for i, res := range log.Runs[0].Results {
		f := r.Findings[i]
		if res.RuleID == nil || *res.RuleID != f.Rule || res.Level != string(f.Severity) {
			t.Errorf("result %d: rule %v, level %s; want %s, %s", i, res.RuleID, res.Level, f.Rule, f.Severity)
		}
		if pl := res.Locations[0].PhysicalLocation; pl != nil && pl.Region != nil && pl.Region.StartLine != nil {
			withLine++
		}
	}
	if withLine != lines {
		t.Errorf("%d results carry a start line, want %d", withLine, lines)
	}
}
