// Package render turns the embedded templates and one Data value into the
// files of a new service, entirely in memory, and then writes them in one step.
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

	"github.com/zerodrop/zerodrop/templates"
)

// File is one rendered file. Path is slash-separated and relative to the
// service root.
type File struct {
	Path    string
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

// Render executes every template against d and returns the files sorted by
// path. Rendered Go files are gofmt'd, so template whitespace can never reach
// the output. The protobuf code is not among them: see Generate.
func Render(d Data) ([]File, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var files []File
	err := fs.WalkDir(templates.FS, templates.Root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if !strings.HasSuffix(p, ".tmpl") {
			return fmt.Errorf("template %s: every template file must end in .tmpl", p)
		}
		src, err := fs.ReadFile(templates.FS, p)
		if err != nil {
			return err
		}
		rel := strings.TrimSuffix(strings.TrimPrefix(p, templates.Root+"/"), ".tmpl")
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
		files = append(files, File{Path: out, Mode: mode, Content: content})
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
