package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/zerodrop/zerodrop/internal/render"
)

// changeKind is what an update does to one file.
type changeKind string

const (
	kindAdded       changeKind = "added"       // new in the template
	kindUpdated     changeKind = "updated"     // you never changed it: the template's new content
	kindMerged      changeKind = "merged"      // both changed it, and the changes merged
	kindConflict    changeKind = "conflict"    // both changed it, and they did not merge
	kindRenamed     changeKind = "renamed"     // the template moved it; its content is yours
	kindDeleted     changeKind = "deleted"     // gone from the template, and you never changed it
	kindKept        changeKind = "kept"        // gone from the template, but you changed it
	kindRegenerated changeKind = "regenerated" // generated code, rebuilt from the merged .proto
)

// change is one line of an update's plan.
type change struct {
	kind changeKind
	path string
	from string // the file's path before a rename
	note string
}

// plan is everything an update would do, computed before anything is
// written.
type plan struct {
	changes []change
	writes  []fileWrite
	deletes []string
}

func (p *plan) conflicts() []string {
	var paths []string
	for _, c := range p.changes {
		if c.kind == kindConflict {
			paths = append(paths, c.path)
		}
	}
	return paths
}

// planner merges one service's files: base is what the old template rendered
// from the recorded answers, theirs what the new one renders, and ours is the
// service's working tree at root.
type planner struct {
	ctx    context.Context
	root   string
	labels mergeLabels
	plan   plan
}

// mergeAll pairs the files of the two renders by the template they come
// from, so that a path that follows the answers (cmd/NAME) moves when they
// change; a template that was itself moved is paired by content. Then each
// file is merged on its own.
func (pl *planner) mergeAll(base, theirs []render.File) error {
	newBySource := map[string]*render.File{}
	for i := range theirs {
		newBySource[theirs[i].Source] = &theirs[i]
	}
	oldSources := map[string]bool{}
	var removed, added []*render.File
	for i := range base {
		b := &base[i]
		oldSources[b.Source] = true
		t, ok := newBySource[b.Source]
		if !ok {
			removed = append(removed, b)
			continue
		}
		if err := pl.changed(b, t); err != nil {
			return err
		}
	}
	for i := range theirs {
		if !oldSources[theirs[i].Source] {
			added = append(added, &theirs[i])
		}
	}
	for _, m := range matchMoves(removed, added) {
		var err error
		switch {
		case m.old == nil:
			err = pl.added(m.new)
		case m.new == nil:
			err = pl.removed(m.old)
		default:
			err = pl.changed(m.old, m.new)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ours reads the service's own copy of a file.
func (pl *planner) ours(p string) (content []byte, mode fs.FileMode, ok bool, err error) {
	o, err := readOriginal(pl.root, p)
	return o.content, o.mode, o.existed, err
}

func (pl *planner) write(p string, content []byte, mode fs.FileMode) {
	pl.plan.writes = append(pl.plan.writes, fileWrite{path: p, content: content, mode: mode})
}

func (pl *planner) note(c change) { pl.plan.changes = append(pl.plan.changes, c) }

// changed handles a file that both templates render, perhaps at different
// paths.
func (pl *planner) changed(b, t *render.File) error {
	u, mode, ok, err := pl.ours(b.Path)
	if err != nil {
		return err
	}
	if !ok {
		mode = t.Mode
	}
	moved := b.Path != t.Path
	if moved {
		if _, _, exists, err := pl.ours(t.Path); err != nil || exists {
			return errors.Join(err, render.Input(fmt.Errorf("the template moves %s to %s, but %s already exists and is not the template's: move it away, then run scaffold update again", b.Path, t.Path, t.Path)))
		}
	}
	// The record is scaffold's, not the user's: it always says what the tree
	// was last rendered from.
	if t.Source == render.RecordFile+".tmpl" {
		if !ok || !bytes.Equal(u, t.Content) {
			pl.write(t.Path, t.Content, mode)
			pl.note(change{kind: kindUpdated, path: t.Path})
		}
		return nil
	}
	if !ok {
		if !bytes.Equal(b.Content, t.Content) {
			pl.note(change{kind: kindConflict, path: b.Path, note: "you deleted it and the template changed it; it stays deleted (the template's version is at " + t.Path + " in a fresh scaffold new)"})
		}
		return nil
	}
	var result []byte
	var kind changeKind
	switch {
	case bytes.Equal(u, b.Content):
		result, kind = t.Content, kindUpdated
	case bytes.Equal(t.Content, b.Content) || bytes.Equal(u, t.Content):
		result = u
	default:
		if result, kind, err = pl.merge(b.Path, b.Content, u, t.Content); err != nil {
			return err
		}
	}
	if moved {
		if kind == "" || kind == kindUpdated {
			kind = kindRenamed
		}
		pl.write(t.Path, result, mode)
		pl.plan.deletes = append(pl.plan.deletes, b.Path)
		pl.note(change{kind: kind, path: t.Path, from: b.Path})
		return nil
	}
	if !bytes.Equal(result, u) {
		pl.write(t.Path, result, mode)
		pl.note(change{kind: kind, path: t.Path})
	}
	return nil
}

// merge merges one file three ways and says whether it merged or conflicted.
func (pl *planner) merge(p string, base, ours, theirs []byte) ([]byte, changeKind, error) {
	merged, conflict, err := merge3(pl.ctx, base, ours, theirs, pl.labels)
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("merge %s: %w", p, err)
	case conflict:
		return merged, kindConflict, nil
	}
	return merged, kindMerged, nil
}

// added handles a file new in the template.
func (pl *planner) added(t *render.File) error {
	u, mode, ok, err := pl.ours(t.Path)
	switch {
	case err != nil:
		return err
	case !ok:
		pl.write(t.Path, t.Content, t.Mode)
		pl.note(change{kind: kindAdded, path: t.Path})
	case !bytes.Equal(u, t.Content):
		// The user already has a file there: merge from nothing, as git
		// does when both sides add a file.
		merged, kind, err := pl.merge(t.Path, nil, u, t.Content)
		if err != nil {
			return err
		}
		pl.write(t.Path, merged, mode)
		pl.note(change{kind: kind, path: t.Path, note: "new in the template, and you had a file there"})
	}
	return nil
}

// removed handles a file the template no longer renders.
func (pl *planner) removed(b *render.File) error {
	u, _, ok, err := pl.ours(b.Path)
	switch {
	case err != nil:
		return err
	case !ok:
	case bytes.Equal(u, b.Content):
		pl.plan.deletes = append(pl.plan.deletes, b.Path)
		pl.note(change{kind: kindDeleted, path: b.Path})
	default:
		pl.note(change{kind: kindKept, path: b.Path, note: "the template no longer has it, but you changed it"})
	}
	return nil
}

// move pairs a file of the old render with one of the new; either may be
// nil, for a file only removed or only added.
type move struct{ old, new *render.File }

// minMoveSimilarity is how alike, by lines, a removed file's old content and
// an added file's new content must be for the added one to count as the
// removed one moved.
const minMoveSimilarity = 0.5

// matchMoves pairs each removed file with the most similar added file of the
// same extension, if any is similar enough; the rest stay unpaired.
//
// A move that the template declares (render.MovedFrom) pairs first,
// however much the file changed on the way: the example API's Greeter left
// the gRPC server's package for a package of its own, and what a user wrote
// in it must follow.
func matchMoves(removed, added []*render.File) []move {
	taken := map[*render.File]bool{}
	var moves []move
	declared := map[*render.File]*render.File{}
	for _, a := range added {
		for _, r := range removed {
			if from, ok := render.MovedFrom(a.Source); ok && from == r.Source && declared[r] == nil {
				declared[r] = a
				taken[a] = true
			}
		}
	}
	for _, r := range removed {
		if a := declared[r]; a != nil {
			moves = append(moves, move{old: r, new: a})
			continue
		}
		var best *render.File
		bestScore := minMoveSimilarity
		for _, a := range added {
			if taken[a] || path.Ext(a.Path) != path.Ext(r.Path) {
				continue
			}
			if s := similarity(r.Content, a.Content); s >= bestScore {
				best, bestScore = a, s
			}
		}
		if best != nil {
			taken[best] = true
		}
		moves = append(moves, move{old: r, new: best})
	}
	for _, a := range added {
		if !taken[a] {
			moves = append(moves, move{new: a})
		}
	}
	return moves
}

// similarity is the share of lines two texts have in common, from 0 to 1.
func similarity(a, b []byte) float64 {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	count := map[string]int{}
	for _, l := range la {
		count[l]++
	}
	common := 0
	for _, l := range lb {
		if count[l] > 0 {
			count[l]--
			common++
		}
	}
	return 2 * float64(common) / float64(len(la)+len(lb))
}

// finalContent is a file as the plan leaves it: written, deleted, or as the
// working tree has it.
func (p *plan) finalContent(root, rel string) ([]byte, bool, error) {
	for i := len(p.writes) - 1; i >= 0; i-- {
		if p.writes[i].path == rel {
			return p.writes[i].content, true, nil
		}
	}
	for _, d := range p.deletes {
		if d == rel {
			return nil, false, nil
		}
	}
	o, err := readOriginal(root, rel)
	return o.content, o.existed, err
}

// regenerate rebuilds the protobuf code from the .proto files as the plan
// leaves them, with the tools module as the plan leaves it, and adds whatever
// differs from the working tree. Generated code is never merged: a merge of
// two generated files is not what the generator makes of the merged .proto.
// Old generated files that nothing generates any more, as after a rename,
// are deleted.
func (pl *planner) regenerate(oldGenerated []string) error {
	p := &pl.plan
	for i, c := range p.changes {
		if c.kind == kindConflict && path.Ext(c.path) == ".proto" {
			p.changes[i].note = "the protobuf code was not regenerated: resolve the conflict, then run make generate"
			return nil
		}
	}
	var inputs []render.File
	for _, rel := range []string{"tools/go.mod", "tools/go.sum", "tools/protogen/main.go"} {
		b, ok, err := p.finalContent(pl.root, rel)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s is missing: the protobuf code cannot be regenerated without the service's tools module; restore it from git", rel)
		}
		inputs = append(inputs, render.File{Path: rel, Content: b})
	}
	protos := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(pl.root, "api"), func(full string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || e.IsDir() || filepath.Ext(full) != ".proto" {
			return err
		}
		rel, err := filepath.Rel(pl.root, full)
		protos[filepath.ToSlash(rel)] = true
		return err
	})
	if err != nil {
		return fmt.Errorf("find the .proto files under api/: %w", err)
	}
	for _, w := range p.writes {
		if strings.HasPrefix(w.path, "api/") && path.Ext(w.path) == ".proto" {
			protos[w.path] = true
		}
	}
	for rel := range protos {
		b, ok, err := p.finalContent(pl.root, rel)
		if err != nil {
			return err
		}
		if ok {
			inputs = append(inputs, render.File{Path: rel, Content: b})
		}
	}
	generated, err := render.GenerateProto(pl.ctx, inputs)
	if err != nil {
		return fmt.Errorf("regenerate the protobuf code from the merged .proto: %w", err)
	}
	made := map[string]bool{}
	for _, g := range generated {
		made[g.Path] = true
		u, mode, ok, err := pl.ours(g.Path)
		if err != nil {
			return err
		}
		if !ok {
			mode = g.Mode
		}
		if !ok || !bytes.Equal(u, g.Content) {
			pl.write(g.Path, g.Content, mode)
			pl.note(change{kind: kindRegenerated, path: g.Path})
		}
	}
	for _, g := range oldGenerated {
		if made[g] {
			continue
		}
		if _, _, ok, err := pl.ours(g); err != nil {
			return err
		} else if ok {
			p.deletes = append(p.deletes, g)
			pl.note(change{kind: kindDeleted, path: g, note: "generated from a .proto that is gone"})
		}
	}
	return nil
}
