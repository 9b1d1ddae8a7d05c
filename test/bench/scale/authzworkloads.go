package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/test/bench/benchkit"
)

// authzWorkloadsPerNamespace is how many workloads the policies of one
// namespace select (each gets a handful of policies).
const authzWorkloadsPerNamespace = 4

// clientsApp is the app label of the simulated clients (test/bench/adsclients).
const clientsApp = "client"

// authzWorkload is a workload the generated policies select; a simulated
// proxy is one of its replicas (workloadproxy.go).
type authzWorkload struct {
	namespace, app string
	// ip is the replica's address, an endpoint of the workload's Service;
	// "" for the clients' workload, whose replica gets clientAddr(M).
	ip string
}

// authzWorkloads are, in the benchmark's namespace, the simulated clients
// (app: client, the M proxies of adsclients, made servers by the Service
// "client") and svc-1.. (a replica at the first endpoint of the Service of
// that name); in each team namespace api-0.. (each with a Service of its
// own, exported to its namespace only).
func authzWorkloads(n int) []authzWorkload {
	out := []authzWorkload{{namespace: benchNamespace, app: clientsApp}}
	for k := 1; k < authzWorkloadsPerNamespace; k++ {
		out = append(out, authzWorkload{namespace: benchNamespace, app: serviceName(k), ip: endpointAddr(k * endpointsPer)})
	}
	for t := range authzTeams(n) {
		for k := range authzWorkloadsPerNamespace {
			g := t*authzWorkloadsPerNamespace + k
			out = append(out, authzWorkload{namespace: authzTeamNamespace(t), app: fmt.Sprintf("api-%d", k), ip: fmt.Sprintf("10.3.%d.%d", g/250, g%250+1)})
		}
	}
	return out
}

// clientAddr is the address of simulated client i, as adsclients sets it
// in the node's id and INSTANCE_IPS.
func clientAddr(i int) string { return fmt.Sprintf("10.2.%d.%d", i/250, i%250+1) }

// setupAuthzWorkloads creates what makes the selected workloads servers:
// the team namespaces; the Service "client" selecting the simulated
// clients, with their addresses (and the replica's, clientAddr(clients)) as
// endpoints, exported to no namespace ("~"), so that each client gets an
// inbound HTTP chain for it while no proxy's outbound config changes; and a
// Service with one endpoint per team workload, exported to its namespace.
func (w *workload) setupAuthzWorkloads(ctx context.Context, n, clients int, logf func(string, ...any)) error {
	start := time.Now()
	for k := range authzTeams(n) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: authzTeamNamespace(k)}}
		if err := w.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s: %w", ns.Name, err)
		}
	}
	objects := []client.Object{workloadService(benchNamespace, clientsApp, "~")}
	const perSlice = 100
	for from := 0; from <= clients; from += perSlice {
		var addrs []string
		for i := from; i <= clients && i < from+perSlice; i++ {
			addrs = append(addrs, clientAddr(i))
		}
		objects = append(objects, workloadSlice(benchNamespace, clientsApp, fmt.Sprintf("%s-%d", clientsApp, from/perSlice), addrs))
	}
	for _, wl := range authzWorkloads(n) {
		if wl.namespace == benchNamespace {
			continue // the clients' (above) and svc-k, which exist
		}
		objects = append(objects, workloadService(wl.namespace, wl.app, "."), workloadSlice(wl.namespace, wl.app, wl.app+"-bench", []string{wl.ip}))
	}
	err := benchkit.Parallel(ctx, len(objects), 32, func(ctx context.Context, i int) error {
		if err := w.c.Create(ctx, objects[i]); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%T %s/%s: %w", objects[i], objects[i].GetNamespace(), objects[i].GetName(), err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	logf("authz workloads: %d in %d namespaces, %d objects in %.1fs", len(authzWorkloads(n)), len(authzNamespaces(n)), len(objects), time.Since(start).Seconds())
	return nil
}

func workloadService(ns, app, exportTo string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: app, Namespace: ns, Labels: map[string]string{"app": app},
			Annotations: map[string]string{"networking.istio.io/exportTo": exportTo},
		},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{{
				Name: "http-web", Port: servicePort, TargetPort: intstr.FromInt32(servicePort), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

func workloadSlice(ns, service, name string, addrs []string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: "bench.loom.dev"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http-web"), Port: ptr.To[int32](servicePort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{a},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		})
	}
	return s
}
