package model

import (
	"fmt"
	"regexp"
	"unicode/utf8"
)

// FieldError is an invalid field of an object's spec.
type FieldError struct{ Field, Message string }

// headerName is an HTTP token (RFC 9110), as the API's pattern allows.
var (
	headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]+$`)
	methodName = regexp.MustCompile(`^[A-Z]+$`)
)

const maxHeaderValue = 4096

// ValidateRateLimitPolicy checks what the CRD's schema checks, for objects
// that did not go through the API server: errors about the whole policy,
// and errors of each rule by index.
func ValidateRateLimitPolicy(spec *RateLimitPolicySpec) (policyWide []FieldError, byRule map[int][]FieldError) {
	if len(spec.Selector) > 0 && len(spec.TargetRefs) > 0 {
		policyWide = append(policyWide, FieldError{"spec", "set selector or targetRefs, not both"})
	}
	for i, ref := range spec.TargetRefs {
		field := fmt.Sprintf("spec.targetRefs[%d]", i)
		if ref.Kind != "Service" {
			policyWide = append(policyWide, FieldError{field + ".kind", fmt.Sprintf("kind %q is not supported: only Service", ref.Kind)})
		}
		if ref.Name == "" {
			policyWide = append(policyWide, FieldError{field + ".name", "must not be empty"})
		}
	}
	if len(spec.Rules) == 0 {
		policyWide = append(policyWide, FieldError{"spec.rules", "at least one rule is required"})
	}
	for i, rule := range spec.Rules {
		if errs := validateRateLimitRule(rule, fmt.Sprintf("spec.rules[%d]", i)); len(errs) > 0 {
			if byRule == nil {
				byRule = map[int][]FieldError{}
			}
			byRule[i] = errs
		}
	}
	return policyWide, byRule
}

func validateRateLimitRule(r RateLimitRule, at string) []FieldError {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{at + field, fmt.Sprintf(format, args...)})
	}
	l := r.Limit
	if l.Requests <= 0 || l.Requests > 1<<31-1 {
		add(".limit.requests", "must be between 1 and 2147483647, not %d", l.Requests)
	}
	switch l.Unit {
	case RateLimitSecond, RateLimitMinute, RateLimitHour:
	default:
		add(".limit.unit", "%q is not one of Second, Minute, Hour", l.Unit)
	}
	if l.Burst != 0 && (l.Burst < l.Requests || l.Burst > 1<<31-1) {
		add(".limit.burst", "must be at least requests (%d) and at most 2147483647, not %d", l.Requests, l.Burst)
	}
	if m := r.Match; m != nil {
		if m.Path != nil {
			if msg := checkStringMatch(*m.Path); msg != "" {
				add(".match.path", "%s", msg)
			}
		}
		if m.Method != "" && !methodName.MatchString(m.Method) {
			add(".match.method", "%q is not an upper-case HTTP method", m.Method)
		}
		for i, h := range m.Headers {
			if !headerName.MatchString(h.Name) {
				add(fmt.Sprintf(".match.headers[%d].name", i), "%q is not a header name", h.Name)
			}
			if msg := checkStringMatch(h.StringMatch); msg != "" {
				add(fmt.Sprintf(".match.headers[%d]", i), "%s", msg)
			}
		}
	}
	if c := r.PerClient; c != nil {
		switch {
		case c.SourcePrincipal == (c.Header != ""):
			add(".perClient", "set exactly one of sourcePrincipal: true or header")
		case c.Header != "" && !headerName.MatchString(c.Header):
			add(".perClient.header", "%q is not a header name", c.Header)
		}
	}
	if s := r.Response.Status; s != 0 && (s < 400 || s > 599) {
		add(".response.status", "must be between 400 and 599, not %d", s)
	}
	for i, h := range r.Response.Headers {
		if !headerName.MatchString(h.Name) {
			add(fmt.Sprintf(".response.headers[%d].name", i), "%q is not a header name", h.Name)
		}
		if len(h.Value) > maxHeaderValue || !validHeaderValue(h.Value) {
			add(fmt.Sprintf(".response.headers[%d].value", i), "must be at most %d printable characters", maxHeaderValue)
		}
	}
	return errs
}

func checkStringMatch(m StringMatch) string {
	switch {
	case (m.Exact == "") == (m.Prefix == ""):
		return "set exactly one of exact or prefix"
	case !utf8.ValidString(m.Exact + m.Prefix):
		return "is not valid UTF-8"
	}
	return ""
}

// validHeaderValue rejects control characters, which Envoy refuses, and
// invalid UTF-8, which protobuf cannot encode.
func validHeaderValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
