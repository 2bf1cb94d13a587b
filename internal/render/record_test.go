package render

import (
	"strings"
	"testing"
)

// TestRecordRoundTrip reads back the .scaffold.yaml that the templates
// render, and rejects records it cannot trust.
func TestRecordRoundTrip(t *testing.T) {
	d := validData("no", "example.com/no") // "no" is a YAML 1.1 boolean
	d.HTTPPort, d.TemplateHash = 18080, "sha256:"+strings.Repeat("ab", 32)
	files, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	var rec []byte
	for _, f := range files {
		if f.Path == RecordFile {
			rec = f.Content
		}
	}
	got, err := ReadRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Errorf("ReadRecord(render(d)) = %+v, want %+v", got, d)
	}
	for _, tt := range []struct{ record, wantErr string }{
		{"scaffoldVersion: 0.1.0\nname: a\nmodule: x.org/a\ncolour: blue\n", `unknown answer "colour"`},
		{"scaffoldVersion: 0.1.0\nname: a\nmodule: x.org/a\nhttpPort: web\n", `httpPort "web" is not a port number`},
		{"scaffoldVersion: 0.1.0\nname: a\nname: b\nmodule: x.org/a\n", "repeats name"},
		{"name: a\nmodule: x.org/a\n", "lacks scaffoldVersion"},
		{"just words\n", `is not "key: value"`},
	} {
		if _, err := ReadRecord([]byte(tt.record)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ReadRecord(%q) = %v, want an error containing %q", tt.record, err, tt.wantErr)
		}
	}
}
