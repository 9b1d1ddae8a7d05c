package discovery

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"loom.dev/loom/pkg/model"
)

const (
	exportToAnnotation = "networking.istio.io/exportTo"
	localityLabel      = "istio-locality"
	regionLabel        = "topology.kubernetes.io/region"
)

// convertService turns a Kubernetes Service, the EndpointSlices labeled with
// its name and the pods behind them into a model service.
func convertService(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, pods map[string]*corev1.Pod, nodes map[string]*corev1.Node, domainSuffix string) (*model.Service, error) {
	exportTo, err := model.ParseExportTo(splitList(svc.Annotations[exportToAnnotation]), svc.Namespace)
	if err != nil {
		return nil, err
	}
	out := &model.Service{
		Hostname:  model.ServiceHostname(svc.Name, svc.Namespace, domainSuffix),
		Namespace: svc.Namespace,
		Source:    model.SourceKubernetes,
		Name:      svc.Name,
		ExportTo:  exportTo,
		Selector:  svc.Spec.Selector,
	}
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != corev1.ClusterIPNone && ip != "" {
			out.Addresses = append(out.Addresses, ip)
		}
	}
	for _, p := range svc.Spec.Ports {
		out.Ports = append(out.Ports, convertPort(p))
	}
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		out.Resolution = model.ResolutionDNS
		out.MeshExternal = true
		out.Endpoints = []*model.Endpoint{{Address: svc.Spec.ExternalName}}
		return out, nil
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		out.Resolution = model.ResolutionPassthrough
	}
	out.Endpoints = convertEndpoints(slices, pods, nodes)
	return out, nil
}

func convertPort(p corev1.ServicePort) model.Port {
	proto := model.ProtocolFromPortName(p.Name)
	if p.AppProtocol != nil {
		proto = model.ParseProtocol(*p.AppProtocol)
	}
	if p.Protocol == corev1.ProtocolUDP || p.Protocol == corev1.ProtocolSCTP {
		proto = model.ProtocolUnknown
	}
	port := model.Port{Name: p.Name, Number: uint32(p.Port), Protocol: proto}
	if p.TargetPort.IntVal != 0 {
		port.TargetPort = uint32(p.TargetPort.IntVal)
	}
	return port
}

// convertEndpoints reads endpoints from EndpointSlices: one per address,
// with the pod's labels, locality and service account. Ready endpoints are
// healthy; terminating ones that still serve are draining; the rest are
// unhealthy, sent so a proxy knows them without picking them.
func convertEndpoints(slices []*discoveryv1.EndpointSlice, pods map[string]*corev1.Pod, nodes map[string]*corev1.Node) []*model.Endpoint {
	seen := map[string]*model.Endpoint{}
	var out []*model.Endpoint
	for _, slice := range slices {
		if slice.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		ports := map[string]uint32{}
		for _, p := range slice.Ports {
			if p.Port != nil {
				ports[ptrString(p.Name)] = uint32(*p.Port)
			}
		}
		for _, ep := range slice.Endpoints {
			for _, addr := range ep.Addresses {
				if e, dup := seen[addr]; dup {
					for name, n := range ports {
						e.Ports[name] = n
					}
					continue
				}
				e := &model.Endpoint{Address: addr, Ports: copyPorts(ports), Health: health(ep.Conditions)}
				describeWorkload(e, ep, pods, nodes)
				seen[addr] = e
				out = append(out, e)
			}
		}
	}
	model.SortEndpoints(out)
	return out
}

func describeWorkload(e *model.Endpoint, ep discoveryv1.Endpoint, pods map[string]*corev1.Pod, nodes map[string]*corev1.Node) {
	if ep.Zone != nil {
		e.Locality.Zone = *ep.Zone
	}
	if ep.NodeName != nil {
		if node := nodes[*ep.NodeName]; node != nil {
			e.Locality.Region = node.Labels[regionLabel]
		}
	}
	if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" {
		return
	}
	pod := pods[ep.TargetRef.Namespace+"/"+ep.TargetRef.Name]
	if pod == nil {
		return
	}
	e.Labels = pod.Labels
	e.ServiceAccount = pod.Spec.ServiceAccountName
	if l := pod.Labels[localityLabel]; l != "" {
		// Istio's label uses dots, as slashes are not allowed in label values.
		e.Locality = model.ParseLocality(strings.ReplaceAll(l, ".", "/"))
	}
}

func health(c discoveryv1.EndpointConditions) model.Health {
	ready := c.Ready == nil || *c.Ready
	switch {
	case ready:
		return model.Healthy
	case c.Terminating != nil && *c.Terminating && c.Serving != nil && *c.Serving:
		return model.Draining
	}
	return model.Unhealthy
}

func copyPorts(in map[string]uint32) map[string]uint32 {
	out := make(map[string]uint32, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// convertPod turns a running pod into a workload ServiceEntries can select.
func convertPod(pod *corev1.Pod) *model.Workload {
	if pod.Status.PodIP == "" || pod.DeletionTimestamp != nil {
		return nil
	}
	w := &model.Workload{
		Name:           pod.Name,
		Namespace:      pod.Namespace,
		Address:        pod.Status.PodIP,
		Labels:         pod.Labels,
		ServiceAccount: pod.Spec.ServiceAccountName,
		Health:         model.Unhealthy,
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			w.Health = model.Healthy
		}
	}
	return w
}
