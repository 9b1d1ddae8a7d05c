package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/test/bench/benchkit"
)

const (
	namespace     = "bench"
	rootNamespace = "istio-system"
	port          = 8080
	endpointsPer  = 5
)

// writeCRDs puts Loom's Istio CRDs in dir for the local cluster to install.
func writeCRDs(dir string) error {
	for _, crd := range istiocrds.CRDs() {
		b, err := yaml.Marshal(crd)
		if err != nil {
			return fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, crd.Name+".yaml"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// workload is the cluster state the soak keeps changing: services with one
// EndpointSlice each and one VirtualService that moves between them.
type workload struct {
	c        client.Client
	services int
	changes  atomic.Int64
}

func newWorkload(cfg *rest.Config, services int) (*workload, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, networkingv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	return &workload{c: c, services: services}, nil
}

func serviceName(i int) string { return fmt.Sprintf("svc-%d", i) }

func host(i int) string { return serviceName(i) + "." + namespace + ".svc.cluster.local" }

// address n of the never-routed range 10.1.0.0/16 (no traffic is sent).
func address(n int) string { return fmt.Sprintf("10.1.%d.%d", (n/250)%250, n%250+1) }

func (w *workload) create(ctx context.Context) error {
	for _, ns := range []string{namespace, rootNamespace} {
		if err := w.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	for i := range w.services {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: serviceName(i), Namespace: namespace},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": serviceName(i)},
				Ports:    []corev1.ServicePort{{Name: "http-web", Port: port, TargetPort: intstr.FromInt32(port)}},
			},
		}
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: serviceName(i), Namespace: namespace,
				Labels: map[string]string{discoveryv1.LabelServiceName: serviceName(i), discoveryv1.LabelManagedBy: "soak.loom.dev"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http-web"), Port: ptr.To[int32](port)}},
		}
		for j := range endpointsPer {
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
				Addresses: []string{address(i*endpointsPer + j)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			})
		}
		for _, o := range []client.Object{svc, slice} {
			if err := w.c.Create(ctx, o); err != nil {
				return fmt.Errorf("%T %s: %w", o, o.GetName(), err)
			}
		}
	}
	vs := &networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: "moving", Namespace: namespace}}
	routeTo(vs, 1)
	return w.c.Create(ctx, vs)
}

// routeTo sends svc-0's traffic to svc-target.
func routeTo(vs *networkingv1.VirtualService, target int) {
	vs.Spec = networkingapi.VirtualService{
		Hosts: []string{host(0)},
		Http: []*networkingapi.HTTPRoute{{Route: []*networkingapi.HTTPRouteDestination{{
			Destination: &networkingapi.Destination{Host: host(target), Port: &networkingapi.PortSelector{Number: port}},
		}}}},
	}
}

// changeConfig moves the VirtualService to another service.
func (w *workload) changeConfig(ctx context.Context) error {
	n := int(w.changes.Add(1))
	return benchkit.RetryOnConflict(ctx, func() error {
		var vs networkingv1.VirtualService
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "moving"}, &vs); err != nil {
			return err
		}
		routeTo(&vs, 1+n%(w.services-1))
		return w.c.Update(ctx, &vs)
	})
}

// changeEndpoint gives one endpoint of one service a new address.
func (w *workload) changeEndpoint(ctx context.Context) error {
	n := int(w.changes.Add(1))
	svc := n % w.services
	return benchkit.RetryOnConflict(ctx, func() error {
		var s discoveryv1.EndpointSlice
		if err := w.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: serviceName(svc)}, &s); err != nil {
			return err
		}
		s.Endpoints[n%endpointsPer].Addresses = []string{address(w.services*endpointsPer + n)}
		return w.c.Update(ctx, &s)
	})
}

// every runs f every d until ctx is done, counting failures.
func every(ctx context.Context, d time.Duration, failures *atomic.Int64, f func(context.Context) error) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f(ctx); err != nil && ctx.Err() == nil {
				if failures.Add(1) <= 3 {
					logf("change failed: %v", err)
				}
			}
		}
	}
}
