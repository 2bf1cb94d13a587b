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

// TestRecordBeforeGateway: a record written before the Gateway answers
// existed reads with the defaults that scaffold new gives now, and an answer
// can change them; a bad one fails validation with the flag's name.
func TestRecordBeforeGateway(t *testing.T) {
	old := "scaffoldVersion: 0.1.0\nname: a\nmodule: x.org/a\nhttpPort: 8080\ngrpcPort: 9090\nhealthPort: 8081\n" +
		"image: a\nhost: a.example.com\nnamespace: a\nexample: true\n"
	d, err := ReadRecord([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if d.GatewayName != DefaultGatewayName || d.GatewayNamespace != DefaultGatewayNamespace {
		t.Errorf("an old record's Gateway = %s/%s, want the defaults %s/%s", d.GatewayNamespace, d.GatewayName, DefaultGatewayNamespace, DefaultGatewayName)
	}
	if err := d.SetAnswer("gateway", "shared"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAnswer("gatewayNamespace", "infra"); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Errorf("gateway infra/shared: %v", err)
	}
	d.GatewayName, d.GatewayNamespace = "Shared_GW", "-infra"
	err = d.Validate()
	for _, want := range []string{`--gateway "Shared_GW"`, `--gateway-namespace "-infra"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate with a bad Gateway = %v, want an error naming %s", err, want)
		}
	}
}
