package model

import (
	"fmt"
	"slices"
)

// ExportTo is the set of namespaces an object is visible to, from an
// exportTo field or the networking.istio.io/exportTo annotation.
// The zero value is visible to every namespace.
type ExportTo struct {
	all        bool
	none       bool
	namespaces []string
}

// ParseExportTo reads exportTo values for an object in namespace ns: "*"
// (every namespace), "." (ns only), "~" (no namespace) or namespace names.
// An empty list means every namespace, Istio's default.
func ParseExportTo(values []string, ns string) (ExportTo, error) {
	if len(values) == 0 {
		return ExportTo{all: true}, nil
	}
	var e ExportTo
	for _, v := range values {
		switch v {
		case "*":
			e.all = true
		case ".":
			e.namespaces = append(e.namespaces, ns)
		case "~":
			e.none = true
		case "":
			return ExportTo{}, fmt.Errorf("empty namespace")
		default:
			e.namespaces = append(e.namespaces, v)
		}
	}
	if e.none && (e.all || len(e.namespaces) > 0) {
		return ExportTo{}, fmt.Errorf(`"~" cannot be combined with other values`)
	}
	slices.Sort(e.namespaces)
	e.namespaces = slices.Compact(e.namespaces)
	return e, nil
}

// VisibleTo reports whether a proxy in namespace ns sees the object.
func (e ExportTo) VisibleTo(ns string) bool {
	if e.none {
		return false
	}
	if e.all || (len(e.namespaces) == 0) {
		return true
	}
	return slices.Contains(e.namespaces, ns)
}

// Private reports whether the object is visible only to the given namespace.
func (e ExportTo) Private(ns string) bool {
	return !e.all && !e.none && len(e.namespaces) == 1 && e.namespaces[0] == ns
}

func (e ExportTo) privateNamespace() (string, bool) {
	if !e.all && !e.none && len(e.namespaces) == 1 {
		return e.namespaces[0], true
	}
	return "", false
}
