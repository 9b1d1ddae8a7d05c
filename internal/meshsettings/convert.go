package meshsettings

import (
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/types/known/durationpb"
	meshconfig "istio.io/api/mesh/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
)

// extensionProviders converts the mesh config's extensionProviders to
// Istio's MeshConfig form; translation checks them (an unusable provider
// fails the CUSTOM policies naming it closed).
func extensionProviders(mc *v1alpha1.MeshConfigSpec) []*model.ExtensionProvider {
	var out []*model.ExtensionProvider
	for _, p := range mc.ExtensionProviders {
		ep := &model.ExtensionProvider{Name: p.Name}
		switch {
		case p.EnvoyExtAuthzHTTP != nil:
			h := p.EnvoyExtAuthzHTTP
			ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_EnvoyExtAuthzHttp{EnvoyExtAuthzHttp: &meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationHttpProvider{
				Service: h.Service, Port: uint32(max(h.Port, 0)), Timeout: optionalDuration(h.Timeout), FailOpen: h.FailOpen,
				StatusOnError: h.StatusOnError, IncludeRequestBodyInCheck: requestBody(h.IncludeRequestBodyInCheck),
				PathPrefix: h.PathPrefix, IncludeRequestHeadersInCheck: h.IncludeRequestHeadersInCheck,
				IncludeAdditionalHeadersInCheck: h.IncludeAdditionalHeadersInCheck, HeadersToUpstreamOnAllow: h.HeadersToUpstreamOnAllow,
				HeadersToDownstreamOnDeny: h.HeadersToDownstreamOnDeny, HeadersToDownstreamOnAllow: h.HeadersToDownstreamOnAllow,
			}}
		case p.EnvoyExtAuthzGRPC != nil:
			g := p.EnvoyExtAuthzGRPC
			ep.Provider = &meshconfig.MeshConfig_ExtensionProvider_EnvoyExtAuthzGrpc{EnvoyExtAuthzGrpc: &meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider{
				Service: g.Service, Port: uint32(max(g.Port, 0)), Timeout: optionalDuration(g.Timeout), FailOpen: g.FailOpen,
				StatusOnError: g.StatusOnError, IncludeRequestBodyInCheck: requestBody(g.IncludeRequestBodyInCheck),
			}}
		default:
			setTelemetryProvider(ep, p)
		}
		out = append(out, ep)
	}
	return out
}

func optionalDuration(d *metav1.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(d.Duration)
}

func requestBody(b *v1alpha1.ExtAuthzRequestBody) *meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationRequestBody {
	if b == nil {
		return nil
	}
	return &meshconfig.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationRequestBody{
		MaxRequestBytes: uint32(max(b.MaxRequestBytes, 0)), AllowPartialMessage: b.AllowPartialMessage, PackAsBytes: b.PackAsBytes,
	}
}

// telemetry converts the mesh config's accessLogging and tracing to the
// model's settings, refusing values Envoy could not use.
func telemetry(mc *v1alpha1.MeshConfigSpec) (model.Telemetry, error) {
	out := model.Telemetry{DefaultProviders: defaultProviders(mc)}
	if a := mc.AccessLogging; a.Enabled {
		if a.Path == "" {
			return out, fmt.Errorf("spec.meshConfig.accessLogging.path: required when access logging is enabled")
		}
		enc := model.AccessLogEncoding(a.Encoding)
		switch enc {
		case "":
			enc = model.AccessLogText
		case model.AccessLogText, model.AccessLogJSON:
		default:
			return out, fmt.Errorf("spec.meshConfig.accessLogging.encoding: %q is neither TEXT nor JSON", a.Encoding)
		}
		out.AccessLog = &model.AccessLog{Path: a.Path, Encoding: enc}
	}
	if tr := mc.Tracing; tr.Enabled {
		pct := 1.0
		if tr.SamplingPercentage != "" {
			v, err := strconv.ParseFloat(tr.SamplingPercentage, 64)
			if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
				return out, fmt.Errorf("spec.meshConfig.tracing.samplingPercentage: %q is not a number from 0 to 100", tr.SamplingPercentage)
			}
			pct = v
		}
		out.Tracing = &model.Tracing{SamplingPercentage: pct}
		if tr.CollectorAddress != "" { // else the snapshot reports that nothing is traced
			host, port, err := translate.ParseCollectorAddress(tr.CollectorAddress)
			if err != nil {
				return out, fmt.Errorf("spec.meshConfig.tracing.collectorAddress: %w", err)
			}
			out.Tracing.CollectorHost, out.Tracing.CollectorPort = host, port
		}
	}
	return out, nil
}

// routeDefaults converts the mesh config's defaultTimeout and
// defaultRetries to the route defaults of the model; defaultRetries means
// what Istio's defaultHttpRetryPolicy means (an empty retryOn keeps Istio's
// default conditions).
func routeDefaults(mc *v1alpha1.MeshConfigSpec) model.RouteDefaults {
	var out model.RouteDefaults
	if mc.DefaultTimeout != nil {
		out.Timeout = durationpb.New(mc.DefaultTimeout.Duration)
	}
	if r := mc.DefaultRetries; r != nil {
		out.Retries = &networking.HTTPRetry{Attempts: r.Attempts, RetryOn: r.RetryOn}
		if r.PerTryTimeout != nil {
			out.Retries.PerTryTimeout = durationpb.New(r.PerTryTimeout.Duration)
		}
	}
	return out
}
