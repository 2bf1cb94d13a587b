// Package templates holds the files that scaffold renders into a new service.
//
// The tree under service/ mirrors the generated tree one for one: each
// <path>.tmpl renders to <path>, and the path elements __name__ and
// __protopkg__ are replaced by the service name and its protobuf package
// directory. Files that Go tooling would otherwise treat specially (go.mod,
// go.sum) carry the .tmpl suffix too, because go:embed refuses directories
// that contain a go.mod.
package templates

import "embed"

// FS is the embedded template tree, dotfiles included.
//
//go:embed all:service
var FS embed.FS

// Root is the directory inside FS that corresponds to the generated tree's root.
const Root = "service"
