package values

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// GatewayNamespace is where a gateway runs.
func GatewayNamespace(spec *operatorv1alpha1.MeshOperatorSpec, gw *operatorv1alpha1.GatewaySpec) string {
	if gw.Namespace != "" {
		return gw.Namespace
	}
	return spec.Namespace
}

// CAAddress is where workloads reach the mesh CA (the control plane's secure port).
func CAAddress(spec *operatorv1alpha1.MeshOperatorSpec) string {
	return fmt.Sprintf("%s.%s.svc:15012", ControlPlaneName(spec), spec.Namespace)
}

// Gateway returns the gateway chart's values for one of the spec's gateways.
func Gateway(spec *operatorv1alpha1.MeshOperatorSpec, gw *operatorv1alpha1.GatewaySpec) (map[string]any, error) {
	p := profileFor(spec.Profile)
	typed := scaling(p, gw.Replicas, gw.Autoscaling)
	typed["name"] = gw.Name
	typed["type"] = string(gw.Type)
	typed["revision"] = Revision(spec)
	typed["caAddress"] = CAAddress(spec)
	typed["agent"] = map[string]any{"image": map[string]any{"repository": "loom", "tag": "v" + spec.Version}}
	typed["labels"] = gw.Labels
	typed["service"] = gatewayService(gw)
	if gw.Resources != nil {
		typed["resources"] = gw.Resources
	} else {
		typed["resources"] = p.resources
	}
	return withOverrides(typed, spec.Values.Gateway, "spec.values.gateway")
}

func gatewayService(gw *operatorv1alpha1.GatewaySpec) map[string]any {
	svcType := gw.Service.Type
	if svcType == "" {
		svcType = corev1.ServiceTypeClusterIP
		if gw.Type == operatorv1alpha1.IngressGateway {
			svcType = corev1.ServiceTypeLoadBalancer
		}
	}
	ports := gw.Service.Ports
	if len(ports) == 0 {
		ports = []operatorv1alpha1.GatewayPort{{Name: "http2", Port: 80}, {Name: "https", Port: 443}}
	}
	var out []any
	for _, port := range ports {
		target := port.TargetPort
		if target == 0 {
			target = port.Port
			// Unprivileged proxies cannot bind below 1024.
			if target < 1024 {
				target += 8000
			}
		}
		entry := map[string]any{"name": port.Name, "port": port.Port, "targetPort": target}
		if port.NodePort != 0 {
			entry["nodePort"] = port.NodePort
		}
		out = append(out, entry)
	}
	return map[string]any{"type": string(svcType), "ports": out}
}
