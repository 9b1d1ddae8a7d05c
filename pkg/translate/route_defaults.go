package translate

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/validation"
)

// kindMeshConfig names the mesh config in problems about its defaults.
const kindMeshConfig = "MeshConfig"

// routeDefaults are the mesh config's route defaults once checked: an
// invalid one is replaced by Istio's built-in default, never applied.
type routeDefaults struct {
	// timeout of routes that set none; nil is no timeout.
	timeout *durationpb.Duration
	// retries of routes that set none; nil is Istio's default policy.
	retries *networking.HTTPRetry
}

// fieldError is what is wrong with one mesh config field.
type fieldError struct {
	field string
	err   error
}

// routeDefaultsErrors checks the mesh route defaults as Istio checks a
// VirtualService's timeout and retries (and its defaultHttpRetryPolicy).
func routeDefaultsErrors(d model.RouteDefaults) []fieldError {
	var out []fieldError
	if err := validation.Duration(d.Timeout); err != nil {
		out = append(out, fieldError{"defaultTimeout", err})
	}
	if _, field, err := convertRetry(d.Retries, false); err != nil {
		out = append(out, fieldError{"defaultRetries" + field, err})
	}
	if _, _, unknown := parseRetryOn(d.Retries.GetRetryOn()); len(unknown) > 0 {
		out = append(out, fieldError{"defaultRetries.retryOn", fmt.Errorf("%q: neither retry conditions nor HTTP status codes", unknown)})
	}
	return out
}

// checkRouteDefaults keeps the valid mesh route defaults and reports the
// others against their mesh config field.
func checkRouteDefaults(d model.RouteDefaults) (routeDefaults, []model.Problem) {
	out := routeDefaults{timeout: d.Timeout, retries: d.Retries}
	var problems []model.Problem
	for _, fe := range routeDefaultsErrors(d) {
		at := origin{kind: kindMeshConfig, field: fe.field}
		if fe.field == "defaultTimeout" {
			out.timeout = nil
			problems = append(problems, at.problem("%v; routes without a timeout get none", fe.err))
			continue
		}
		out.retries = nil
		problems = append(problems, at.problem("%v; routes without retries get Istio's default", fe.err))
	}
	return out, problems
}

// CheckRouteDefaults returns what is wrong with the mesh config's route
// defaults, naming each field, so that a control plane can refuse them at
// start rather than run without them.
func CheckRouteDefaults(d model.RouteDefaults) error {
	var errs []error
	for _, fe := range routeDefaultsErrors(d) {
		errs = append(errs, fmt.Errorf("%s: %w", fe.field, fe.err))
	}
	return errors.Join(errs...)
}
