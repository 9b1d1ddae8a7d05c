package kubectlmesh

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/values"
)

// monitoringPort is the control plane Service's port that serves /debug/* (Istio's 15014).
const monitoringPort = "15014"

// revisionLabel is the label that names the control-plane revision a pod was injected by.
const revisionLabel = "istio.io/rev"

// fetcher gets a path of the control plane's monitoring port.
type fetcher interface {
	get(ctx context.Context, path string, query map[string]string) ([]byte, error)
}

// serviceProxy reaches the control plane through the apiserver's service proxy.
type serviceProxy struct {
	clientset          kubernetes.Interface
	namespace, service string
}

func (p serviceProxy) get(ctx context.Context, path string, query map[string]string) ([]byte, error) {
	body, err := p.clientset.CoreV1().Services(p.namespace).ProxyGet("http", p.service, monitoringPort, path, query).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("GET %s from Service %s/%s port %s: %w (%s)", path, p.namespace, p.service, monitoringPort, err, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func newProxyConfigCommand(o *Options) *cobra.Command {
	var output, mesh string
	cmd := &cobra.Command{
		Use:   "proxy-config <pod|node id> clusters|listeners|routes|endpoints|secrets",
		Short: "Show the xDS config the control plane holds for a proxy",
		Long: "Shows what the proxy ACKed, as loom discovery's /debug/config_dump reports it, read through " +
			"the apiserver's service proxy from the control plane's monitoring port (15014). A pod " +
			"(in -n) is matched to its node id through /debug/syncz; its istio.io/rev label picks the " +
			"control-plane revision. Secrets show certificate metadata, never key material.",
		Args:      cobra.ExactArgs(2),
		ValidArgs: kindNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, outputJSON, outputYAML); err != nil {
				return err
			}
			kind, ok := configKinds[args[1]]
			if !ok {
				return fmt.Errorf("%q: unknown config type; use one of %s", args[1], strings.Join(kindNames(), ", "))
			}
			clients, err := o.clients()
			if err != nil {
				return err
			}
			ns, err := o.namespace()
			if err != nil {
				return err
			}
			target, err := resolveProxy(cmd.Context(), clients, mesh, ns, args[0])
			if err != nil {
				return err
			}
			resources, err := proxyResources(cmd.Context(), target, kind)
			if err != nil {
				return err
			}
			if output != outputTable {
				return printData(o.IO.Out, resources, output)
			}
			return kind.table(o.IO.Out, resources)
		},
	}
	addOutputFlag(cmd, &output, "json, yaml (the whole resources)")
	cmd.Flags().StringVar(&mesh, "mesh", "", "MeshOperator whose control plane to ask (needed when there are several)")
	return cmd
}

// proxyTarget is a proxy's node id and the control plane that serves it.
type proxyTarget struct {
	node string // empty until matched through /debug/syncz
	pod  *corev1.Pod
	cp   fetcher
}

// resolveProxy finds the control plane serving the pod (or node id) and, for a pod, its node id.
func resolveProxy(ctx context.Context, clients *Clients, meshName, namespace, arg string) (*proxyTarget, error) {
	state, err := pickMesh(ctx, clients.Client, meshName)
	if err != nil {
		return nil, err
	}
	target := &proxyTarget{}
	rev := state.Mesh.Status.Revision
	if strings.Contains(arg, "~") {
		target.node = arg
	} else {
		pod := &corev1.Pod{}
		if err := clients.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: arg}, pod); err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", namespace, arg, err)
		}
		target.pod = pod
		if r := pod.Labels[revisionLabel]; r != "" {
			rev = r
		}
	}
	spec := &state.Mesh.Spec
	for i := range state.Revisions {
		if state.Revisions[i].Spec.Revision == rev {
			spec = &state.Revisions[i].Spec.MeshSpec
		}
	}
	target.cp = serviceProxy{clientset: clients.Clientset, namespace: spec.Namespace, service: values.ControlPlaneName(spec)}
	return target, nil
}

// pickMesh returns the named mesh, or the only one.
func pickMesh(ctx context.Context, c client.Reader, name string) (meshState, error) {
	states, err := loadMeshes(ctx, c, name)
	if err != nil {
		return meshState{}, err
	}
	if len(states) > 1 {
		names := make([]string, 0, len(states))
		for _, s := range states {
			names = append(names, s.Mesh.Name)
		}
		return meshState{}, fmt.Errorf("several MeshOperators (%s): choose one with --mesh", strings.Join(names, ", "))
	}
	return states[0], nil
}

// syncStream is the part of /debug/syncz kubectl-mesh reads.
type syncStream struct {
	Node string `json:"node"`
}

// nodeOfPod finds the node id of the pod's proxy among the control plane's streams: Istio's
// <type>~<ip>~<pod>.<namespace>~<domain> form.
func nodeOfPod(ctx context.Context, cp fetcher, pod *corev1.Pod) (string, error) {
	body, err := cp.get(ctx, "/debug/syncz", nil)
	if err != nil {
		return "", err
	}
	var streams []syncStream
	if err := json.Unmarshal(body, &streams); err != nil {
		return "", fmt.Errorf("/debug/syncz: %w", err)
	}
	want := pod.Name + "." + pod.Namespace
	var nodes []string
	for _, s := range streams {
		parts := strings.Split(s.Node, "~")
		if len(parts) == 4 && parts[2] == want && !slices.Contains(nodes, s.Node) {
			nodes = append(nodes, s.Node)
		}
	}
	switch len(nodes) {
	case 0:
		return "", fmt.Errorf("pod %s/%s has no xDS stream to the control plane (no node id with %q in /debug/syncz)", pod.Namespace, pod.Name, want)
	case 1:
		return nodes[0], nil
	}
	return "", fmt.Errorf("pod %s/%s has several node ids (%s): pass one instead of the pod", pod.Namespace, pod.Name, strings.Join(nodes, ", "))
}

// configDump is /debug/config_dump's answer (pkg/xds serveConfigDump).
type configDump struct {
	Node    string `json:"node"`
	Streams []struct {
		Stream uint64 `json:"stream"`
		Types  map[string]struct {
			AckedVersion string            `json:"ackedVersion"`
			Resources    []json.RawMessage `json:"resources"`
		} `json:"types"`
	} `json:"streams"`
}

// proxyResources returns the resources of kind the proxy holds, over all its streams, each
// once (by name), key material removed.
func proxyResources(ctx context.Context, target *proxyTarget, kind configKind) ([]map[string]any, error) {
	if target.node == "" {
		node, err := nodeOfPod(ctx, target.cp, target.pod)
		if err != nil {
			return nil, err
		}
		target.node = node
	}
	body, err := target.cp.get(ctx, "/debug/config_dump", map[string]string{"proxy": target.node})
	if err != nil {
		return nil, err
	}
	var dump configDump
	if err := json.Unmarshal(body, &dump); err != nil {
		return nil, fmt.Errorf("/debug/config_dump?proxy=%s: %w", target.node, err)
	}
	seen := map[string]bool{}
	out := []map[string]any{}
	for _, st := range dump.Streams {
		for _, raw := range st.Types[kind.typeURL].Resources {
			var res map[string]any
			if err := json.Unmarshal(raw, &res); err != nil {
				return nil, fmt.Errorf("/debug/config_dump?proxy=%s: a %s resource: %w", target.node, kind.typeURL, err)
			}
			name, _ := res[kind.nameField].(string)
			if seen[name] {
				continue
			}
			seen[name] = true
			out = append(out, withoutKeyMaterial(res).(map[string]any))
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int {
		an, _ := a[kind.nameField].(string)
		bn, _ := b[kind.nameField].(string)
		return strings.Compare(an, bn)
	})
	return out, nil
}

// keyFields are the fields of Envoy's TLS messages that hold secrets; the control plane leaves
// them out of its debug output already, and the plugin drops them again whatever it is sent.
var keyFields = map[string]bool{"private_key": true, "password": true, "pkcs12": true, "private_key_provider": true, "session_ticket_keys": true, "hmac_secret": true}

func withoutKeyMaterial(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if keyFields[k] {
				delete(v, k)
				continue
			}
			v[k] = withoutKeyMaterial(child)
		}
	case []any:
		for i := range v {
			v[i] = withoutKeyMaterial(v[i])
		}
	}
	return v
}
