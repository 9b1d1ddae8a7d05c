package controllers

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// defaults is spec.meshConfig as the CRD defaults it when the user sets nothing.
func defaults() operatorv1alpha1.MeshConfigSpec {
	return operatorv1alpha1.MeshConfigSpec{
		TrustDomain: "cluster.local", MTLSMode: "PERMISSIVE", OutboundTrafficPolicy: "ALLOW_ANY",
		AccessLogging: operatorv1alpha1.AccessLoggingSpec{Encoding: "TEXT", Path: "/dev/stdout"},
		Tracing:       operatorv1alpha1.TracingSpec{SamplingPercentage: "1"},
	}
}

func TestMeshConfigHonored(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*operatorv1alpha1.MeshConfigSpec)
		// unhonored are the fields the message must name; none means True.
		unhonored []string
	}{
		{"defaults", func(*operatorv1alpha1.MeshConfigSpec) {}, nil},
		{"empty (no CRD defaults)", func(mc *operatorv1alpha1.MeshConfigSpec) { *mc = operatorv1alpha1.MeshConfigSpec{} }, nil},
		{"honoured fields", func(mc *operatorv1alpha1.MeshConfigSpec) {
			mc.OutboundTrafficPolicy = "REGISTRY_ONLY"
			mc.DefaultTimeout = &metav1.Duration{Duration: time.Second}
			mc.DefaultRetries = &operatorv1alpha1.RetryPolicy{Attempts: 2}
		}, nil},
		{"logging settings while it is off", func(mc *operatorv1alpha1.MeshConfigSpec) { mc.AccessLogging.Encoding = "JSON" }, nil},
		{"strict mTLS and a trust domain, honoured since the mesh CA", func(mc *operatorv1alpha1.MeshConfigSpec) { mc.MTLSMode, mc.TrustDomain = "STRICT", "example.org" }, nil},
		{"access logging, honoured since discovery configures Envoy's access log", func(mc *operatorv1alpha1.MeshConfigSpec) { mc.AccessLogging.Enabled = true }, nil},
		{"tracing to a collector, honoured since discovery configures Zipkin tracing", func(mc *operatorv1alpha1.MeshConfigSpec) {
			mc.Tracing.Enabled, mc.Tracing.CollectorAddress = true, "zipkin.tracing.svc:9411"
		}, nil},
		{"tracing without a collector", func(mc *operatorv1alpha1.MeshConfigSpec) { mc.Tracing.Enabled = true }, []string{"spec.meshConfig.tracing", "collectorAddress"}},
		{"all at once", func(mc *operatorv1alpha1.MeshConfigSpec) {
			mc.MTLSMode, mc.TrustDomain, mc.AccessLogging.Enabled, mc.Tracing.Enabled = "STRICT", "example.org", true, true
			mc.Tracing.CollectorAddress = "zipkin.tracing.svc:9411"
			mc.OutboundTrafficPolicy = "REGISTRY_ONLY"
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc := defaults()
			tc.edit(&mc)
			status, reason, msg := meshConfigHonored(&mc)
			if len(tc.unhonored) == 0 {
				if status != metav1.ConditionTrue || reason != operatorv1alpha1.ReasonAllFieldsHonored {
					t.Errorf("got %s/%s %q, want True", status, reason, msg)
				}
				return
			}
			if status != metav1.ConditionFalse || reason != operatorv1alpha1.ReasonFieldsNotImplemented {
				t.Errorf("got %s/%s, want False/%s", status, reason, operatorv1alpha1.ReasonFieldsNotImplemented)
			}
			for _, field := range tc.unhonored {
				if !strings.Contains(msg, field) {
					t.Errorf("message %q does not name %s", msg, field)
				}
			}
			for _, honoured := range []string{"outboundTrafficPolicy", "mtlsMode", "trustDomain"} {
				if strings.Contains(msg, honoured) {
					t.Errorf("message %q names %s, which is honoured", msg, honoured)
				}
			}
		})
	}
}

func TestStatusStatesTheMeshConfigThatTakesNoEffect(t *testing.T) {
	mesh := &operatorv1alpha1.MeshOperator{ObjectMeta: metav1.ObjectMeta{Name: "m", Generation: 4}}
	mesh.Spec.MeshConfig = defaults()
	mesh.Spec.MeshConfig.Tracing.Enabled = true
	b := newStatus(mesh)
	b.failed(operatorv1alpha1.ReasonInvalidValues, "bad values") // whatever else the reconcile finds
	var got *metav1.Condition
	for i, c := range b.status.Conditions {
		if c.Type == operatorv1alpha1.ConditionMeshConfigHonored {
			got = &b.status.Conditions[i]
		}
	}
	if got == nil || got.Status != metav1.ConditionFalse || got.ObservedGeneration != 4 || !strings.Contains(got.Message, "tracing") {
		t.Errorf("MeshConfigHonored condition %+v, want False for generation 4 naming tracing", got)
	}
}

func TestAnnounce(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	honored := cond(operatorv1alpha1.ConditionMeshConfigHonored, metav1.ConditionTrue, operatorv1alpha1.ReasonAllFieldsHonored, "")
	strict := cond(operatorv1alpha1.ConditionMeshConfigHonored, metav1.ConditionFalse, operatorv1alpha1.ReasonFieldsNotImplemented, "mtlsMode")
	strictAndTracing := cond(operatorv1alpha1.ConditionMeshConfigHonored, metav1.ConditionFalse, operatorv1alpha1.ReasonFieldsNotImplemented, "mtlsMode; tracing")
	waiting := cond(operatorv1alpha1.ConditionReady, metav1.ConditionFalse, operatorv1alpha1.ReasonInstalling, "waiting for a")
	degraded := cond(operatorv1alpha1.ConditionDegraded, metav1.ConditionTrue, operatorv1alpha1.ReasonRolledBack, "")
	for _, tc := range []struct {
		name     string
		old      *metav1.Condition
		c        metav1.Condition
		want     bool
		wantType string
	}{
		{"first honored", nil, honored, true, corev1.EventTypeNormal},
		{"first unhonored", nil, strict, true, corev1.EventTypeWarning},
		{"becomes unhonored", &honored, strict, true, corev1.EventTypeWarning},
		{"another field takes no effect", &strict, strictAndTracing, true, corev1.EventTypeWarning},
		{"same fields", &strict, strict, false, ""},
		{"honored again", &strict, honored, true, corev1.EventTypeNormal},
		{"other condition's message changes", &waiting, cond(operatorv1alpha1.ConditionReady, metav1.ConditionFalse, operatorv1alpha1.ReasonInstalling, "waiting for b"), false, ""},
		{"degraded", nil, degraded, true, corev1.EventTypeWarning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, ok := announce(tc.old, tc.c)
			if ok != tc.want || typ != tc.wantType {
				t.Errorf("announce = %q, %v; want %q, %v", typ, ok, tc.wantType, tc.want)
			}
		})
	}
}

// Mesh config set through the chart overrides is judged too: the control plane reads it.
func TestMeshConfigHonoredSeesChartOverrides(t *testing.T) {
	mesh := &operatorv1alpha1.MeshOperator{Spec: operatorv1alpha1.MeshOperatorSpec{Namespace: "loom-system", Version: "1.1.0"}}
	mesh.Spec.Values.ControlPlane = &apiextensionsv1.JSON{Raw: []byte(`{"meshConfig":{"tracing":{"enabled":true}}}`)}
	c := meta.FindStatusCondition(newStatus(mesh).status.Conditions, operatorv1alpha1.ConditionMeshConfigHonored)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "tracing") {
		t.Fatalf("tracing without a collector set through spec.values.controlPlane.meshConfig: condition %+v, want False naming tracing", c)
	}
}

// The Jaeger add-on supplies the collector tracing needs, so tracing is honoured with it.
func TestTracingHonouredWithTheJaegerAddon(t *testing.T) {
	mesh := &operatorv1alpha1.MeshOperator{Spec: operatorv1alpha1.MeshOperatorSpec{Namespace: "loom-system", Version: "1.1.0"}}
	mesh.Spec.MeshConfig.Tracing.Enabled = true
	mesh.Spec.Addons.Jaeger.Enabled = true
	c := meta.FindStatusCondition(newStatus(mesh).status.Conditions, operatorv1alpha1.ConditionMeshConfigHonored)
	if c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("tracing with the Jaeger add-on: condition %+v, want True", c)
	}
}
