package render

import (
	"io/fs"

	"github.com/zerodrop/zerodrop/templates"
)

// Builtin is the template tree embedded in this binary, rooted at the
// service's root.
func Builtin() fs.FS {
	sub, err := fs.Sub(templates.FS, templates.Root)
	if err != nil {
		panic("templates: " + err.Error()) // a constant root inside an embedded FS
	}
	return sub
}
