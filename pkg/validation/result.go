package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Finding is one error or warning about a field ("spec.http[0].route[1].weight").
type Finding struct {
	Field   string
	Message string
}

func (f Finding) String() string {
	if f.Field == "" {
		return f.Message
	}
	return f.Field + ": " + f.Message
}

// Result is what validating one object found: errors reject it, warnings do not.
type Result struct {
	Errors   []Finding
	Warnings []Finding
}

// Valid reports whether nothing rejects the object.
func (r Result) Valid() bool { return len(r.Errors) == 0 }

func (r *Result) errorf(at *field.Path, format string, args ...any) {
	r.Errors = append(r.Errors, Finding{Field: at.String(), Message: fmt.Sprintf(format, args...)})
}

func (r *Result) warnf(at *field.Path, format string, args ...any) {
	r.Warnings = append(r.Warnings, Finding{Field: at.String(), Message: fmt.Sprintf(format, args...)})
}

// check records err, if any, as an error at the field.
func (r *Result) check(at *field.Path, err error) {
	if err != nil {
		r.errorf(at, "%v", err)
	}
}

// spec is the root of every path.
func spec() *field.Path { return field.NewPath("spec") }
