package translate

import (
	"fmt"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	// Extensions whose configs appear inside Any fields of Loom's output:
	// importing them registers their types for validateAll.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/retry/host/previous_hosts/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

// validateAll fails the test unless every resource passes go-control-plane's
// generated validation, including every message packed in an Any anywhere
// inside it (typed configs of filters and extensions, API listeners,
// per-filter configs, transport sockets), which ValidateAll itself skips.
func validateAll(t testing.TB, res Resources) {
	t.Helper()
	for typeURL, list := range res {
		for _, r := range list {
			if err := validateMessage(r); err != nil {
				t.Errorf("%s %s: %v", typeURL, resourceName(r), err)
			}
		}
	}
}

func validateMessage(m proto.Message) error {
	// protojson refuses what proto.Marshal lets through, such as
	// Durations out of range: both encodings must work.
	if _, err := protojson.Marshal(m); err != nil {
		return err
	}
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return err
		}
	}
	return validateNestedAny(m.ProtoReflect())
}

// validateNestedAny walks every set field of m and validates the messages
// packed in the Any values it finds.
func validateNestedAny(m protoreflect.Message) error {
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = visitMessage(fd, l.Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				err = visitMessage(fd, mv.Message())
				if err != nil {
					err = fmt.Errorf("[%v]: %w", k.Interface(), err)
				}
				return err == nil
			})
		default:
			err = visitMessage(fd, v.Message())
		}
		return err == nil
	})
	return err
}

func visitMessage(fd protoreflect.FieldDescriptor, m protoreflect.Message) error {
	if m.Descriptor().FullName() != "google.protobuf.Any" {
		if err := validateNestedAny(m); err != nil {
			return fmt.Errorf("%s: %w", fd.Name(), err)
		}
		return nil
	}
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		return fmt.Errorf("%s: Any of unexpected Go type %T", fd.Name(), m.Interface())
	}
	inner, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes})
	if err != nil {
		return fmt.Errorf("%s: cannot unpack %s (is its package imported?): %w", fd.Name(), a.GetTypeUrl(), err)
	}
	if err := validateMessage(inner); err != nil {
		return fmt.Errorf("%s (%s): %w", fd.Name(), a.GetTypeUrl(), err)
	}
	return nil
}

func resourceName(m proto.Message) string {
	if n, ok := m.(interface{ GetName() string }); ok {
		return n.GetName()
	}
	if c, ok := m.(interface{ GetClusterName() string }); ok {
		return c.GetClusterName()
	}
	return fmt.Sprintf("%T", m)
}

// TestValidateAllLooksInsideAny proves validateAll catches an invalid
// message nested in Anys, which ValidateAll alone accepts.
func TestValidateAllLooksInsideAny(t *testing.T) {
	badRoute := &routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{{
		Name: "", Domains: []string{"*"}, // name is required
	}}}
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix:     "s",
		RouteSpecifier: &hcmv3.HttpConnectionManager_RouteConfig{RouteConfig: badRoute},
	}
	l := &listenerv3.Listener{Name: "l", ApiListener: &listenerv3.ApiListener{ApiListener: anyOf(hcm)}}
	if err := l.ValidateAll(); err != nil {
		t.Fatalf("the listener itself is valid: %v", err)
	}
	if err := validateMessage(l); err == nil {
		t.Error("validateMessage missed the invalid virtual host inside the API listener")
	}
	unknown := &listenerv3.Listener{Name: "l", ApiListener: &listenerv3.ApiListener{ApiListener: &anypb.Any{TypeUrl: "type.googleapis.com/no.Such"}}}
	if err := validateMessage(unknown); err == nil {
		t.Error("validateMessage accepted an Any it cannot unpack")
	}
}
