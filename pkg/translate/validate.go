package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

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
