package xds

import (
	"fmt"
	"math"
	"testing"
)

func target(ns, svc string, port int) string {
	return fmt.Sprintf("xds:///%s.%s.svc.cluster.local:%d", svc, ns, port)
}

// within reports whether got out of n is share% ± tolerance points.
func within(got, n int, share, tolerance float64) bool {
	return math.Abs(float64(got)*100/float64(n)-share) <= tolerance
}

// splitEighty starts echo-v1 and echo-v2 behind their own services and a
// service "echo" whose VirtualService sends 80% to echo-v1 and 20% to
// echo-v2; it returns the port to dial echo on.
func splitEighty(t *testing.T, ns string) int {
	t.Helper()
	v1 := startBackend(t, network.Hosts[0], "echo-v1", map[string]string{"version": "v1"})
	v2 := startBackend(t, network.Hosts[1], "echo-v2", map[string]string{"version": "v2"})
	createService(t, ns, "echo-v1", v1.port, v1)
	createService(t, ns, "echo-v2", v2.port, v2)
	createService(t, ns, "echo", v1.port)
	apply(t, ns, fmt.Sprintf(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts:
  - echo
  http:
  - route:
    - destination:
        host: echo-v1
        port:
          number: %d
      weight: 80
    - destination:
        host: echo-v2
        port:
          number: %d
      weight: 20
`, v1.port, v2.port))
	return v1.port
}

func checkEightyTwenty(t *testing.T, s summary) {
	t.Helper()
	if s.OK != 1000 || !within(s.Backends["echo-v1"], 1000, 80, 5) || !within(s.Backends["echo-v2"], 1000, 20, 5) {
		t.Errorf("want 80/20 ±5 over 1000 RPCs, got %+v", s)
	}
}

func TestWeightedSplit(t *testing.T) {
	ns := newNamespace(t)
	port := splitEighty(t, ns)
	checkEightyTwenty(t, runClient(t, ns, target(ns, "echo", port), "--n", "1000", "--wait-for-ready"))
}

// twoVersions starts echo-v1 and echo-v2 on two hosts behind one service
// "echo" (pods labeled version=v1/v2) and returns the service port.
func twoVersions(t *testing.T, ns string, args ...string) int {
	t.Helper()
	port := int(nextPort.Add(1))
	v1 := startBackendOn(t, network.Hosts[0], port, "echo-v1", map[string]string{"version": "v1"}, args...)
	v2 := startBackendOn(t, network.Hosts[1], port, "echo-v2", map[string]string{"version": "v2"}, args...)
	createService(t, ns, "echo", port, v1, v2)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`)
	return port
}

func TestHeaderMatchAndSubsets(t *testing.T) {
	ns := newNamespace(t)
	port := twoVersions(t, ns)
	apply(t, ns, `
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts:
  - echo
  http:
  - match:
    - headers:
        x-user:
          exact: tester
    route:
    - destination:
        host: echo
        subset: v2
  - route:
    - destination:
        host: echo
        subset: v1
`)
	tgt := target(ns, "echo", port)
	if s := runClient(t, ns, tgt, "--n", "50", "--wait-for-ready"); s.Backends["echo-v1"] != 50 {
		t.Errorf("without the header every RPC goes to subset v1, got %+v", s)
	}
	if s := runClient(t, ns, tgt, "--n", "50", "--wait-for-ready", "--header", "x-user=tester"); s.Backends["echo-v2"] != 50 {
		t.Errorf("with x-user: tester every RPC goes to subset v2, got %+v", s)
	}
}
