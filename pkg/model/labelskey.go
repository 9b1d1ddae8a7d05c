package model

import (
	"slices"
	"strings"
)

// LabelsKey is a label set as a string, the same for equal sets: "|k=v" per
// label, sorted by key. Label keys and values hold neither '|' nor '=', so
// different sets never share a key.
func LabelsKey(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("|" + k + "=" + labels[k])
	}
	return b.String()
}
