package translate

import (
	commonfaultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/validation"
)

// grpcStatusCodes maps the gRPC status names Istio accepts in
// fault.abort.grpcStatus to their codes.
var grpcStatusCodes = map[string]uint32{
	"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
	"ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10,
	"OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// fault translates fault injection into the per-route config of the fault
// filter (which httpFilters puts in every chain). Unspecified percentages
// inject nothing, as Istio documents. Returns nil when nothing is injected.
func (rb *routeBuilder) fault(f *networking.HTTPFaultInjection, at origin) (*anypb.Any, bool) {
	out := &faultv3.HTTPFault{}
	if d := f.GetDelay(); d != nil && d.GetFixedDelay() == nil {
		// As in Istio, the route is kept without the delay.
		rb.report(at.at(".delay"), "only fixedDelay is supported; no delay is injected")
	}
	if d := f.GetDelay(); d.GetFixedDelay() != nil {
		dat := at.at(".delay")
		fixed := d.GetFixedDelay()
		if err := validation.PositiveDuration(fixed); err != nil {
			rb.report(dat.at(".fixedDelay"), "%v; the route is left out", err)
			return nil, false
		}
		//nolint:staticcheck // percent is deprecated but users still write it; percentage wins.
		pct, ok := rb.faultPercent(d.GetPercentage(), d.GetPercent(), dat)
		if !ok {
			return nil, false
		}
		out.Delay = &commonfaultv3.FaultDelay{
			FaultDelaySecifier: &commonfaultv3.FaultDelay_FixedDelay{FixedDelay: fixed},
			Percentage:         pct,
		}
	}
	if a := f.GetAbort(); a != nil {
		aat := at.at(".abort")
		abort := &faultv3.FaultAbort{}
		switch e := a.GetErrorType().(type) {
		case *networking.HTTPFaultInjection_Abort_HttpStatus:
			if e.HttpStatus < 200 || e.HttpStatus > 599 {
				rb.report(aat.at(".httpStatus"), "%d is not an HTTP status between 200 and 599; the route is left out", e.HttpStatus)
				return nil, false
			}
			abort.ErrorType = &faultv3.FaultAbort_HttpStatus{HttpStatus: uint32(e.HttpStatus)}
		case *networking.HTTPFaultInjection_Abort_GrpcStatus:
			code, ok := grpcStatusCodes[e.GrpcStatus]
			if !ok {
				rb.report(aat.at(".grpcStatus"), "%q is not a gRPC status name such as UNAVAILABLE; the route is left out", e.GrpcStatus)
				return nil, false
			}
			abort.ErrorType = &faultv3.FaultAbort_GrpcStatus{GrpcStatus: code}
		default:
			// As in Istio, the route is kept without the abort.
			rb.report(aat, "only httpStatus and grpcStatus aborts are supported; no abort is injected")
		}
		if abort.ErrorType != nil {
			pct, ok := rb.faultPercent(a.GetPercentage(), 0, aat)
			if !ok {
				return nil, false
			}
			abort.Percentage = pct
			out.Abort = abort
		}
	}
	if out.Delay == nil && out.Abort == nil {
		return nil, true
	}
	if err := checkEnvoy(out); err != nil {
		rb.report(at, "%v", err)
		return nil, false
	}
	return anyOf(out), true
}

// faultPercent reads percentage, or the deprecated integer percent.
func (rb *routeBuilder) faultPercent(p *networking.Percent, legacy int32, at origin) (*typev3.FractionalPercent, bool) {
	if p != nil {
		if err := validation.Percent(p); err != nil {
			rb.report(at.at(".percentage"), "%v; the route is left out", err)
			return nil, false
		}
		return &typev3.FractionalPercent{Numerator: uint32(p.GetValue() * 10000), Denominator: typev3.FractionalPercent_MILLION}, true
	}
	if legacy < 0 || legacy > 100 {
		rb.report(at.at(".percent"), "%d is not a percentage; the route is left out", legacy)
		return nil, false
	}
	return &typev3.FractionalPercent{Numerator: uint32(legacy), Denominator: typev3.FractionalPercent_HUNDRED}, true
}
