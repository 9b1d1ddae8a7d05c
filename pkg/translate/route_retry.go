package translate

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushosts "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	previouspriorities "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"
)

// Istio's retry policy when a route sets none.
const (
	defaultRetryOn       = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
	defaultRetryAttempts = 2
)

// retryConditions are the retryOn values Istio accepts besides HTTP status
// codes: Envoy's HTTP conditions and its gRPC status names, which Envoy and
// gRPC-Go both read from retry_on.
var retryConditions = map[string]bool{
	"5xx": true, "gateway-error": true, "reset": true, "reset-before-request": true, "connect-failure": true,
	"envoy-ratelimited": true, "retriable-4xx": true, "refused-stream": true, "retriable-status-codes": true,
	"retriable-headers": true, "http3-post-connect-failure": true,
	"cancelled": true, "deadline-exceeded": true, "internal": true, "resource-exhausted": true, "unavailable": true,
}

// retryPolicy translates retries as Istio does: without a retries section,
// 2 attempts on connection failures, refused streams, gRPC unavailable and
// cancelled, and HTTP 503; attempts 0 disables retries; otherwise the
// default with the given fields replaced. Status codes in retryOn become
// retriable status codes. Retries prefer hosts not tried yet, except with a
// consistent hash, where the hash picks the host.
func (rb *routeBuilder) retryPolicy(in *networking.HTTPRetry, consistentHash bool, at origin) (*routev3.RetryPolicy, bool) {
	out := &routev3.RetryPolicy{
		NumRetries:                    wrapperspb.UInt32(defaultRetryAttempts),
		RetryOn:                       defaultRetryOn,
		RetriableStatusCodes:          []uint32{http.StatusServiceUnavailable},
		HostSelectionRetryMaxAttempts: 5,
	}
	if !consistentHash {
		out.RetryHostPredicate = []*routev3.RetryPolicy_RetryHostPredicate{previousHostsPredicate()}
	}
	if in == nil {
		return out, true
	}
	switch {
	case in.GetAttempts() < 0:
		rb.report(at.at(".attempts"), "%d must not be negative; the route is left out", in.GetAttempts())
		return nil, false
	case in.GetAttempts() == 0:
		return nil, true
	}
	out.NumRetries = wrapperspb.UInt32(uint32(in.GetAttempts()))
	if in.GetRetryOn() != "" {
		var conditions []string
		out.RetriableStatusCodes = nil
		for _, part := range strings.Split(in.GetRetryOn(), ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if code, err := strconv.Atoi(part); err == nil && http.StatusText(code) != "" {
				out.RetriableStatusCodes = append(out.RetriableStatusCodes, uint32(code))
				continue
			}
			if !retryConditions[part] {
				rb.report(at.at(".retryOn"), "%q is neither a retry condition nor an HTTP status code; the route is left out", part)
				return nil, false
			}
			conditions = append(conditions, part)
		}
		if len(out.RetriableStatusCodes) > 0 && !slices.Contains(conditions, "retriable-status-codes") {
			conditions = append(conditions, "retriable-status-codes")
		}
		out.RetryOn = strings.Join(conditions, ",")
	}
	if t := in.GetPerTryTimeout(); t != nil {
		if err := checkPositiveDuration(t); err != nil {
			rb.report(at.at(".perTryTimeout"), "%v; the route is left out", err)
			return nil, false
		}
		out.PerTryTimeout = t
	}
	if ignore := in.GetRetryIgnorePreviousHosts(); ignore != nil {
		out.RetryHostPredicate = nil
		if ignore.GetValue() {
			out.RetryHostPredicate = []*routev3.RetryPolicy_RetryHostPredicate{previousHostsPredicate()}
		}
	}
	if in.GetRetryRemoteLocalities().GetValue() {
		out.RetryPriority = &routev3.RetryPolicy_RetryPriority{
			Name:       "envoy.retry_priorities.previous_priorities",
			ConfigType: &routev3.RetryPolicy_RetryPriority_TypedConfig{TypedConfig: anyOf(&previouspriorities.PreviousPrioritiesConfig{UpdateFrequency: 2})},
		}
	}
	if b := in.GetBackoff(); b != nil {
		if err := checkPositiveDuration(b); err != nil {
			rb.report(at.at(".backoff"), "%v; the route is left out", err)
			return nil, false
		}
		out.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: b}
	}
	return out, true
}

// previousHostsConfig is packed once and shared, like the filter configs.
var previousHostsConfig = anyOf(&previoushosts.PreviousHostsPredicate{})

func previousHostsPredicate() *routev3.RetryPolicy_RetryHostPredicate {
	return &routev3.RetryPolicy_RetryHostPredicate{
		Name:       "envoy.retry_host_predicates.previous_hosts",
		ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: previousHostsConfig},
	}
}
