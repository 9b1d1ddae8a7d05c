package translate

import (
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"loom.dev/loom/pkg/validation"
)

// applyOutlierDetection translates outlierDetection as Istio does: only
// consecutive-error ejection (success-rate ejection off), each error kind
// enforced fully when its threshold is non-zero, and the panic threshold
// set to minHealthPercent (0 when unset) so that a mostly ejected service
// keeps using only its healthy endpoints.
//
// gRPC implements only success-rate and failure-percentage ejection (gRFC
// A50), so a proxyless client would eject nothing on consecutive errors (as
// with Istio). For it the consecutive-error threshold N is also expressed
// as failure-percentage ejection (see grpcConsecutiveErrors).
func (b *clusterBuilder) applyOutlierDetection(c *clusterv3.Cluster, pol clusterPolicy) {
	od, at := pol.outlierDetection, pol.outlierDetectionAt
	if od == nil {
		return
	}
	out := &clusterv3.OutlierDetection{EnforcingSuccessRate: wrapperspb.UInt32(0)}
	if e := od.GetConsecutive_5XxErrors(); e != nil {
		out.Consecutive_5Xx = wrapperspb.UInt32(e.GetValue())
		out.EnforcingConsecutive_5Xx = enforcing(e.GetValue())
	}
	gateway := od.GetConsecutiveGatewayErrors()
	//nolint:staticcheck // consecutiveErrors is deprecated; it counted 502, 503 and 504, Envoy's gateway errors.
	if legacy := od.GetConsecutiveErrors(); gateway == nil && legacy > 0 {
		gateway = wrapperspb.UInt32(uint32(legacy))
	}
	if gateway != nil {
		out.ConsecutiveGatewayFailure = wrapperspb.UInt32(gateway.GetValue())
		out.EnforcingConsecutiveGatewayFailure = enforcing(gateway.GetValue())
	}
	if od.GetSplitExternalLocalOriginErrors() {
		out.SplitExternalLocalOriginErrors = true
		if n := od.GetConsecutiveLocalOriginFailures().GetValue(); n > 0 {
			out.ConsecutiveLocalOriginFailure = wrapperspb.UInt32(n)
			out.EnforcingConsecutiveLocalOriginFailure = wrapperspb.UInt32(100)
		}
		out.EnforcingLocalOriginSuccessRate = wrapperspb.UInt32(0)
	}
	out.Interval = b.duration(od.GetInterval(), at.at(".interval"), validation.PositiveDuration)
	out.BaseEjectionTime = b.duration(od.GetBaseEjectionTime(), at.at(".baseEjectionTime"), validation.PositiveDuration)
	if p := od.GetMaxEjectionPercent(); b.percentInt(p, at.at(".maxEjectionPercent")) && p > 0 {
		out.MaxEjectionPercent = wrapperspb.UInt32(uint32(p))
	}
	minHealth := od.GetMinHealthPercent()
	if !b.percentInt(minHealth, at.at(".minHealthPercent")) {
		minHealth = 0
	}
	if b.grpc() {
		grpcConsecutiveErrors(out)
	}
	c.OutlierDetection = out
	c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{HealthyPanicThreshold: &typev3.Percent{Value: float64(minHealth)}}
}

// envoyDefaultConsecutive5xx is what Envoy applies when consecutive_5xx is
// unset (and enforces fully by default); consecutive gateway failures are
// not enforced unless set.
const envoyDefaultConsecutive5xx = 5

// grpcConsecutiveErrors approximates "eject after N consecutive errors" for
// gRPC's failure-percentage algorithm, which every interval ejects an
// endpoint whose failure percentage over at least request_volume calls is
// strictly above the threshold: an endpoint that failed (nearly) every one
// of at least N calls in the interval is ejected. gRPC counts every
// non-OK status as a failure.
func grpcConsecutiveErrors(out *clusterv3.OutlierDetection) {
	n := uint32(envoyDefaultConsecutive5xx)
	if out.Consecutive_5Xx != nil {
		n = out.Consecutive_5Xx.GetValue()
	}
	if gw := out.ConsecutiveGatewayFailure.GetValue(); gw > 0 && (n == 0 || gw < n) {
		n = gw
	}
	if n == 0 {
		return
	}
	out.FailurePercentageThreshold = wrapperspb.UInt32(99)
	out.FailurePercentageRequestVolume = wrapperspb.UInt32(n)
	out.FailurePercentageMinimumHosts = wrapperspb.UInt32(1)
	out.EnforcingFailurePercentage = wrapperspb.UInt32(100)
}

func enforcing(threshold uint32) *wrapperspb.UInt32Value {
	if threshold > 0 {
		return wrapperspb.UInt32(100)
	}
	return wrapperspb.UInt32(0)
}

// percentInt accepts 0 to 100, reporting anything else.
func (b *clusterBuilder) percentInt(v int32, at origin) bool {
	if v < 0 || v > 100 {
		b.report(at, "%d is not a percentage between 0 and 100; ignored", v)
		return false
	}
	return true
}
