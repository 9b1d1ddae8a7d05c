package discovery

import (
	"fmt"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"loom.dev/loom/pkg/model"
)

// Node metadata keys, as Istio's proxies and bootstrap files set them.
const (
	metaNamespace   = "NAMESPACE"
	metaLabels      = "LABELS"
	metaInstanceIPs = "INSTANCE_IPS"
	metaGenerator   = "GENERATOR"
	metaRevision    = "ISTIO_REVISION"
	// revisionLabel is the pod label that picks a control-plane revision.
	revisionLabel = "istio.io/rev"
)

// ParseNode reads a proxy's identity from its xDS node, the way Istio does:
// an id "type~ip~pod.namespace~namespace.svc.cluster.local" (type "sidecar"
// or "router") and metadata NAMESPACE, LABELS, INSTANCE_IPS, ISTIO_REVISION
// (else the istio.io/rev label), and GENERATOR=grpc for proxyless gRPC.
// Metadata wins over the id.
func ParseNode(node *corev3.Node) (model.Proxy, error) {
	if node == nil || node.GetId() == "" {
		return model.Proxy{}, fmt.Errorf("xDS node has no id")
	}
	p := model.Proxy{ID: node.GetId(), Kind: model.KindSidecar}
	if parts := strings.Split(node.GetId(), "~"); len(parts) == 4 {
		switch parts[0] {
		case "sidecar":
		case "router":
			p.Kind = model.KindGateway
		default:
			return model.Proxy{}, fmt.Errorf("node %q: proxy type %q is neither sidecar nor router", node.GetId(), parts[0])
		}
		if parts[1] != "" {
			p.IPs = []string{parts[1]}
		}
		if _, ns, ok := strings.Cut(parts[2], "."); ok {
			p.Namespace = ns
		}
	}
	fields := node.GetMetadata().GetFields()
	if ns := fields[metaNamespace].GetStringValue(); ns != "" {
		p.Namespace = ns
	}
	if ips := fields[metaInstanceIPs].GetStringValue(); ips != "" {
		p.IPs = strings.Split(ips, ",")
	}
	if fields[metaGenerator].GetStringValue() == "grpc" {
		p.Kind = model.KindGRPC
	}
	labels, err := stringMap(fields[metaLabels])
	if err != nil {
		return model.Proxy{}, fmt.Errorf("node %q: metadata %s: %w", node.GetId(), metaLabels, err)
	}
	p.Labels = labels
	p.Revision = fields[metaRevision].GetStringValue()
	if p.Revision == "" {
		p.Revision = labels[revisionLabel]
	}
	if p.Namespace == "" {
		return model.Proxy{}, fmt.Errorf("node %q: no namespace: set metadata %s or use an id of the form type~ip~pod.namespace~namespace.svc.cluster.local", node.GetId(), metaNamespace)
	}
	return p, nil
}

func stringMap(v *structpb.Value) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	s := v.GetStructValue()
	if s == nil {
		return nil, fmt.Errorf("not an object")
	}
	out := make(map[string]string, len(s.GetFields()))
	for k, f := range s.GetFields() {
		str, ok := f.GetKind().(*structpb.Value_StringValue)
		if !ok {
			return nil, fmt.Errorf("label %q is not a string", k)
		}
		out[k] = str.StringValue
	}
	return out, nil
}

// viewKey names what a proxy sees. Proxies of one kind in one namespace with
// the same labels are replicas of one workload and see the same config, so
// they share one translation and one set of marshaled bytes. A proxy's own
// IPs only matter for a proxyless gRPC server (its server Listener names its
// listening address), so they are part of the key only for a gRPC proxy that
// some service selects.
func viewKey(p model.Proxy, serves bool) string {
	var b strings.Builder
	b.WriteString(string(p.Kind))
	b.WriteByte('|')
	b.WriteString(p.Namespace)
	b.WriteString(model.LabelsKey(p.Labels))
	if p.Kind == model.KindGRPC && serves {
		ips := slices.Clone(p.IPs)
		slices.Sort(ips)
		b.WriteString("|ips=" + strings.Join(ips, ","))
	}
	return b.String()
}
