package render

import (
	"go/parser"
	"go/token"
	"path"
	"strings"
	"testing"
)

func validData(name, module string) Data {
	return Data{
		Name: name, Module: module,
		HTTPPort: DefaultHTTPPort, GRPCPort: DefaultGRPCPort, HealthPort: DefaultHealthPort,
		Image: "registry.example.com/" + name, IngressHost: name + ".example.com", Namespace: name,
		GatewayName: DefaultGatewayName, GatewayNamespace: DefaultGatewayNamespace,
		ScaffoldVersion: Version,
	}
}

// FuzzNameAndModule checks that validation never panics, and that whatever it
// accepts renders without error into Go files that parse and paths that stay
// inside the tree.
func FuzzNameAndModule(f *testing.F) {
	for _, seed := range [][2]string{
		{"example-service", "github.com/zerodrop/zerodrop/example-service"},
		{"a", "example.com/a/v2"},
		{"svc-2-x", "gitlab.com/acme/deep/path"},
		{"Bad", "x"},
		{"a--b", "example.com/a b"},
		{strings.Repeat("a", 60), "example.com/" + strings.Repeat("b", 300)},
		{"x-", "example.com/x/v1"},
		{"go", "go"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, name, module string) {
		d := validData(name, module)
		if d.Validate() != nil {
			return
		}
		files, err := Render(d)
		if err != nil {
			t.Fatalf("Render(%q, %q) after Validate passed: %v", name, module, err)
		}
		for _, f := range files {
			if path.IsAbs(f.Path) || strings.HasPrefix(path.Clean(f.Path), "..") {
				t.Fatalf("rendered path %q escapes the tree", f.Path)
			}
			if path.Ext(f.Path) != ".go" {
				continue
			}
			if _, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Content, parser.AllErrors); err != nil {
				t.Fatalf("%s does not parse for name %q, module %q: %v", f.Path, name, module, err)
			}
		}
	})
}

func TestRenderIsDeterministicAndMirrorsTemplates(t *testing.T) {
	d := validData("orders", "example.com/orders")
	a, err := Render(d)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Render(d)
	if len(a) != len(b) {
		t.Fatalf("two renders differ in length: %d, %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || string(a[i].Content) != string(b[i].Content) {
			t.Fatalf("two renders differ at %s", a[i].Path)
		}
		if strings.Contains(string(a[i].Content), "{{") && path.Base(a[i].Path) != "go.mod" {
			t.Errorf("%s still holds template syntax", a[i].Path)
		}
		if strings.Contains(a[i].Path, "__") {
			t.Errorf("%s keeps a path placeholder", a[i].Path)
		}
	}
}

func TestDerivedNames(t *testing.T) {
	d := validData("svc2-api", "example.com/svc2/v3")
	for got, want := range map[string]string{
		d.ProtoPackage():     "svc2api.v1",
		d.GoPackage():        "svc2apiv1",
		d.APIImport():        "example.com/svc2/v3/api/svc2api/v1",
		d.HeadlessName():     "svc2-api-headless",
		d.ClientTarget():     "dns:///svc2-api-headless.svc2-api.svc.cluster.local:9090",
		d.ClientFQDNTarget(): "dns:///svc2-api-headless.svc2-api.svc.cluster.local.:9090",
		d.Title():            "Svc2 Api",
		d.Snake():            "svc2_api",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if d.GracePeriod() != 30 {
		t.Errorf("GracePeriod = %d, want D + S + F + M = 30", d.GracePeriod())
	}
}

// TestToolsCacheKeyIsSharedByServices checks that every service maps to the
// same cached protobuf tools, whatever its name and module, so that scaffold
// builds them once and not once per service.
func TestToolsCacheKeyIsSharedByServices(t *testing.T) {
	var keys []string
	for _, d := range []Data{validData("orders", "example.com/orders"), validData("pay2-api", "github.com/acme/pay/v2")} {
		files, err := Render(d)
		if err != nil {
			t.Fatal(err)
		}
		src, key, err := toolsSource(files)
		if err != nil {
			t.Fatal(err)
		}
		for name, b := range src {
			if strings.Contains(string(b), d.Module) || strings.Contains(string(b), d.Name) {
				t.Errorf("%s: cached tools/%s still names the service", d.Name, name)
			}
		}
		keys = append(keys, key)
	}
	if keys[0] != keys[1] {
		t.Errorf("two services key different tool builds: %v", keys)
	}
}
