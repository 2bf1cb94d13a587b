package lint

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sarifSchema is the part of the SARIF 2.1.0 schema (OASIS,
// sarif-schema-2.1.0.json) that the writer's output reaches: for each
// object, its allowed properties (every object in the schema sets
// additionalProperties: false) and the required ones, and for each
// property the definition of its value ("[]x" for an array of x).
func sarifSchema() map[string]struct {
	props    map[string]string
	required []string
} {
	type def = struct {
		props    map[string]string
		required []string
	}
	return map[string]def{
		"sarifLog": {map[string]string{"$schema": "string", "version": "version", "runs": "[]run", "inlineExternalProperties": "any", "properties": "propertyBag"}, []string{"version", "runs"}},
		"run": {map[string]string{"tool": "tool", "results": "[]result", "properties": "propertyBag", "invocations": "any", "artifacts": "any",
			"logicalLocations": "any", "automationDetails": "any", "originalUriBaseIds": "any", "columnKind": "any"}, []string{"tool"}},
		"tool":                     {map[string]string{"driver": "toolComponent", "extensions": "any", "properties": "propertyBag"}, []string{"driver"}},
		"toolComponent":            {map[string]string{"name": "string", "informationUri": "uri", "rules": "[]reportingDescriptor", "version": "string", "semanticVersion": "string", "fullName": "string", "properties": "propertyBag"}, []string{"name"}},
		"reportingDescriptor":      {map[string]string{"id": "string", "name": "string", "shortDescription": "multiformatMessageString", "fullDescription": "multiformatMessageString", "defaultConfiguration": "reportingConfiguration", "helpUri": "uri", "help": "multiformatMessageString", "properties": "propertyBag"}, []string{"id"}},
		"multiformatMessageString": {map[string]string{"text": "string", "markdown": "string", "properties": "propertyBag"}, []string{"text"}},
		"reportingConfiguration":   {map[string]string{"enabled": "any", "level": "level", "rank": "any", "parameters": "any", "properties": "propertyBag"}, nil},
		"result":                   {map[string]string{"ruleId": "string", "ruleIndex": "index", "level": "level", "message": "message", "locations": "[]location", "partialFingerprints": "any", "properties": "propertyBag"}, []string{"message"}},
		"message":                  {map[string]string{"text": "string", "markdown": "string", "id": "string", "arguments": "any", "properties": "propertyBag"}, []string{"text"}},
		"location":                 {map[string]string{"id": "any", "physicalLocation": "physicalLocation", "logicalLocations": "[]logicalLocation", "message": "message", "annotations": "any", "relationships": "any", "properties": "propertyBag"}, nil},
		"physicalLocation":         {map[string]string{"address": "any", "artifactLocation": "artifactLocation", "region": "region", "contextRegion": "region", "properties": "propertyBag"}, []string{"artifactLocation"}},
		"artifactLocation":         {map[string]string{"uri": "uri", "uriBaseId": "string", "index": "index", "description": "message", "properties": "propertyBag"}, nil},
		"region":                   {map[string]string{"startLine": "line", "startColumn": "line", "endLine": "line", "endColumn": "line", "snippet": "any", "message": "message", "properties": "propertyBag"}, nil},
		"logicalLocation":          {map[string]string{"name": "string", "index": "index", "fullyQualifiedName": "string", "decoratedName": "string", "parentIndex": "index", "kind": "string", "properties": "propertyBag"}, nil},
	}
}

// validateSARIF checks v against the definition def of sarifSchema.
func validateSARIF(t *testing.T, path, def string, v any) {
	t.Helper()
	if rest, ok := strings.CutPrefix(def, "[]"); ok {
		items, isList := v.([]any)
		if !isList {
			t.Errorf("%s: not an array", path)
			return
		}
		for i, item := range items {
			validateSARIF(t, path+"["+strconv.Itoa(i)+"]", rest, item)
		}
		return
	}
	switch def {
	case "any", "propertyBag":
		return
	case "string":
		if _, ok := v.(string); !ok {
			t.Errorf("%s: not a string", path)
		}
		return
	case "version":
		if v != "2.1.0" {
			t.Errorf("%s: version %v, want 2.1.0", path, v)
		}
		return
	case "level":
		if !slices.Contains([]any{"none", "note", "warning", "error"}, v) {
			t.Errorf("%s: level %v", path, v)
		}
		return
	case "index", "line":
		n, ok := v.(float64)
		if min := map[string]float64{"index": -1, "line": 1}[def]; !ok || n != float64(int(n)) || n < min {
			t.Errorf("%s: %v is not an integer ≥ %v", path, v, min)
		}
		return
	case "uri":
		s, ok := v.(string)
		if _, err := url.Parse(s); !ok || err != nil || s == "" {
			t.Errorf("%s: %v is not a URI reference", path, v)
		}
		return
	}
	obj, ok := v.(map[string]any)
	d, known := sarifSchema()[def]
	if !ok || !known {
		t.Errorf("%s: not a %s object", path, def)
		return
	}
	for k, val := range obj {
		propDef, allowed := d.props[k]
		if !allowed {
			t.Errorf("%s: %s allows no property %q", path, def, k)
			continue
		}
		validateSARIF(t, path+"."+k, propDef, val)
	}
	for _, k := range d.required {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s: %s requires %q", path, def, k)
		}
	}
}

// lintToSARIF lints doc, written to a file of its own, with the other
// inputs and a broken Service read from stdin, and writes the report as
// SARIF.
func lintToSARIF(t *testing.T, doc string, more ...*Input) (file string, r Report, b bytes.Buffer) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range more {
		in.Add(m)
	}
	stdin := loadString(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selectr: {}}\n")
	stdin.Objects[0].Source, stdin.problems[0].Source = "-", "-"
	in.Add(stdin)
	if r, err = Lint(in, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteSARIF(&b, r, Rules()); err != nil {
		t.Fatal(err)
	}
	return file, r, b
}

// TestWriteSARIF writes the report of a broken file as SARIF and checks it
// against the schema's rules for what it holds: every finding a result with
// its rule, level, message, file and line, and every rule described.
func TestWriteSARIF(t *testing.T) {
	const doc = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: web\n        ports: [{containerPort: 8080}]\n"
	file, r, b := lintToSARIF(t, doc)
	var log any
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, "$", "sarifLog", log)

	var got struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string }
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Locations []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	run := got.Runs[0]
	if len(run.Tool.Driver.Rules) != len(Rules()) || len(run.Results) != len(r.Findings) {
		t.Fatalf("%d rules and %d results, want %d and %d", len(run.Tool.Driver.Rules), len(run.Results), len(Rules()), len(r.Findings))
	}
	sawLine, sawStdin := false, false
	for i, res := range run.Results {
		f := r.Findings[i]
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID || res.RuleID != f.Rule || res.Level != string(f.Severity) {
			t.Errorf("result %d: rule %s (index %d), level %s; finding %s, %s", i, res.RuleID, res.RuleIndex, res.Level, f.Rule, f.Severity)
		}
		switch pl := res.Locations[0].PhysicalLocation; {
		case f.Source == "-":
			sawStdin = true
			if pl != nil {
				t.Errorf("result %d on stdin has a file: %+v", i, pl)
			}
		case pl == nil || pl.ArtifactLocation.URI != "file://"+filepath.ToSlash(file) || pl.Region.StartLine != f.Line:
			t.Errorf("result %d: location %+v, want %s:%d", i, pl, file, f.Line)
		case f.Rule == "readiness-probe-missing" && f.Line == 10:
			sawLine = true
		}
	}
	if !sawLine || !sawStdin {
		t.Errorf("no readiness-probe-missing result at line 10 (%v), or none on stdin (%v)", sawLine, sawStdin)
	}
}
