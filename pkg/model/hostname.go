package model

import "strings"

// validHostname reports whether h is a DNS name as Istio accepts for
// ServiceEntry hosts: labels of letters, digits, '-' and '_', at most 63
// bytes each and 253 in all, optionally under a leading "*." wildcard, or
// "*" alone. Anything else would end up in proxy resource names and be
// rejected there.
func validHostname(h string) bool {
	return h == "*" || IsDNSName(strings.TrimPrefix(h, "*."))
}

// IsDNSName reports whether s is dot-separated labels of letters, digits,
// '-' and '_' (as Istio accepts in hosts), at most 63 characters each and
// 253 in all.
func IsDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if r != '-' && r != '_' && (r < '0' || r > '9') && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
				return false
			}
		}
	}
	return true
}
