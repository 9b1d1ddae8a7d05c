package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/reflect/protoreflect"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/pkg/loomcrds"
	"loom.dev/loom/pkg/validation"
)

func validationRequest(t testing.TB, op admissionv1.Operation, group, version, kind, objYAML string) admission.Request {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(objYAML))
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: op, Namespace: "shop", Name: "reviews",
		Kind:   metav1.GroupVersionKind{Group: group, Version: version, Kind: kind},
		Object: runtime.RawExtension{Raw: js},
	}}
}

const validVS = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v2}, weight: 25}`

const invalidVS = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {regex: "^/(?!admin)"}}]
    route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v2}, weight: -25}`

func TestValidatorAnswers(t *testing.T) {
	v := NewValidator(nil)
	for _, version := range []string{"v1", "v1beta1", "v1alpha3"} {
		resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", version, "VirtualService", validVS))
		if !resp.Allowed {
			t.Errorf("%s: valid VirtualService denied: %v", version, resp.Result)
		}
		resp = v.Handle(context.Background(), validationRequest(t, admissionv1.Update, "networking.istio.io", version, "VirtualService", invalidVS))
		msg := message(resp)
		if resp.Allowed || !strings.Contains(msg, "VirtualService shop/reviews") ||
			!strings.Contains(msg, "spec.http[0].match[0].uri.regex") || !strings.Contains(msg, "spec.http[0].route[1].weight") {
			t.Errorf("%s: want denied naming the object and both fields, got allowed=%v %q", version, resp.Allowed, msg)
		}
		if resp.Result.Details == nil || len(resp.Result.Details.Causes) != 2 {
			t.Errorf("%s: want 2 causes, got %+v", version, resp.Result.Details)
		}
	}
	warn := strings.Replace(validVS, "weight: 25", "weight: 15", 1)
	resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "VirtualService", warn))
	if !resp.Allowed || len(resp.Warnings) != 1 || !strings.Contains(resp.Warnings[0], "spec.http[0].route: weights add up to 90") {
		t.Errorf("weights adding up to 90: want allowed with a warning, got allowed=%v warnings %q", resp.Allowed, resp.Warnings)
	}
	unknown := strings.Replace(validVS, "hosts: [reviews]", "hosts: [reviews]\n  hostz: [x]", 1)
	resp = v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "VirtualService", unknown))
	if resp.Allowed || !strings.Contains(message(resp), `spec.hostz: unknown field "hostz"`) {
		t.Errorf("unknown field: want denied naming it, got %q", message(resp))
	}
	resp = v.Handle(context.Background(), validationRequest(t, admissionv1.Delete, "networking.istio.io", "v1", "VirtualService", invalidVS))
	if !resp.Allowed {
		t.Errorf("DELETE must be allowed: %v", resp.Result)
	}
	resp = v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "EnvoyFilter", "spec: {}"))
	if !resp.Allowed || !strings.Contains(message(resp), "does not validate EnvoyFilter") {
		t.Errorf("unknown kind: want allowed with a message, got %v %q", resp.Allowed, message(resp))
	}
	resp = v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v2", "VirtualService", invalidVS))
	if !resp.Allowed {
		t.Errorf("a version Loom's CRDs do not serve is not validated: %v", resp.Result)
	}
}

func TestValidatorSecurityKinds(t *testing.T) {
	v := NewValidator(nil)
	for _, tc := range []struct {
		kind, spec, field string
	}{
		{"AuthorizationPolicy", "action: DENY\nrules: [{}]", ""},
		{"AuthorizationPolicy", "action: CUSTOM\nrules: [{}]", "spec.provider.name"},
		{"PeerAuthentication", "mtls: {mode: STRICT}", ""},
		{"PeerAuthentication", "portLevelMtls: {8080: {mode: DISABLE}}", "spec.portLevelMtls"},
		{"RequestAuthentication", "jwtRules: [{issuer: a}]", ""},
		{"RequestAuthentication", "jwtRules: [{audiences: [b]}]", "spec.jwtRules[0].issuer"},
	} {
		for _, version := range []string{"v1", "v1beta1"} {
			obj := fmt.Sprintf("metadata: {name: p}\nspec:\n  %s", strings.ReplaceAll(tc.spec, "\n", "\n  "))
			resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "security.istio.io", version, tc.kind, obj))
			if tc.field == "" && !resp.Allowed || tc.field != "" && (resp.Allowed || !strings.Contains(message(resp), tc.field+":")) {
				t.Errorf("%s %s %q: want field %q, got allowed=%v %q", version, tc.kind, tc.spec, tc.field, resp.Allowed, message(resp))
			}
		}
	}
}

// TestValidatorServesLoomsCRDs: every kind and version Loom's CRDs serve among the validated
// kinds is validated, and nothing else.
func TestValidatorServesLoomsCRDs(t *testing.T) {
	validated := map[string]bool{}
	for _, k := range validation.Kinds() {
		validated[k.Group+"/"+k.Kind] = true
		for _, v := range k.Versions {
			validated[k.Group+"/"+v+"/"+k.Kind] = true
		}
	}
	loom, err := loomcrds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	for _, crd := range append(istiocrds.CRDs(), loom...) {
		gk := crd.Spec.Group + "/" + crd.Spec.Names.Kind
		if !validated[gk] {
			t.Logf("%s is served but not validated", gk)
			continue
		}
		for _, v := range crd.Spec.Versions {
			served++
			if _, ok := validation.Lookup(crd.Spec.Group, v.Name, crd.Spec.Names.Kind); !ok || !v.Served {
				t.Errorf("%s/%s: served by the CRD, not validated", gk, v.Name)
			}
		}
	}
	if want := len(validated) - len(validation.Kinds()); served != want {
		t.Errorf("the CRDs serve %d validated kind versions, the validator knows %d", served, want)
	}
}

func TestValidatorMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	v := NewValidator(reg)
	v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "VirtualService", validVS))
	v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "VirtualService", invalidVS))
	v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "VirtualService", invalidVS))
	v.Handle(context.Background(), validationRequest(t, admissionv1.Delete, "networking.istio.io", "v1", "VirtualService", ""))
	for result, want := range map[string]float64{"allowed": 1, "denied": 2, "skipped": 1} {
		if got := testutil.ToFloat64(v.requests.WithLabelValues("VirtualService", result)); got != want {
			t.Errorf("loom_config_validation_requests_total{kind=VirtualService,result=%s} = %v, want %v", result, got, want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "loom_config_validation_requests_total"); err != nil || n != 3 {
		t.Errorf("registered series: %d, %v", n, err)
	}
}

// checkNoPanic fails on the answer of a recovered panic (an internal error).
func checkNoPanic(t testing.TB, resp admission.Response, input []byte) {
	t.Helper()
	if resp.Result != nil && resp.Result.Code == http.StatusInternalServerError {
		t.Fatalf("internal error (a panic) on %q: %s", input, resp.Result.Message)
	}
}

func FuzzValidator(f *testing.F) {
	for _, seed := range []string{validVS, invalidVS, "{}", "null", `{"spec": null}`, `{"spec": []}`, `{"spec": {"http": [null]}}`,
		`{"spec": {"hosts": [1]}}`, `{"spec": {"http": [{"route": [{"weight": 9999999999}]}]}}`} {
		js, err := yaml.YAMLToJSON([]byte(seed))
		if err != nil {
			f.Fatal(err)
		}
		for i := range validation.Kinds() {
			f.Add(i, js)
		}
	}
	v := NewValidator(nil)
	f.Fuzz(func(t *testing.T, kind int, raw []byte) {
		kinds := validation.Kinds()
		k := kinds[uint(kind)%uint(len(kinds))]
		req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create,
			Kind: metav1.GroupVersionKind{Group: k.Group, Version: k.Versions[0], Kind: k.Kind}, Object: runtime.RawExtension{Raw: raw}}}
		checkNoPanic(t, v.Handle(context.Background(), req), raw)
	})
}

// TestValidatorRandomSpecs sends specs built at random from each kind's descriptor, with
// values chosen to hit the checks' edges, so that deep fields are reached (random bytes
// rarely decode).
func TestValidatorRandomSpecs(t *testing.T) {
	v := NewValidator(nil)
	rng := rand.New(rand.NewPCG(1, 2))
	schemas := loomSchemas(t)
	for _, k := range validation.Kinds() {
		md := k.Descriptor()
		randomSpec := func() any { return randomMessage(rng, md, 0) }
		if md == nil {
			schema, ok := schemas[k.Group+"/"+k.Kind]
			if !ok {
				t.Fatalf("%s: neither a protobuf message nor a Loom CRD", k.Kind)
			}
			randomSpec = func() any { return randomFromSchema(rng, schema, 0) }
		}
		for range 400 {
			raw, err := json.Marshal(map[string]any{"metadata": map[string]any{"name": "x"}, "spec": randomSpec()})
			if err != nil {
				t.Fatal(err)
			}
			req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: admissionv1.Create, Namespace: "ns",
				Kind: metav1.GroupVersionKind{Group: k.Group, Version: k.Versions[0], Kind: k.Kind}, Object: runtime.RawExtension{Raw: raw}}}
			checkNoPanic(t, v.Handle(context.Background(), req), raw)
		}
	}
}

var randomStrings = []string{"", "*", "a", "reviews", "*.example.com", "foo*.bar", "1.2.3.4", "::1", "10.0.0.0/8", "10.0.0.0/33", "(",
	"^/(?!a)", "%", "%HOSTNAME%", ":authority", "host", "unix:///var/run/a.sock", "unix://", "ns/a.example.com", "./*", "~/x",
	"/a/{**}/{*}", "@request.auth.claims.x", "source.ip", "request.headers[x]", "8080", "-1", "\n", "x y", strings.Repeat("a", 300)}

var randomDurations = []string{"0s", "1ms", "0.0001s", "-1s", "1.5s", "500ms", "2562047h", "1h"}

func randomMessage(rng *rand.Rand, md protoreflect.MessageDescriptor, depth int) any {
	switch md.FullName() {
	case "google.protobuf.Duration":
		return randomDurations[rng.IntN(len(randomDurations))]
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.Any", "google.protobuf.ListValue":
		return map[string]any{}
	}
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") { // wrappers
		return randomScalar(rng, md.Fields().ByName("value"))
	}
	out := map[string]any{}
	if depth > 5 {
		return out
	}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if rng.IntN(3) != 0 {
			continue
		}
		switch {
		case fd.IsMap():
			m := map[string]any{}
			for range rng.IntN(3) {
				key := randomStrings[rng.IntN(len(randomStrings))]
				if fd.MapKey().Kind() != protoreflect.StringKind {
					key = fmt.Sprint(rng.IntN(70000))
				}
				m[key] = randomValue(rng, fd.MapValue(), depth)
			}
			out[fd.JSONName()] = m
		case fd.IsList():
			l := []any{}
			for range rng.IntN(4) {
				l = append(l, randomValue(rng, fd, depth))
			}
			out[fd.JSONName()] = l
		default:
			out[fd.JSONName()] = randomValue(rng, fd, depth)
		}
	}
	return out
}

func randomValue(rng *rand.Rand, fd protoreflect.FieldDescriptor, depth int) any {
	if fd.Kind() == protoreflect.MessageKind {
		return randomMessage(rng, fd.Message(), depth+1)
	}
	return randomScalar(rng, fd)
}

func randomScalar(rng *rand.Rand, fd protoreflect.FieldDescriptor) any {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return randomStrings[rng.IntN(len(randomStrings))]
	case protoreflect.BoolKind:
		return rng.IntN(2) == 0
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		return string(values.Get(rng.IntN(values.Len())).Name())
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return []float64{-1, 0, 0.00001, 50, 100, 101}[rng.IntN(6)]
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return []uint64{0, 1, 80, 65535, 65536, 4294967295}[rng.IntN(6)]
	case protoreflect.BytesKind:
		return "aGVsbG8="
	}
	return []int64{-1, 0, 1, 100, 2147483647, -2147483648}[rng.IntN(6)]
}

func message(resp admission.Response) string {
	if resp.Result == nil {
		return ""
	}
	return resp.Result.Message
}

// TestValidatorRejectsIstiosInternalAnnotations: as Istio's validator, an object carrying
// internal.istio.io/webhook-always-reject is denied whatever its spec (a control plane's
// probe of whether the apiserver reaches its validator), and so is internal.istio.io/parent.
func TestValidatorRejectsIstiosInternalAnnotations(t *testing.T) {
	v := NewValidator(nil)
	for annotation, want := range map[string]string{
		"internal.istio.io/webhook-always-reject": "metadata.annotations[internal.istio.io/webhook-always-reject]: annotation found, rejecting",
		"internal.istio.io/parent":                "metadata.annotations[internal.istio.io/parent]: annotation found, this may not be set by users",
	} {
		obj := strings.Replace(validVS, "metadata: {name: reviews, namespace: shop}",
			`metadata: {name: reviews, namespace: shop, annotations: {"`+annotation+`": "true"}}`, 1)
		resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "VirtualService", obj))
		if resp.Allowed || !strings.Contains(message(resp), want) {
			t.Errorf("%s: want denied with %q, got allowed=%v %q", annotation, want, resp.Allowed, message(resp))
		}
	}
	gw := "metadata: {name: probe, annotations: {\"internal.istio.io/webhook-always-reject\": \"true\"}}\nspec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [\"*\"]}]}"
	if resp := v.Handle(context.Background(), validationRequest(t, admissionv1.Create, "networking.istio.io", "v1", "Gateway", gw)); resp.Allowed {
		t.Error("a valid Gateway carrying the always-reject annotation was allowed")
	}
}
