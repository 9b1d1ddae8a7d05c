package discovery

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/model"
)

// readInputs lists everything the model needs from the cache and converts
// it. Objects that cannot be converted become problems; they never stop the
// rest.
func readInputs(ctx context.Context, r client.Reader, mesh model.Input) (model.Input, []model.Problem, error) {
	in := mesh
	var problems []model.Problem

	var services corev1.ServiceList
	var slices discoveryv1.EndpointSliceList
	var pods corev1.PodList
	var nodes corev1.NodeList
	for _, l := range []client.ObjectList{&services, &slices, &pods, &nodes} {
		if err := r.List(ctx, l); err != nil {
			return in, nil, fmt.Errorf("list %T: %w", l, err)
		}
	}
	podIndex := make(map[string]*corev1.Pod, len(pods.Items))
	for i := range pods.Items {
		pod := &pods.Items[i]
		podIndex[pod.Namespace+"/"+pod.Name] = pod
		if w := convertPod(pod); w != nil {
			in.Workloads = append(in.Workloads, w)
		}
	}
	nodeIndex := make(map[string]*corev1.Node, len(nodes.Items))
	for i := range nodes.Items {
		nodeIndex[nodes.Items[i].Name] = &nodes.Items[i]
	}
	slicesByService := map[string][]*discoveryv1.EndpointSlice{}
	for i := range slices.Items {
		s := &slices.Items[i]
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			key := s.Namespace + "/" + name
			slicesByService[key] = append(slicesByService[key], s)
		}
	}
	for i := range services.Items {
		svc := &services.Items[i]
		converted, err := convertService(svc, slicesByService[svc.Namespace+"/"+svc.Name], podIndex, nodeIndex, in.DomainSuffix)
		if err != nil {
			problems = append(problems, model.Problem{Kind: "Service", Meta: meta(svc), Field: "metadata.annotations[" + exportToAnnotation + "]", Message: err.Error()})
			continue
		}
		in.Services = append(in.Services, converted)
	}
	istioProblems, err := readIstio(ctx, r, &in)
	if err != nil {
		return in, nil, err
	}
	problems = append(problems, istioProblems...)
	creds, err := readCredentials(ctx, r, in.Gateways)
	if err != nil {
		return in, nil, err
	}
	in.Credentials = creds
	return in, problems, nil
}

// readCredentials reads only the Secrets Gateways name: a gateway's
// credentials live in the gateway proxy's namespace, which Loom does not know
// from the Gateway, so every namespace's Secret of that name is read.
func readCredentials(ctx context.Context, r client.Reader, gateways []*model.Gateway) ([]*model.Credential, error) {
	wanted := map[string]bool{}
	for _, gw := range gateways {
		for _, srv := range gw.Spec.GetServers() {
			if name := srv.GetTls().GetCredentialName(); name != "" {
				wanted[name] = true
				wanted[name+"-cacert"] = true
			}
		}
	}
	if len(wanted) == 0 {
		return nil, nil
	}
	var secrets corev1.SecretList
	if err := r.List(ctx, &secrets); err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	var out []*model.Credential
	for i := range secrets.Items {
		s := &secrets.Items[i]
		if !wanted[s.Name] {
			continue
		}
		if c := convertCredential(s); c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// readServiceEndpoints reads one Service's endpoints as readInputs would,
// from its EndpointSlices and the pods and nodes behind them.
func readServiceEndpoints(ctx context.Context, r client.Reader, namespace, name, domainSuffix string) ([]*model.Endpoint, error) {
	var svc corev1.Service
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &svc); err != nil {
		return nil, err
	}
	var list discoveryv1.EndpointSliceList
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.MatchingFields{sliceServiceIndex: name}); err != nil {
		return nil, err
	}
	slices := make([]*discoveryv1.EndpointSlice, len(list.Items))
	pods := map[string]*corev1.Pod{}
	nodes := map[string]*corev1.Node{}
	for i := range list.Items {
		slices[i] = &list.Items[i]
		for _, ep := range list.Items[i].Endpoints {
			if ref := ep.TargetRef; ref != nil && ref.Kind == "Pod" {
				var pod corev1.Pod
				if err := r.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &pod); err == nil {
					pods[ref.Namespace+"/"+ref.Name] = &pod
				}
			}
			if ep.NodeName != nil && nodes[*ep.NodeName] == nil {
				var node corev1.Node
				if err := r.Get(ctx, client.ObjectKey{Name: *ep.NodeName}, &node); err == nil {
					nodes[*ep.NodeName] = &node
				}
			}
		}
	}
	converted, err := convertService(&svc, slices, pods, nodes, domainSuffix)
	if err != nil {
		return nil, err
	}
	return converted.Endpoints, nil
}
