package translate

import (
	"fmt"
	"strings"

	"loom.dev/loom/pkg/model"
)

// providerTarget is where a telemetry extension provider sends, for one
// proxy: the service's hostname (the gRPC authority, the Zipkin host) and
// the proxy's outbound cluster of its port.
type providerTarget struct {
	host, cluster string
}

// providerTargets resolves the extension providers of a proxy's merged
// telemetry against the services it has clusters for. An entry whose
// provider cannot be reached is dropped from the telemetry and reported
// where the provider was named; Istio drops it too (with a log line).
type providerTargets struct {
	services []*model.Service
	targets  map[*model.ExtensionProvider]providerTarget
	problems []model.Problem
}

func resolveTelemetryProviders(pt model.ProxyTelemetry, services []*model.Service) (model.ProxyTelemetry, map[*model.ExtensionProvider]providerTarget, []model.Problem) {
	r := &providerTargets{services: services, targets: map[*model.ExtensionProvider]providerTarget{}}
	pt.Client = r.direction(pt.Client, "client")
	pt.Server = r.direction(pt.Server, "server")
	return pt, r.targets, r.problems
}

func (r *providerTargets) direction(dt model.DirectionTelemetry, side string) model.DirectionTelemetry {
	var logs []model.ProviderAccessLog
	for _, a := range dt.AccessLogs {
		if err := r.resolve(a.Ext); err != nil {
			r.report(a.Source, "provider %q: %v: this access log is not applied on this proxy's %s side", a.Provider, err, side)
			continue
		}
		logs = append(logs, a)
	}
	dt.AccessLogs = logs
	if tr := dt.Tracing; tr != nil {
		if err := r.resolve(tr.Ext); err != nil {
			r.report(tr.Source, "provider %q: %v: this proxy's %s side is not traced", tr.Provider, err, side)
			dt.Tracing = nil
		}
	}
	return dt
}

func (r *providerTargets) report(src model.ProviderSource, format string, args ...any) {
	o := origin{kind: src.Kind, meta: src.Meta, field: src.Field}
	r.problems = append(r.problems, o.problem(format, args...))
}

// resolve finds the cluster of a provider that sends to a service; a
// provider that sends nowhere (a file log) or a built-in one needs none.
func (r *providerTargets) resolve(ep *model.ExtensionProvider) error {
	if ep == nil {
		return nil
	}
	service, port, ok := model.ProviderService(ep)
	if !ok {
		return nil
	}
	if _, done := r.targets[ep]; done {
		return nil
	}
	host, cluster, err := resolveAuthorizer(r.services, service, port)
	if err != nil {
		return err
	}
	if ep.GetEnvoyOtelAls() != nil || ep.GetOpentelemetry() != nil {
		if err := grpcCapable(r.services, service, port); err != nil {
			return err
		}
	}
	r.targets[ep] = providerTarget{host: host, cluster: cluster}
	return nil
}

// grpcCapable refuses a port whose declared protocol makes Envoy's cluster
// speak HTTP/1.1 or raw TCP: OTLP over gRPC needs HTTP/2.
func grpcCapable(services []*model.Service, service string, port uint32) error {
	ns, host, qualified := strings.Cut(service, "/")
	if !qualified {
		ns, host = "", service
	}
	for _, svc := range services {
		if svc.Hostname != host || (ns != "" && svc.Namespace != ns) {
			continue
		}
		p, _ := svc.Port(port)
		switch p.Protocol {
		case model.ProtocolGRPC, model.ProtocolHTTP2, model.ProtocolUnknown:
			return nil
		}
		return fmt.Errorf("port %d of service %q is declared %s, so its cluster does not speak HTTP/2, which OTLP over gRPC needs (name the port grpc-… or http2-…)", port, service, p.Protocol)
	}
	return nil
}
