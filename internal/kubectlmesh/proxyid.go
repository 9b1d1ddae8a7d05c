package kubectlmesh

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/model"
)

// offlineProxy finds the proxy --proxy names: an xDS node id ("sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local")
// is parsed as discovery parses a connecting node; a pod name (in namespace) is turned into
// the node its agent would send, from the pod's labels and IPs.
func offlineProxy(ctx context.Context, r client.Reader, name, namespace, domainSuffix string) (model.Proxy, error) {
	if strings.Contains(name, "~") {
		return discovery.ParseNode(&corev3.Node{Id: name})
	}
	var pod corev1.Pod
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &pod); err != nil {
		return model.Proxy{}, fmt.Errorf("--proxy %q: pod %s/%s: %w", name, namespace, name, err)
	}
	node, err := nodeForPod(&pod, domainSuffix)
	if err != nil {
		return model.Proxy{}, err
	}
	return discovery.ParseNode(node)
}

// nodeForPod is the xDS node the agent of pod sends (internal/agent's bootstrap): the id
// "type~ip~pod.namespace~namespace.svc.<domain>" and the metadata NAMESPACE, LABELS and
// INSTANCE_IPS. A pod whose proxy runs as "proxy router" is a gateway.
func nodeForPod(pod *corev1.Pod, domainSuffix string) (*corev3.Node, error) {
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []string{pod.Status.PodIP}
	}
	firstIP := ""
	if len(ips) > 0 {
		firstIP = ips[0]
	}
	labels := map[string]any{}
	for k, v := range pod.Labels {
		labels[k] = v
	}
	meta, err := structpb.NewStruct(map[string]any{
		"NAMESPACE":    pod.Namespace,
		"LABELS":       labels,
		"INSTANCE_IPS": strings.Join(ips, ","),
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: node metadata: %w", pod.Namespace, pod.Name, err)
	}
	id := fmt.Sprintf("%s~%s~%s.%s~%s.svc.%s", proxyType(pod), firstIP, pod.Name, pod.Namespace, pod.Namespace, domainSuffix)
	return &corev3.Node{Id: id, Metadata: meta}, nil
}

func proxyType(pod *corev1.Pod) string {
	for _, c := range pod.Spec.Containers {
		if slices.Contains(c.Args, "router") {
			return "router"
		}
	}
	return "sidecar"
}
