package lint

import (
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
)

// SARIF 2.1.0, the subset GitHub code scanning reads: one run, the rules as
// the tool's reporting descriptors, and one result per finding with its
// file and line where the input has them. Objects are named as logical
// locations, so a finding on stdin input still says where it is.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool      `json:"tool"`
	Results    []sarifResult  `json:"results"`
	Properties map[string]any `json:"properties,omitempty"` // what was checked and skipped
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string        `json:"id"`
	ShortDescription     sarifText     `json:"shortDescription"`
	DefaultConfiguration sarifRuleConf `json:"defaultConfiguration"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// WriteSARIF prints the report as a SARIF 2.1.0 log, for GitHub code
// scanning (upload it with github/codeql-action/upload-sarif).
func WriteSARIF(w io.Writer, r Report, rules []Rule) error {
	driver := sarifDriver{Name: "scaffold lint", InformationURI: "https://github.com/zerodrop/zerodrop", Rules: []sarifRule{}}
	for _, rule := range rules {
		driver.Rules = append(driver.Rules, sarifRule{ID: rule.ID, ShortDescription: sarifText{rule.Summary}, DefaultConfiguration: sarifRuleConf{sarifLevel(rule.Severity)}})
	}
	run := sarifRun{Tool: sarifTool{driver}, Results: []sarifResult{}, Properties: map[string]any{"checked": r.Checked, "skipped": r.Skipped}}
	for _, f := range r.Findings {
		loc := sarifLocation{LogicalLocations: []sarifLogical{{FullyQualifiedName: f.Object() + fieldSuffix(f.Field), Kind: "resource"}}}
		if uri, ok := sarifURI(f.Source); ok {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifactLocation{uri}}
			if f.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{f.Line}
			}
		}
		run.Results = append(run.Results, sarifResult{
			RuleID:    f.Rule,
			RuleIndex: slices.IndexFunc(rules, func(r Rule) bool { return r.ID == f.Rule }),
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{f.Object() + fieldSuffix(f.Field) + ": " + f.Message + ". Fix: " + f.Fix},
			Locations: []sarifLocation{loc},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}

func fieldSuffix(field string) string {
	if field == "" {
		return ""
	}
	return " at " + field
}

func sarifLevel(s Severity) string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// sarifURI turns a finding's source into a URI reference, relative to the
// working directory as the source is, when it is a file: stdin and
// kustomize directories have no file to point at, nor do remote bases.
func sarifURI(source string) (string, bool) {
	if fi, err := os.Stat(source); source == "-" || err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	u := &url.URL{Path: filepath.ToSlash(filepath.Clean(source))}
	if filepath.IsAbs(source) {
		u.Scheme = "file"
	}
	return u.String(), true
}
