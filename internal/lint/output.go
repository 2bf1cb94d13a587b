package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText prints the report for a person: findings grouped by object,
// each with its severity, rule, field, the problem and the fix, and a
// closing count.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	last := ""
	for _, f := range r.Findings {
		head := f.Object()
		if f.Source != "" && f.Source != f.Name {
			head += " (" + f.Source + ")"
		}
		if head != last {
			if last != "" {
				b.WriteString("\n")
			}
			b.WriteString(head + "\n")
			last = head
		}
		field := ""
		if f.Field != "" {
			field = " at " + f.Field
		}
		if f.Line > 0 {
			field += fmt.Sprintf(" (%s:%d)", f.Source, f.Line)
		}
		fmt.Fprintf(&b, "  %-7s %s%s\n", f.Severity, f.Rule, field)
		fmt.Fprintf(&b, "          %s\n", f.Message)
		fmt.Fprintf(&b, "          fix: %s\n", f.Fix)
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(summaryLine(r) + "\n")
	fmt.Fprintf(&b, "%s: %s, %s\n", plural(r.Objects, "object"), plural(r.Errors, "error"), plural(r.Warnings, "warning"))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report for a program.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// summaryLine says what was checked and what was skipped:
// "checked: 3 Deployments, 1 StatefulSet; skipped: 1 Rollout (argoproj.io/v1alpha1, unknown kind)".
func summaryLine(r Report) string {
	var checked []string
	for _, k := range r.Checked {
		checked = append(checked, plural(k.Count, k.Kind))
	}
	line := "checked: no workloads"
	if len(checked) > 0 {
		line = "checked: " + strings.Join(checked, ", ")
	}
	if len(r.Skipped) > 0 {
		var skipped []string
		for _, k := range r.Skipped {
			skipped = append(skipped, fmt.Sprintf("%s (%s, %s)", plural(k.Count, k.Kind), k.APIVersion, k.Reason))
		}
		line += "; skipped: " + strings.Join(skipped, ", ")
	}
	return line
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
