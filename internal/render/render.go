// Package render turns a template tree and one Data value into the files of a
// service, entirely in memory, and then writes them in one step. The tree is
// the one embedded in the binary, or an older one that scaffold update needs
// in order to see what a service was generated from (see trees.go).
package render

import (
	"bytes"
	"fmt"
	"go/format"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"
)

// File is one rendered file. Path is slash-separated and relative to the
// service root. Source is the template it came from, relative to the tree's
// root, so that an update can follow a file whose path depends on the answers.
type File struct {
	Path    string
	Source  string
	Mode    fs.FileMode
	Content []byte
}

// File modes: explicit, so that the result does not depend on the umask of
// whoever built the templates.
const (
	fileMode       fs.FileMode = 0o644
	executableMode fs.FileMode = 0o755
	dirMode        fs.FileMode = 0o755
)

// funcs is the whole FuncMap. Everything else is a field or method of Data.
var funcs = template.FuncMap{
	"lower": strings.ToLower,
}

// Render executes every template of the built-in tree against d and returns
// the files sorted by path. Rendered Go files are gofmt'd, so template
// whitespace can never reach the output. The protobuf code is not among them:
// see Write and GenerateProto.
func Render(d Data) ([]File, error) { return RenderFS(Builtin(), d) }

// RenderFS is Render for any template tree; fsys is rooted at the tree's root,
// the directory that corresponds to the service's root.
func RenderFS(fsys fs.FS, d Data) ([]File, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var files []File
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if !strings.HasSuffix(p, ".tmpl") {
			return fmt.Errorf("template %s: every template file must end in .tmpl", p)
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if d.NoExample && IsExample(p) {
			return nil
		}
		rel := strings.TrimSuffix(p, ".tmpl")
		out := OutputPath(rel, d)
		t, err := template.New(rel).Funcs(funcs).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("parse template %s: %w", p, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return fmt.Errorf("render %s: %w", p, err)
		}
		content := buf.Bytes()
		if path.Ext(out) == ".go" {
			formatted, err := format.Source(content)
			if err != nil {
				return fmt.Errorf("render %s: rendered Go does not parse: %w", p, err)
			}
			content = formatted
		}
		mode := fileMode
		if path.Ext(out) == ".sh" {
			mode = executableMode
		}
		files = append(files, File{Path: out, Source: p, Mode: mode, Content: content})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// OutputPath maps a template-relative path to the generated path.
func OutputPath(rel string, d Data) string {
	rel = strings.ReplaceAll(rel, "__name__", d.Name)
	return strings.ReplaceAll(rel, "__protopkg__", d.ProtoDir())
}

// exampleTemplates are the example API's own templates, whole directories
// ending in a slash: its proto, its implementation and its typed client.
// scaffold new --example=false leaves them out, and the registration point
// in cmd/NAME/api.go renders empty. Everything else is runtime, which must
// never import them.
var exampleTemplates = []string{
	"api/__protopkg__/v1/",
	"internal/greeter/",
	"client/greeter.go.tmpl",
}

// IsExample reports whether the template at p, relative to the tree's
// root, belongs to the example API.
func IsExample(p string) bool {
	for _, e := range exampleTemplates {
		if p == e || strings.HasSuffix(e, "/") && strings.HasPrefix(p, e) {
			return true
		}
	}
	return false
}

// movedFrom names, for a template that took over a file another template
// used to render, that other template: scaffold update carries the user's
// edits from the old file to the new one however much it changed on the
// way, where it would otherwise pair files by likeness alone.
var movedFrom = map[string]string{
	"internal/greeter/greeter.go.tmpl": "internal/grpcserver/greeter.go.tmpl",
}

// MovedFrom is the template that the template at p, relative to the tree's
// root, took over from, if any.
func MovedFrom(p string) (string, bool) {
	from, ok := movedFrom[p]
	return from, ok
}
