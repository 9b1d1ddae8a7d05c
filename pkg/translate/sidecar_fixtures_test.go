package translate

import (
	"time"

	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// Builders of model objects shared by the sidecar, gateway and tcp tests.

func fxCreated(minute int) time.Time { return time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC) }

// fxService is a Kubernetes Service with a cluster IP (vip may be empty for
// a headless one) and ready endpoints at the given addresses.
func fxService(name, ns, vip string, ports []model.Port, endpoints ...string) *model.Service {
	svc := &model.Service{
		Hostname:  model.ServiceHostname(name, ns, model.DefaultDomainSuffix),
		Namespace: ns,
		Name:      name,
		Source:    model.SourceKubernetes,
		Ports:     ports,
		Selector:  map[string]string{"app": name},
	}
	if vip != "" {
		svc.Addresses = []string{vip}
	}
	for _, a := range endpoints {
		svc.Endpoints = append(svc.Endpoints, &model.Endpoint{Address: a, Labels: map[string]string{"app": name}})
	}
	return svc
}

func fxPort(name string, number uint32, proto model.Protocol) model.Port {
	return model.Port{Name: name, Number: number, Protocol: proto}
}

func fxSidecarProxy(ns string, labels map[string]string, ips ...string) model.Proxy {
	return model.Proxy{ID: "sidecar~" + ns, Kind: model.KindSidecar, Namespace: ns, Labels: labels, IPs: ips}
}

// fxGatewayProxy is a gateway that authenticated on the secure xDS port as a ServiceAccount
// allowed to read every Secret of its namespace.
func fxGatewayProxy() model.Proxy {
	return model.Proxy{ID: "router~istio-system", Kind: model.KindGateway, Namespace: "istio-system",
		Labels: map[string]string{"istio": "ingressgateway"}, IPs: []string{"10.9.0.1"},
		KeyAccess: func(string) error { return nil }}
}

func fxVirtualService(name, ns string, minute int, spec *networking.VirtualService) *model.VirtualService {
	return &model.VirtualService{Meta: model.Meta{Name: name, Namespace: ns, Created: fxCreated(minute)}, Spec: spec}
}

func fxGateway(name, ns string, minute int, servers ...*networking.Server) *model.Gateway {
	return &model.Gateway{Meta: model.Meta{Name: name, Namespace: ns, Created: fxCreated(minute)}, Spec: &networking.Gateway{
		Selector: map[string]string{"istio": "ingressgateway"},
		Servers:  servers,
	}}
}

func fxServer(number uint32, protocol, portName string, tls *networking.ServerTLSSettings, hosts ...string) *networking.Server {
	return &networking.Server{Port: &networking.Port{Number: number, Protocol: protocol, Name: portName}, Hosts: hosts, Tls: tls}
}

func fxRouteTo(host string, port uint32, subset string, weight int32) *networking.RouteDestination {
	d := &networking.Destination{Host: host, Subset: subset}
	if port != 0 {
		d.Port = &networking.PortSelector{Number: port}
	}
	return &networking.RouteDestination{Destination: d, Weight: weight}
}

func fxHTTPRouteTo(host string, port uint32) []*networking.HTTPRouteDestination {
	d := &networking.Destination{Host: host}
	if port != 0 {
		d.Port = &networking.PortSelector{Number: port}
	}
	return []*networking.HTTPRouteDestination{{Destination: d}}
}

func fxCredential(name, ns string, withCA bool) *model.Credential {
	c := &model.Credential{Name: name, Namespace: ns,
		Cert: []byte("-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n"),
		Key:  []byte("-----BEGIN PRIVATE KEY-----\n" + name + "\n-----END PRIVATE KEY-----\n")}
	if withCA {
		c.CACert = []byte("-----BEGIN CERTIFICATE-----\nca-of-" + name + "\n-----END CERTIFICATE-----\n")
	}
	return c
}
