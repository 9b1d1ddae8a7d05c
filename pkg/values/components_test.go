package values

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/render"
)

func renderChart(t *testing.T, chart, namespace string, vals map[string]any, err error) []*unstructured.Unstructured {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render(chart, render.Release{Name: "mesh", Namespace: namespace}, vals)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func manifest(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var out strings.Builder
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	return []byte(out.String())
}

// TestGatewaysAndAddonsGolden renders the gateways and add-ons of the demo and production samples.
func TestGatewaysAndAddonsGolden(t *testing.T) {
	for _, profile := range []string{"demo", "production"} {
		mesh := sample(t, profile)
		spec := &mesh.Spec
		for i := range spec.Gateways {
			gw := &spec.Gateways[i]
			vals, err := Gateway(spec, gw)
			objs := renderChart(t, render.Gateway, GatewayNamespace(spec, gw), vals, err)
			golden.Assert(t, "testdata/"+profile+"-gateway-"+gw.Name+".yaml", manifest(t, objs))
		}
		addons := []struct {
			chart    string
			enabled  bool
			valuesOf func(*operatorv1alpha1.MeshOperatorSpec) (map[string]any, error)
		}{
			{render.Prometheus, spec.Addons.Prometheus.Enabled, Prometheus},
			{render.Grafana, spec.Addons.Grafana.Enabled, Grafana},
			{render.Jaeger, spec.Addons.Jaeger.Enabled, Jaeger},
		}
		for _, a := range addons {
			if !a.enabled {
				continue
			}
			chart := a.chart
			vals, err := a.valuesOf(spec)
			objs := renderChart(t, chart, spec.Namespace, vals, err)
			golden.Assert(t, "testdata/"+profile+"-addon-"+chart+".yaml", manifest(t, objs))
		}
	}
}

func TestGatewayDefaults(t *testing.T) {
	mesh := sample(t, "production")
	spec := &mesh.Spec
	for _, tc := range []struct {
		gw, svcType string
		replicas    int64
	}{{"ingress", "LoadBalancer", 3}, {"egress", "ClusterIP", 2}} {
		var gw *operatorv1alpha1.GatewaySpec
		for i := range spec.Gateways {
			if spec.Gateways[i].Name == tc.gw {
				gw = &spec.Gateways[i]
			}
		}
		vals, err := Gateway(spec, gw)
		objs := renderChart(t, render.Gateway, spec.Namespace, vals, err)
		svc, deploy := find(objs, "Service"), find(objs, "Deployment")
		if typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); typ != tc.svcType {
			t.Errorf("%s: Service type %s, want %s", tc.gw, typ, tc.svcType)
		}
		ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
		if p := ports[0].(map[string]any); p["port"] != int64(80) || p["targetPort"] != int64(8080) {
			t.Errorf("%s: first port %v, want 80 -> 8080", tc.gw, p)
		}
		// Autoscaling is on in production: the HPA, not the Deployment, sets replicas.
		if _, set, _ := unstructured.NestedFieldNoCopy(deploy.Object, "spec", "replicas"); set {
			t.Errorf("%s: Deployment sets replicas under autoscaling", tc.gw)
		}
		if min, _, _ := unstructured.NestedInt64(find(objs, "HorizontalPodAutoscaler").Object, "spec", "minReplicas"); min != tc.replicas {
			t.Errorf("%s: HPA min replicas %d, want %d", tc.gw, min, tc.replicas)
		}
		if env := fmt.Sprint(unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")); !strings.Contains(env, "value:loom-control-plane-1-1-0.loom-production.svc:15012") {
			t.Errorf("%s: the gateway's agent does not point at the revision's control plane: %s", tc.gw, env)
		}
	}
}

func TestInvalidGatewayOverrideNamesTheField(t *testing.T) {
	mesh := defaulted(t, []byte(`
apiVersion: operator.loom.dev/v1alpha1
kind: MeshOperator
metadata: {name: bad}
spec:
  gateways: [{name: in, type: Ingress}]
  values:
    gateway: {service: {type: Internal}}
`))
	vals, err := Gateway(&mesh.Spec, &mesh.Spec.Gateways[0])
	if err != nil {
		t.Fatal(err)
	}
	r, _ := render.New()
	_, err = r.Render(render.Gateway, render.Release{Name: "bad", Namespace: "ns"}, vals)
	var invalid *render.InvalidValuesError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "/service/type") {
		t.Errorf("got %v, want an InvalidValuesError naming /service/type", err)
	}
}

// TestPlacementOverrides checks that the gateway and add-on charts place their pods where
// spec.values says, as the control-plane chart does (the demo puts them on simulated nodes).
func TestPlacementOverrides(t *testing.T) {
	mesh := sample(t, "demo")
	spec := &mesh.Spec
	placement := []byte(`{"nodeSelector":{"type":"kwok"},"tolerations":[{"key":"loom.dev/simulated","operator":"Exists","effect":"NoSchedule"}]}`)
	spec.Values.Gateway = &apiextensionsv1.JSON{Raw: placement}
	spec.Values.Prometheus = &apiextensionsv1.JSON{Raw: placement}
	spec.Values.Grafana = &apiextensionsv1.JSON{Raw: placement}
	spec.Values.Jaeger = &apiextensionsv1.JSON{Raw: placement}
	gw := &spec.Gateways[0]
	gwVals, gwErr := Gateway(spec, gw)
	promVals, promErr := Prometheus(spec)
	grafanaVals, grafanaErr := Grafana(spec)
	jaegerVals, jaegerErr := Jaeger(spec)
	for _, c := range []struct {
		chart string
		vals  map[string]any
		err   error
	}{
		{render.Gateway, gwVals, gwErr}, {render.Prometheus, promVals, promErr},
		{render.Grafana, grafanaVals, grafanaErr}, {render.Jaeger, jaegerVals, jaegerErr},
	} {
		found := false
		for _, o := range renderChart(t, c.chart, spec.Namespace, c.vals, c.err) {
			if o.GetKind() != "Deployment" {
				continue
			}
			found = true
			sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "spec", "nodeSelector")
			tols, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "tolerations")
			if sel["type"] != "kwok" || len(tols) != 1 {
				t.Errorf("%s: nodeSelector %v, tolerations %v: the overrides did not reach the pod", c.chart, sel, tols)
			}
		}
		if !found {
			t.Errorf("%s rendered no Deployment", c.chart)
		}
	}
}
