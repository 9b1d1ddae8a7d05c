package validation

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"
)

// The checks below are shared with the translator: what one rejects, the other leaves out.

// Duration accepts nil and valid, non-negative durations: Envoy and gRPC reject the rest,
// and a proto Duration out of range cannot even be marshaled to JSON.
func Duration(d *durationpb.Duration) error {
	if d == nil {
		return nil
	}
	if err := d.CheckValid(); err != nil {
		return err
	}
	if d.GetSeconds() < 0 || d.GetNanos() < 0 {
		return fmt.Errorf("must not be negative")
	}
	return nil
}

// PositiveDuration is Duration that also rejects zero.
func PositiveDuration(d *durationpb.Duration) error {
	if err := Duration(d); err != nil {
		return err
	}
	if d != nil && d.AsDuration() <= 0 {
		return fmt.Errorf("must be positive")
	}
	return nil
}

// Percent accepts Istio percentages: 0 to 100.
func Percent(p *networking.Percent) error {
	if p == nil {
		return nil
	}
	if v := p.GetValue(); math.IsNaN(v) || v < 0 || v > 100 {
		return fmt.Errorf("%v is not a percentage between 0 and 100", v)
	}
	return nil
}

// Regex compiles a regular expression as Envoy's RE2 engine would. Go's regexp implements
// RE2 syntax (no backreferences, no lookaround); it is also what gRPC-Go uses.
func Regex(re string) error {
	if re == "" {
		return fmt.Errorf("empty regular expression")
	}
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("invalid RE2 regular expression: %v", err)
	}
	return nil
}

// StringMatch validates an Istio StringMatch used as a matcher.
func StringMatch(m *networking.StringMatch) error {
	switch v := m.GetMatchType().(type) {
	case *networking.StringMatch_Regex:
		if v.Regex == "*" { // Istio reads "*" as "present"
			return nil
		}
		return Regex(v.Regex)
	case *networking.StringMatch_Prefix:
		if v.Prefix == "" {
			return fmt.Errorf("empty prefix")
		}
	}
	return nil
}

// HeaderName accepts HTTP field names (RFC 9110 tokens), lowercase or not, and the
// pseudo-headers Envoy can match on.
func HeaderName(name string) error {
	if name == "" {
		return fmt.Errorf("empty header name")
	}
	token := strings.TrimPrefix(name, ":")
	if token == "" {
		return fmt.Errorf("%q is not a header name", name)
	}
	for _, r := range token {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return fmt.Errorf("%q is not a header name", name)
		}
	}
	return nil
}

// HeaderValue rejects what HTTP/2 forbids in field values.
func HeaderValue(v string) error {
	if strings.ContainsAny(v, "\x00\r\n") {
		return fmt.Errorf("%q contains NUL, CR or LF", v)
	}
	return nil
}

// SubsetName applies Istio's rule that subset names are DNS-1123 labels; cluster names
// embed them between '|' separators.
func SubsetName(name string) error {
	if !isDNS1123Label(name) {
		return fmt.Errorf("subset name %q is not a DNS-1123 label", name)
	}
	return nil
}

func isDNS1123Label(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && (r != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}
