package model

import (
	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"
)

// RouteDefaults are the mesh config's settings for HTTP routes that set
// none of their own, on sidecars, gateways and proxyless gRPC alike. A nil
// field keeps Istio's built-in default.
type RouteDefaults struct {
	// Timeout (the mesh config's defaultTimeout) applies to routes without
	// a timeout; 0s means none, Istio's default. A route's own timeout,
	// 0s included, wins.
	Timeout *durationpb.Duration
	// Retries (the mesh config's defaultRetries, Istio's
	// defaultHttpRetryPolicy) replaces the missing retries section of a
	// route as a whole: a route's own retries are never merged with it,
	// and attempts 0 turns retries off.
	Retries *networking.HTTPRetry
}

// RouteDefaults returns the mesh-wide defaults of HTTP routes.
func (s *Snapshot) RouteDefaults() RouteDefaults { return s.routeDefaults }
