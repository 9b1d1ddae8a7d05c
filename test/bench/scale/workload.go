package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	networkingapi "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	knetworkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/test/bench/benchkit"
)

const (
	benchNamespace = "bench"
	rootNamespace  = "istio-system"
	servicePort    = 8080
	endpointsPer   = 5
	domainSuffix   = "svc.cluster.local"
	// The apiserver's own service range (envtest: 10.0.0.0/24) holds 254
	// ClusterIPs; a ServiceCIDR adds room for the benchmark's services.
	serviceCIDR = "10.96.0.0/16"
)

// workload is the cluster state every control plane is measured against: S
// Services with one HTTP port, one EndpointSlice of 5 endpoints each
// (10.1.0.0/16, never routed: no traffic is sent), and a few VirtualServices.
type workload struct {
	c        client.Client
	services int
	vsCount  int

	mu        sync.Mutex
	changes   int // changes made so far, across runs: every marker is new
	vsTarget  int // service the changing VirtualService (vs-0) routes to now
	extraAddr int
}

func newClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, networkingv1.AddToScheme, securityv1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 2000, 4000
	return client.New(cfg, client.Options{Scheme: scheme})
}

func serviceName(i int) string { return fmt.Sprintf("svc-%d", i) }

func serviceHost(i int) string {
	return serviceName(i) + "." + benchNamespace + "." + domainSuffix
}

func clusterName(i int) string { return fmt.Sprintf("outbound|%d||%s", servicePort, serviceHost(i)) }

func endpointAddr(n int) string { return fmt.Sprintf("10.1.%d.%d", n/250, n%250+1) }

// setup installs the CRDs and creates the workload.
func (w *workload) setup(ctx context.Context, logf func(string, ...any)) error {
	start := time.Now()
	warnOtherCRDs := func(err error) error {
		logf("warning: Istio's other CRDs not installed (istiod may not start): %v", err)
		return nil
	}
	if err := benchkit.InstallIstioCRDs(ctx, w.c, warnOtherCRDs); err != nil {
		return fmt.Errorf("CRDs: %w", err)
	}
	logf("Istio CRDs established in %.1fs", time.Since(start).Seconds())
	cidr := &knetworkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: knetworkingv1.ServiceCIDRSpec{CIDRs: []string{serviceCIDR}}}
	if err := w.c.Create(ctx, cidr); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("ServiceCIDR: %w", err)
	}
	for _, ns := range []string{benchNamespace, rootNamespace} {
		if err := w.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	err := benchkit.Parallel(ctx, w.services, 32, func(ctx context.Context, i int) error {
		if err := w.c.Create(ctx, service(i)); err != nil {
			return fmt.Errorf("service %d: %w", i, err)
		}
		if err := w.c.Create(ctx, endpointSlice(i)); err != nil {
			return fmt.Errorf("endpointslice %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.vsCount = min(10, w.services)
	for i := range w.vsCount {
		if err := w.c.Create(ctx, virtualService(i, i)); err != nil {
			return fmt.Errorf("virtualservice %d: %w", i, err)
		}
	}
	logf("workload: %d services, %d endpointslices of %d endpoints, %d virtualservices in %.1fs",
		w.services, w.services, endpointsPer, w.vsCount, time.Since(start).Seconds())
	return nil
}

func service(i int) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: serviceName(i), Namespace: benchNamespace, Labels: map[string]string{"app": serviceName(i)}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": serviceName(i)},
			Ports: []corev1.ServicePort{{
				Name: "http-web", Port: servicePort, TargetPort: intstr.FromInt32(servicePort), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}

func endpointSlice(i int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: serviceName(i) + "-bench", Namespace: benchNamespace,
			Labels: map[string]string{discoveryv1.LabelServiceName: serviceName(i), discoveryv1.LabelManagedBy: "bench.loom.dev"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http-web"), Port: ptr.To[int32](servicePort), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for j := range endpointsPer {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{endpointAddr(i*endpointsPer + j)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
		})
	}
	return s
}

// virtualService vs-i routes svc-i's host to svc-target, with a timeout and
// retries as real ones have.
func virtualService(i, target int) *networkingv1.VirtualService {
	vs := &networkingv1.VirtualService{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("vs-%d", i), Namespace: benchNamespace}}
	setVirtualService(vs, i, target)
	return vs
}

func setVirtualService(vs *networkingv1.VirtualService, i, target int) {
	vs.Spec = networkingapi.VirtualService{
		Hosts: []string{serviceHost(i)},
		Http: []*networkingapi.HTTPRoute{{
			Name: "main",
			Route: []*networkingapi.HTTPRouteDestination{{
				Destination: &networkingapi.Destination{Host: serviceHost(target), Port: &networkingapi.PortSelector{Number: servicePort}},
			}},
			Retries: &networkingapi.HTTPRetry{Attempts: 2, RetryOn: "5xx,connect-failure"},
		}},
	}
}

// vsChange points vs-0 at a service it did not route to before and returns
// the marker that shows it arrived.
func (w *workload) vsChange(ctx context.Context) (marker, error) {
	w.mu.Lock()
	w.changes++
	target := 1 + w.vsTarget%(w.services-1) // 1, 2, ..., S-1, 1, ...: never the current one
	w.mu.Unlock()
	m := marker{id: fmt.Sprintf("vs-%d", w.changes), kind: "route", domain: serviceHost(0), cluster: clusterName(target)}
	m.apply = func(ctx context.Context) error {
		return benchkit.RetryOnConflict(ctx, func() error {
			var vs networkingv1.VirtualService
			if err := w.c.Get(ctx, client.ObjectKey{Namespace: benchNamespace, Name: "vs-0"}, &vs); err != nil {
				return err
			}
			setVirtualService(&vs, 0, target)
			if err := w.c.Update(ctx, &vs); err != nil {
				return err
			}
			w.mu.Lock()
			w.vsTarget = target
			w.mu.Unlock()
			return nil
		})
	}
	return m, nil
}

// endpointChange replaces one endpoint address of one service with a new
// address and returns the marker that shows it arrived.
func (w *workload) endpointChange(ctx context.Context) (marker, error) {
	w.mu.Lock()
	w.changes++
	k := w.changes
	svc := (k * 7919) % w.services
	addr := endpointAddr(250*250 - 1 - w.extraAddr) // counts down from 10.1.249.250: never an original address
	w.extraAddr++
	w.mu.Unlock()
	m := marker{id: fmt.Sprintf("ep-%d", k), kind: "endpoint", cluster: clusterName(svc), address: addr}
	m.apply = func(ctx context.Context) error {
		return benchkit.RetryOnConflict(ctx, func() error {
			var s discoveryv1.EndpointSlice
			if err := w.c.Get(ctx, client.ObjectKey{Namespace: benchNamespace, Name: serviceName(svc) + "-bench"}, &s); err != nil {
				return err
			}
			s.Endpoints[k%len(s.Endpoints)].Addresses = []string{addr}
			return w.c.Update(ctx, &s)
		})
	}
	return m, nil
}
