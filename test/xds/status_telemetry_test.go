package xds

import (
	"strings"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

var telemetryKind = istioKind{"telemetry.istio.io/v1", "Telemetry"}

// reconciledAs is a status of the object's current generation whose Reconciled message is msg.
func reconciledAs(msg string) func(objectStatus) bool {
	return func(s objectStatus) bool {
		return s.observedGeneration == s.generation && s.conditions["Reconciled"].message == msg
	}
}

// TestTelemetryStatusFollowsTheSidecarsItSelects: Telemetry objects get the status of the
// other tracked kinds, counting the one Envoy sidecar (a delta xDS client labelled
// app=delta-client) each applies to as TelemetryFor applies them: by selector, namespace-wide,
// and not at all for the younger of two namespace-wide objects, which Istio ignores. A
// problem names its field, and a changed selector is followed to the new generation.
func TestTelemetryStatusFollowsTheSidecarsItSelects(t *testing.T) {
	ns := newNamespace(t)
	c := newDeltaClient(t, ns)
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ClusterType})
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ListenerType})
	c.recv(resourcev3.ClusterType)

	apply(t, ns, `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: client-logs}
spec:
  selector: {matchLabels: {app: delta-client}}
  accessLogging:
  - providers: [{name: envoy}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: elsewhere}
spec:
  selector: {matchLabels: {app: nobody}}
  accessLogging:
  - providers: [{name: envoy}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: unknown-provider}
spec:
  selector: {matchLabels: {app: delta-client}}
  accessLogging:
  - providers: [{name: stackdriver}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ns-a}
spec:
  accessLogging:
  - providers: [{name: envoy}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: ns-b}
spec:
  accessLogging:
  - providers: [{name: envoy}]
`)
	st := waitStatus(t, telemetryKind, ns, "client-logs", "programmed on the sidecar", reconciledAs("programmed on 1 of 1 proxy"))
	if r := st.conditions["Reconciled"]; r.status != "True" || r.reason != "Programmed" {
		t.Errorf("client-logs: Reconciled = %+v, want True Programmed", r)
	}
	if strings.Join(st.statusManagers, ",") != "loom-discovery-status" {
		t.Errorf("client-logs: status written by %v, want the field manager loom-discovery-status", st.statusManagers)
	}
	waitStatus(t, telemetryKind, ns, "elsewhere", "no proxy", reconciledAs("programmed on 0 of 0 proxies"))
	// Created in the same second as ns-b, ns-a is the older by name, as Istio orders them.
	waitStatus(t, telemetryKind, ns, "ns-a", "programmed on the sidecar", reconciledAs("programmed on 1 of 1 proxy"))

	st = waitStatus(t, telemetryKind, ns, "unknown-provider", "programmed on the sidecar", reconciledAs("programmed on 1 of 1 proxy"))
	if a := st.conditions["Accepted"]; a.status != "False" || a.reason != "PartiallyInvalid" || !strings.Contains(a.message, "spec.accessLogging[0].providers[0]: ") || !strings.Contains(a.message, "stackdriver") {
		t.Errorf("unknown-provider: Accepted = %+v, want False PartiallyInvalid naming spec.accessLogging[0].providers[0]", a)
	}

	st = waitStatus(t, telemetryKind, ns, "ns-b", "Accepted False", func(s objectStatus) bool {
		return s.observedGeneration == s.generation && s.conditions["Accepted"].status == "False"
	})
	if a := st.conditions["Accepted"]; a.reason != "Invalid" || !strings.Contains(a.message, "spec: ignored: "+ns+"/ns-a is older") {
		t.Errorf("ns-b: Accepted = %+v, want Invalid naming spec and %s/ns-a", a, ns)
	}
	if r, ok := st.conditions["Reconciled"]; ok {
		t.Errorf("ns-b is ignored, yet claims proxies: %+v", r)
	}

	// The selector moves away from the sidecar: generation 2 applies to no proxy.
	apply(t, ns, `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: client-logs}
spec:
  selector: {matchLabels: {app: nobody}}
  accessLogging:
  - providers: [{name: envoy}]
`)
	st = waitStatus(t, telemetryKind, ns, "client-logs", "generation 2 on no proxy", reconciledAs("programmed on 0 of 0 proxies"))
	if st.generation != "2" {
		t.Errorf("client-logs is at generation %s, want 2", st.generation)
	}
}
