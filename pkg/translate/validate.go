package translate

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// origin is where a piece of configuration was written: the object and the
// path of the field, so a problem can name both.
type origin struct {
	kind  string
	meta  model.Meta
	field string
	// note is appended to messages, e.g. which root route delegated here.
	note string
}

func (o origin) at(format string, args ...any) origin {
	o.field += fmt.Sprintf(format, args...)
	return o
}

func (o origin) problem(format string, args ...any) model.Problem {
	msg := fmt.Sprintf(format, args...)
	if o.note != "" {
		msg += " (" + o.note + ")"
	}
	return model.Problem{Kind: o.kind, Meta: o.meta, Field: o.field, Message: msg}
}

// dedupeProblems sorts problems and drops repeats: the same object is often
// translated once per port or per host.
func dedupeProblems(ps []model.Problem) []model.Problem {
	slices.SortFunc(ps, func(a, b model.Problem) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Meta.String(), b.Meta.String()),
			strings.Compare(a.Field, b.Field), strings.Compare(a.Message, b.Message))
	})
	return slices.CompactFunc(ps, func(a, b model.Problem) bool {
		return a.Kind == b.Kind && a.Meta == b.Meta && a.Field == b.Field && a.Message == b.Message
	})
}

// checkDuration accepts nil and valid, non-negative durations: Envoy and
// gRPC reject the rest, and a proto Duration out of range cannot even be
// marshaled to JSON.
func checkDuration(d *durationpb.Duration) error {
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

// checkPositiveDuration is checkDuration that also rejects zero.
func checkPositiveDuration(d *durationpb.Duration) error {
	if err := checkDuration(d); err != nil {
		return err
	}
	if d != nil && d.AsDuration() <= 0 {
		return fmt.Errorf("must be positive")
	}
	return nil
}

// checkPercent accepts Istio percentages: 0 to 100.
func checkPercent(p *networking.Percent) error {
	if p == nil {
		return nil
	}
	if v := p.GetValue(); math.IsNaN(v) || v < 0 || v > 100 {
		return fmt.Errorf("%v is not a percentage between 0 and 100", v)
	}
	return nil
}

// checkRegex compiles a regular expression as Envoy's RE2 engine would.
// Go's regexp implements RE2 syntax; it is also what gRPC-Go uses.
func checkRegex(re string) error {
	if re == "" {
		return fmt.Errorf("empty regular expression")
	}
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("invalid RE2 regular expression: %v", err)
	}
	return nil
}

// checkStringMatch validates an Istio StringMatch used as a matcher.
func checkStringMatch(m *networking.StringMatch) error {
	switch v := m.GetMatchType().(type) {
	case *networking.StringMatch_Regex:
		if v.Regex == "*" { // Istio reads "*" as "present"
			return nil
		}
		return checkRegex(v.Regex)
	case *networking.StringMatch_Prefix:
		if v.Prefix == "" {
			return fmt.Errorf("empty prefix")
		}
	}
	return nil
}

// checkHeaderName accepts HTTP field names (RFC 9110 tokens), lowercase or
// not, and the pseudo-headers Envoy can match on.
func checkHeaderName(name string) error {
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

// checkHeaderValue rejects what HTTP/2 forbids in field values.
func checkHeaderValue(v string) error {
	if strings.ContainsAny(v, "\x00\r\n") {
		return fmt.Errorf("%q contains NUL, CR or LF", v)
	}
	return nil
}

// validatable is any generated Envoy message.
type validatable interface{ ValidateAll() error }

// checkEnvoy runs the proto-generated validation of an Envoy message built
// from user input: a last line of defence so that input Loom failed to
// check becomes a problem instead of a configuration proxies reject.
func checkEnvoy(m validatable) error {
	if err := m.ValidateAll(); err != nil {
		return fmt.Errorf("translates to an invalid Envoy configuration: %v", err)
	}
	return nil
}

// checkSubsetName applies Istio's rule that subset names are DNS-1123
// labels; cluster names embed them between '|' separators.
func checkSubsetName(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("subset name %q is not a DNS-1123 label", name)
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && (r != '-' || i == 0 || i == len(name)-1) {
			return fmt.Errorf("subset name %q is not a DNS-1123 label", name)
		}
	}
	return nil
}
