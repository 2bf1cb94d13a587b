package lint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// document is one YAML document of a file, with the line it starts on, so
// that findings can point at file:line instead of a document number.
type document struct {
	text []byte
	line int // 1-based line of the file where text starts
}

// splitDocuments splits multi-document YAML the way the apimachinery
// YAMLReader does (a line that starts with --- ends a document; only a
// comment may follow it), keeping where each document starts.
func splitDocuments(r io.Reader, name string) ([]document, error) {
	var docs []document
	var cur bytes.Buffer
	start, n := 1, 0
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			n++
			if bytes.HasPrefix(line, []byte("---")) {
				rest := strings.TrimSpace(string(line[3:]))
				if rest != "" && !strings.HasPrefix(rest, "#") {
					return nil, fmt.Errorf("read %s: line %d: only a comment may follow the document separator ---", name, n)
				}
				if cur.Len() > 0 {
					docs = append(docs, document{bytes.Clone(cur.Bytes()), start})
					cur.Reset()
				}
				start = n + 1
			} else {
				cur.Write(line)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	if cur.Len() > 0 {
		docs = append(docs, document{cur.Bytes(), start})
	}
	return docs, nil
}

// pathSegment is one step of a finding's field path: a key, optionally
// followed by a list index ([2]) or a list item named by a field
// ([name=web], or [NAME] for an env variable).
type pathSegment struct {
	key      string
	index    int    // -1 unless [N]
	matchKey string // "name" for [name=web] and [NAME]
	matchVal string
}

// parseFieldPath splits spec.template.spec.containers[name=web].env[A]
// into its segments. Dots inside brackets belong to the name.
func parseFieldPath(path string) []pathSegment {
	var segs []pathSegment
	for path != "" {
		end := len(path)
		depth := 0
		for i, r := range path {
			if r == '[' {
				depth++
			} else if r == ']' {
				depth--
			} else if r == '.' && depth == 0 {
				end = i
				break
			}
		}
		part := path[:end]
		path = strings.TrimPrefix(path[end:], ".")
		key, sel, hasSel := strings.Cut(part, "[")
		seg := pathSegment{key: key, index: -1}
		if hasSel {
			sel = strings.TrimSuffix(sel, "]")
			if n, err := strconv.Atoi(sel); err == nil {
				seg.index = n
			} else if k, v, ok := strings.Cut(sel, "="); ok {
				seg.matchKey, seg.matchVal = k, v
			} else {
				seg.matchKey, seg.matchVal = "name", sel
			}
		}
		segs = append(segs, seg)
	}
	return segs
}

// fieldLine returns the line, counted within the document root, of the
// deepest node of the field path the document holds: the field itself when
// it is there, or the closest enclosing one (a missing readinessProbe points
// at its container).
func fieldLine(root *kyaml.Node, path string) int {
	if len(root.Content) == 0 {
		return 1
	}
	node := root.Content[0]
	line := node.Line
	for _, seg := range parseFieldPath(path) {
		if seg.key != "" {
			val, keyLine := mappingValue(node, seg.key)
			if val == nil {
				return line
			}
			node, line = val, keyLine
		}
		if seg.index < 0 && seg.matchKey == "" {
			continue
		}
		item := listItem(node, seg)
		if item == nil {
			return line
		}
		node, line = item, item.Line
	}
	return line
}

func mappingValue(n *kyaml.Node, key string) (*kyaml.Node, int) {
	if n.Kind != kyaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1], n.Content[i].Line
		}
	}
	return nil, 0
}

func listItem(n *kyaml.Node, seg pathSegment) *kyaml.Node {
	if n.Kind != kyaml.SequenceNode {
		return nil
	}
	if seg.index >= 0 {
		if seg.index < len(n.Content) {
			return n.Content[seg.index]
		}
		return nil
	}
	for _, item := range n.Content {
		if v, _ := mappingValue(item, seg.matchKey); v != nil && v.Value == seg.matchVal {
			return item
		}
	}
	return nil
}
