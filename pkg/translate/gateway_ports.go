package translate

import (
	"slices"

	"loom.dev/loom/pkg/model"
)

// gatewayTargetPorts maps the ports of the Services selecting a gateway
// workload to the ports the workload listens on. As with Istio's label
// selected Gateways, a server port naming a Service port listens on its
// target port (a Service 80 -> 8080 lets an unprivileged gateway serve
// "port: 80"); other server ports are used as written.
func gatewayTargetPorts(snap *model.Snapshot, p model.Proxy) map[uint32][]uint32 {
	out := map[uint32][]uint32{}
	add := func(port, target uint32) {
		if target != 0 && !slices.Contains(out[port], target) {
			out[port] = append(out[port], target)
		}
	}
	for _, svc := range snap.ServicesSelecting(p) {
		var own *model.Endpoint
		for _, ep := range svc.Endpoints {
			if slices.Contains(p.IPs, ep.Address) {
				own = ep
				break
			}
		}
		if own == nil {
			own = &model.Endpoint{}
		}
		for _, port := range svc.Ports {
			add(port.Number, own.PortFor(port))
		}
	}
	for _, targets := range out {
		slices.Sort(targets)
	}
	return out
}

// listenPorts are where a server declared on port listens.
func listenPorts(targets map[uint32][]uint32, port uint32) []uint32 {
	if t := targets[port]; len(t) > 0 {
		return t
	}
	return []uint32{port}
}
