package istiocrds

import (
	"slices"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
)

// The rules below are the ones Istio's published CRDs carry that follow from the descriptors
// themselves: protobuf oneofs, google.api.field_behavior REQUIRED, and the Duration type.

// oneofs returns, for each real oneof of the message, a schema that admits no member or
// exactly one, as the protobuf JSON mapping does. A member counts under either of its names.
func oneofs(md protoreflect.MessageDescriptor) []schema {
	var groups []schema
	all := md.Oneofs()
	for i := range all.Len() {
		od := all.Get(i)
		if od.IsSynthetic() { // proto3 `optional`, not a choice
			continue
		}
		var each []schema
		fields := od.Fields()
		for j := range fields.Len() {
			for _, name := range jsonNames(fields.Get(j)) {
				each = append(each, schema{Required: []string{name}})
			}
		}
		none := schema{Not: &schema{AnyOf: each}}
		groups = append(groups, schema{OneOf: append([]schema{none}, each...)})
	}
	return groups
}

// jsonNames are the names the protobuf JSON mapping reads a field under.
func jsonNames(fd protoreflect.FieldDescriptor) []string {
	if name := string(fd.Name()); name != fd.JSONName() {
		return []string{fd.JSONName(), name}
	}
	return []string{fd.JSONName()}
}

// required reports whether the field is annotated (google.api.field_behavior) = REQUIRED.
func required(fd protoreflect.FieldDescriptor) bool {
	behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, annotations.FieldBehavior_REQUIRED)
}

// zeroDurations are the Duration fields where zero has a meaning (a session cookie, no idle
// timeout, only active requests): Istio exempts them from its 1ms minimum with a
// protoc-gen-crd comment marker, which the Go descriptors do not carry.
var zeroDurations = map[protoreflect.FullName]bool{
	"istio.networking.v1alpha3.TrafficPolicy.RetryBudget.budget_interval":            true,
	"istio.networking.v1alpha3.LoadBalancerSettings.ConsistentHashLB.HTTPCookie.ttl": true,
	"istio.networking.v1alpha3.ConnectionPoolSettings.TCPSettings.idle_timeout":      true,
}

// nonNegativeDuration is the syntax of a non-negative duration as CEL's duration() (Go's
// time.ParseDuration) reads it. A pattern costs nothing against the CEL budget, which the
// 1ms rules below unbounded lists already nearly use up.
const nonNegativeDuration = `^\+?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$`

// durationSchema checks a Duration's string form as Istio does, with CEL's duration(), which
// reads Go-style durations ("1.5s", "1m30s") and fails on anything else: at least 1ms, or
// for the zeroDurations any non-negative duration (Istio checks nothing there).
func durationSchema(fd protoreflect.FieldDescriptor) schema {
	if zeroDurations[fd.FullName()] {
		return schema{Type: "string", Pattern: nonNegativeDuration}
	}
	rule := apiextensionsv1.ValidationRule{Rule: "duration(self) >= duration('1ms')", Message: "must be a valid duration greater than 1ms"}
	return schema{Type: "string", XValidations: apiextensionsv1.ValidationRules{rule}}
}

// maxItems are list bounds Istio declares with comment markers, which the Go descriptors do
// not carry, and which Loom needs as well: without them the duration rules under these lists
// exceed the apiserver's CEL cost budget (each rule under an unbounded list is costed as if
// the list filled the whole request).
var maxItems = map[protoreflect.FullName]*int64{
	"istio.networking.v1alpha3.TrafficPolicy.port_level_settings": ptr.To[int64](4096),
	"istio.telemetry.v1alpha1.Telemetry.target_refs":              ptr.To[int64](16),
}

// fieldMarkers are the other kubebuilder comment markers of Istio's protos that the Go
// descriptors do not carry, for the single (not list) fields that have them.
var fieldMarkers = map[protoreflect.FullName]func(*schema){
	"istio.telemetry.v1alpha1.Tracing.random_sampling_percentage": func(s *schema) {
		s.Minimum, s.Maximum = ptr.To(0.0), ptr.To(100.0)
	},
	"istio.telemetry.v1alpha1.ProviderRef.name": func(s *schema) { s.MinLength = ptr.To[int64](1) },
}

// messageRules are message-level XValidation markers of Istio's protos: a policy names its
// workloads with a selector or target references, never both.
var messageRules = map[protoreflect.FullName]apiextensionsv1.ValidationRules{
	"istio.telemetry.v1alpha1.Telemetry": {{
		Rule:    "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1",
		Message: "only one of targetRefs or selector can be set",
	}},
}

// withoutCEL returns a deep copy of s with every x-kubernetes-validations rule removed.
func withoutCEL(s schema) schema {
	out := *s.DeepCopy()
	var strip func(*schema)
	strip = func(s *schema) {
		s.XValidations = nil
		for name, p := range s.Properties {
			strip(&p)
			s.Properties[name] = p
		}
		if s.Items != nil && s.Items.Schema != nil {
			strip(s.Items.Schema)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
			strip(s.AdditionalProperties.Schema)
		}
	}
	strip(&out)
	return out
}
