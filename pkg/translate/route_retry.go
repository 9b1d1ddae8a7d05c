package translate

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	previoushosts "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	previouspriorities "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/priority/previous_priorities/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/validation"
)

// Istio's retry policy when neither the route nor the mesh config sets one
// (istio/istio pilot/pkg/networking/core/route/retry): 2 retries on
// connection failures, refused streams and gRPC unavailable and cancelled.
// "retriable-status-codes" is listed with no codes: since Istio 1.24 HTTP
// 503 is no longer retried by default.
const (
	defaultRetryOn                = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
	defaultRetryAttempts          = 2
	hostSelectionRetryMaxAttempts = 5
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

// retryPolicy translates a route's retries; a route without any gets the
// mesh default (checked already), else Istio's default.
func (rb *routeBuilder) retryPolicy(in *networking.HTTPRetry, consistentHash bool, at origin) (*routev3.RetryPolicy, bool) {
	if in == nil {
		in = rb.defaults.retries
	}
	out, field, err := convertRetry(in, consistentHash)
	if err != nil {
		rb.report(at.at("%s", field), "%v; the route is left out", err)
		return nil, false
	}
	if _, _, unknown := parseRetryOn(in.GetRetryOn()); out != nil && len(unknown) > 0 {
		rb.report(at.at(".retryOn"), "%q: neither retry conditions nor HTTP status codes; ignored", unknown)
	}
	return out, true
}

// convertRetry translates retries as Istio does: nil is Istio's default
// policy; attempts 0 disables retries; otherwise the default with the given
// fields replaced (retryOn as parseRetryOn reads it).
// Retries prefer hosts not tried yet (previous_hosts, up to 5 host
// selections), except when the route's single destination uses a
// consistent hash, where the hash picks the host. An invalid field is
// returned by name (".retryOn") with its error.
func convertRetry(in *networking.HTTPRetry, consistentHash bool) (*routev3.RetryPolicy, string, error) {
	out := &routev3.RetryPolicy{
		NumRetries:                    wrapperspb.UInt32(defaultRetryAttempts),
		RetryOn:                       defaultRetryOn,
		HostSelectionRetryMaxAttempts: hostSelectionRetryMaxAttempts,
	}
	if !consistentHash {
		out.RetryHostPredicate = []*routev3.RetryPolicy_RetryHostPredicate{previousHostsPredicate()}
	}
	if in == nil {
		return out, "", nil
	}
	switch {
	case in.GetAttempts() < 0:
		return nil, ".attempts", fmt.Errorf("%d must not be negative", in.GetAttempts())
	case in.GetAttempts() == 0:
		return nil, "", nil
	}
	out.NumRetries = wrapperspb.UInt32(uint32(in.GetAttempts()))
	if in.GetRetryOn() != "" {
		out.RetryOn, out.RetriableStatusCodes, _ = parseRetryOn(in.GetRetryOn())
	}
	if t := in.GetPerTryTimeout(); t != nil {
		if err := validation.PositiveDuration(t); err != nil {
			return nil, ".perTryTimeout", err
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
		if err := validation.PositiveDuration(b); err != nil {
			return nil, ".backoff", err
		}
		out.RetryBackOff = &routev3.RetryPolicy_RetryBackOff{BaseInterval: b}
	}
	return out, "", nil
}

// parseRetryOn splits retryOn as Istio does: HTTP status codes become
// retriable status codes (with "retriable-status-codes" added to the
// conditions). Unknown conditions, which Istio's validation rejects and
// Envoy would ignore, are left out and returned.
func parseRetryOn(retryOn string) (conditions string, codes []uint32, unknown []string) {
	var known []string
	for _, part := range strings.Split(retryOn, ",") {
		part = strings.TrimSpace(part)
		switch code, err := strconv.Atoi(part); {
		case part == "":
		case err == nil && http.StatusText(code) != "":
			codes = append(codes, uint32(code))
		case retryConditions[part]:
			known = append(known, part)
		default:
			unknown = append(unknown, part)
		}
	}
	if len(codes) > 0 && !slices.Contains(known, "retriable-status-codes") {
		known = append(known, "retriable-status-codes")
	}
	return strings.Join(known, ","), codes, unknown
}

// previousHostsConfig is packed once and shared, like the filter configs.
var previousHostsConfig = anyOf(&previoushosts.PreviousHostsPredicate{})

func previousHostsPredicate() *routev3.RetryPolicy_RetryHostPredicate {
	return &routev3.RetryPolicy_RetryHostPredicate{
		Name:       "envoy.retry_host_predicates.previous_hosts",
		ConfigType: &routev3.RetryPolicy_RetryHostPredicate_TypedConfig{TypedConfig: previousHostsConfig},
	}
}
