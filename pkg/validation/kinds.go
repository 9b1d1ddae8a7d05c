package validation

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/golang/protobuf/jsonpb" //nolint:staticcheck // the decoder istio.io/api's own UnmarshalJSON uses
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	telemetry "istio.io/api/telemetry/v1alpha1"
)

// Object is the metadata of the object being validated that some rules read.
type Object struct {
	Namespace   string
	Name        string
	Annotations map[string]string
}

// Kind is one API kind: the versions its CRD serves and how to validate its spec. Istio's
// kinds are protobuf messages (newSpec, validate); Loom's own are Go types that decode
// themselves (validateJSON).
type Kind struct {
	Group, Kind  string
	Versions     []string
	newSpec      func() proto.Message
	validate     func(obj Object, spec proto.Message, raw []byte) Result
	validateJSON func(obj Object, raw []byte) Result
}

var (
	networkingVersions = []string{"v1", "v1beta1", "v1alpha3"}
	securityVersions   = []string{"v1", "v1beta1"}
	telemetryVersions  = []string{"v1", "v1alpha1"}
)

func networkingKind[T proto.Message](kind string, newSpec func() T, validate func(Object, T) Result) Kind {
	return Kind{Group: "networking.istio.io", Kind: kind, Versions: networkingVersions,
		newSpec:  func() proto.Message { return newSpec() },
		validate: func(o Object, m proto.Message, _ []byte) Result { return validate(o, m.(T)) }}
}

// kinds are the kinds validated, in the versions Loom's CRDs serve (pkg/istiocrds,
// pkg/loomcrds).
var kinds = []Kind{
	networkingKind("VirtualService", func() *networking.VirtualService { return &networking.VirtualService{} },
		func(o Object, m *networking.VirtualService) Result { return VirtualService(o.Namespace, m) }),
	networkingKind("DestinationRule", func() *networking.DestinationRule { return &networking.DestinationRule{} },
		func(o Object, m *networking.DestinationRule) Result { return DestinationRule(o.Namespace, m) }),
	networkingKind("Gateway", func() *networking.Gateway { return &networking.Gateway{} },
		func(o Object, m *networking.Gateway) Result { return Gateway(o.Name, m) }),
	networkingKind("ServiceEntry", func() *networking.ServiceEntry { return &networking.ServiceEntry{} },
		func(o Object, m *networking.ServiceEntry) Result {
			return ServiceEntry(o.Namespace, m, o.Annotations[autoAllocateAnnotation] != "false")
		}),
	networkingKind("Sidecar", func() *networking.Sidecar { return &networking.Sidecar{} },
		func(o Object, m *networking.Sidecar) Result { return Sidecar(o.Namespace, m) }),
	networkingKind("WorkloadEntry", func() *networking.WorkloadEntry { return &networking.WorkloadEntry{} },
		func(_ Object, m *networking.WorkloadEntry) Result { return WorkloadEntry(m) }),
	{Group: "security.istio.io", Kind: "PeerAuthentication", Versions: securityVersions,
		newSpec: func() proto.Message { return &security.PeerAuthentication{} },
		validate: func(_ Object, m proto.Message, raw []byte) Result {
			r := PeerAuthentication(m.(*security.PeerAuthentication))
			r.Errors = append(emptyPortLevelMtls(raw), r.Errors...)
			return r
		}},
	{Group: "security.istio.io", Kind: "AuthorizationPolicy", Versions: securityVersions,
		newSpec: func() proto.Message { return &security.AuthorizationPolicy{} },
		validate: func(_ Object, m proto.Message, raw []byte) Result {
			r := AuthorizationPolicy(m.(*security.AuthorizationPolicy))
			r.Errors = append(emptyRuleLists(raw), r.Errors...)
			return r
		}},
	{Group: "security.istio.io", Kind: "RequestAuthentication", Versions: securityVersions,
		newSpec: func() proto.Message { return &security.RequestAuthentication{} },
		validate: func(_ Object, m proto.Message, _ []byte) Result {
			return RequestAuthentication(m.(*security.RequestAuthentication))
		}},
	{Group: "telemetry.istio.io", Kind: "Telemetry", Versions: telemetryVersions,
		newSpec:  func() proto.Message { return &telemetry.Telemetry{} },
		validate: func(_ Object, m proto.Message, _ []byte) Result { return Telemetry(m.(*telemetry.Telemetry)) }},
	{Group: "policy.loom.dev", Kind: "RateLimitPolicy", Versions: []string{"v1alpha1"},
		validateJSON: func(_ Object, raw []byte) Result { return rateLimitPolicyJSON(raw) }},
}

// autoAllocateAnnotation opts a ServiceEntry out of automatic VIP allocation ("false").
const autoAllocateAnnotation = "networking.istio.io/enable-autoallocate-ip"

// Kinds lists the kinds validated.
func Kinds() []Kind { return kinds }

// Lookup finds a kind served in that group and version.
func Lookup(group, version, kind string) (Kind, bool) {
	for _, k := range kinds {
		if k.Group != group || k.Kind != kind {
			continue
		}
		for _, v := range k.Versions {
			if v == version {
				return k, true
			}
		}
	}
	return Kind{}, false
}

// Validate decodes the spec (its JSON, as stored in the object) and validates it. It decodes
// as istio.io/api's own UnmarshalJSON does (jsonpb, which reads Go-style durations such as
// "30ms" that the CRD schema admits and protojson refuses), but refuses fields the
// istio.io/api message lacks, naming them, where the CRD's structural schema would drop them.
// Loom's own kinds decode strictly, as the control plane reads them.
func (k Kind) Validate(obj Object, spec []byte) Result {
	if t := bytes.TrimSpace(spec); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		spec = []byte("{}")
	}
	if k.newSpec == nil {
		return k.validateJSON(obj, spec)
	}
	msg := k.newSpec()
	if errs := structure(msg.ProtoReflect().Descriptor(), spec); len(errs) > 0 {
		return Result{Errors: errs}
	}
	if err := (&jsonpb.Unmarshaler{}).Unmarshal(bytes.NewReader(spec), protoadapt.MessageV1Of(msg)); err != nil {
		return Result{Errors: []Finding{{Field: "spec", Message: fmt.Sprintf("not a valid %s spec: %v", k.Kind, err)}}}
	}
	return k.validate(obj, msg, spec)
}

// The JSON decoding of a protobuf message cannot tell an empty list or map from a missing
// one; Istio's rules about explicitly empty ones need the raw JSON.

func emptyRuleLists(raw []byte) []Finding {
	var ap struct {
		Rules []struct {
			From *[]json.RawMessage `json:"from"`
			To   *[]json.RawMessage `json:"to"`
		} `json:"rules"`
	}
	if json.Unmarshal(raw, &ap) != nil {
		return nil
	}
	var out []Finding
	for i, rule := range ap.Rules {
		if rule.From != nil && len(*rule.From) == 0 {
			out = append(out, Finding{fmt.Sprintf("spec.rules[%d].from", i), "if set, must not be empty"})
		}
		if rule.To != nil && len(*rule.To) == 0 {
			out = append(out, Finding{fmt.Sprintf("spec.rules[%d].to", i), "if set, must not be empty"})
		}
	}
	return out
}

func emptyPortLevelMtls(raw []byte) []Finding {
	var pa struct {
		PortLevelMtls *map[string]json.RawMessage `json:"portLevelMtls"`
	}
	if json.Unmarshal(raw, &pa) != nil || pa.PortLevelMtls == nil || len(*pa.PortLevelMtls) > 0 {
		return nil
	}
	return []Finding{{"spec.portLevelMtls", "if set, needs at least one port"}}
}

// Descriptor describes the kind's spec message; nil for a kind whose spec is not one.
func (k Kind) Descriptor() protoreflect.MessageDescriptor {
	if k.newSpec == nil {
		return nil
	}
	return k.newSpec().ProtoReflect().Descriptor()
}
