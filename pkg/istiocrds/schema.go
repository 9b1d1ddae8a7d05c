// Package istiocrds builds the CustomResourceDefinitions of Istio's networking, security and telemetry
// APIs, with structural OpenAPI schemas generated from the protobuf descriptors of the
// pinned istio.io/api Go types, so that users' Istio YAML is accepted and validated as Istio
// itself would: types and enums, integer ranges, protobuf oneofs, fields marked
// (google.api.field_behavior) = REQUIRED, and valid durations of at least 1ms.
package istiocrds

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
)

type schema = apiextensionsv1.JSONSchemaProps

// generator turns message descriptors into schemas. Recursive messages end in an object
// that keeps unknown fields, as a structural schema cannot recurse.
type generator struct {
	visiting map[protoreflect.FullName]bool
}

func schemaOf(md protoreflect.MessageDescriptor) schema {
	g := &generator{visiting: map[protoreflect.FullName]bool{}}
	return g.message(md)
}

func (g *generator) message(md protoreflect.MessageDescriptor) schema {
	if s, ok := wellKnown(md.FullName()); ok {
		return s
	}
	if g.visiting[md.FullName()] {
		return schema{Type: "object", XPreserveUnknownFields: ptr.To(true)}
	}
	g.visiting[md.FullName()] = true
	defer delete(g.visiting, md.FullName())

	s := schema{Type: "object", Properties: map[string]schema{}}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		fs := g.field(fd)
		s.Properties[fd.JSONName()] = fs
		// The protobuf JSON mapping accepts the original field name too (Istio's own CRDs
		// list some, e.g. mirror_percent and jwks_uri). Its subtree goes without CEL rules:
		// a second copy of every rule would exceed the apiserver's CEL cost budget.
		if name := string(fd.Name()); name != fd.JSONName() {
			s.Properties[name] = withoutCEL(fs)
		}
		if required(fd) {
			s.Required = append(s.Required, fd.JSONName())
		}
	}
	s.XValidations = messageRules[md.FullName()]
	switch groups := oneofs(md); len(groups) {
	case 0:
	case 1:
		s.OneOf = groups[0].OneOf
	default:
		s.AllOf = groups
	}
	return s
}

func (g *generator) field(fd protoreflect.FieldDescriptor) schema {
	if fd.IsMap() {
		value := g.single(fd.MapValue())
		return schema{Type: "object", AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: &value}}
	}
	s := g.single(fd)
	if fd.IsList() {
		return schema{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &s}, MaxItems: maxItems[fd.FullName()]}
	}
	if mark, ok := fieldMarkers[fd.FullName()]; ok {
		mark(&s)
	}
	return s
}

// single maps one value of a field, following the protobuf JSON mapping.
func (g *generator) single(fd protoreflect.FieldDescriptor) schema {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return schema{Type: "boolean"}
	case protoreflect.StringKind:
		return schema{Type: "string"}
	case protoreflect.BytesKind:
		return schema{Type: "string", Format: "byte"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return schema{Type: "integer", Format: "int32"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return schema{Type: "integer", Minimum: ptr.To(0.0), Maximum: ptr.To(4294967295.0)}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// The JSON mapping writes 64-bit integers as strings and reads either form.
		return schema{XIntOrString: true}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return schema{XIntOrString: true, Minimum: ptr.To(0.0)}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return schema{Type: "number", Format: "double"}
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		s := schema{Type: "string"}
		for i := range values.Len() {
			s.Enum = append(s.Enum, apiextensionsv1.JSON{Raw: []byte(`"` + string(values.Get(i).Name()) + `"`)})
		}
		return s
	default: // messages and groups
		if fd.Message().FullName() == "google.protobuf.Duration" {
			return durationSchema(fd)
		}
		return g.message(fd.Message())
	}
}

// wellKnown maps the protobuf well-known types to their JSON forms.
func wellKnown(name protoreflect.FullName) (schema, bool) {
	nullable := func(s schema) schema { s.Nullable = true; return s }
	switch name {
	case "google.protobuf.Timestamp":
		return schema{Type: "string", Format: "date-time"}, true
	case "google.protobuf.Struct", "google.protobuf.Any":
		return schema{Type: "object", XPreserveUnknownFields: ptr.To(true)}, true
	case "google.protobuf.Value":
		return schema{XPreserveUnknownFields: ptr.To(true)}, true
	case "google.protobuf.ListValue":
		item := schema{XPreserveUnknownFields: ptr.To(true)}
		return schema{Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &item}}, true
	case "google.protobuf.Empty":
		return schema{Type: "object"}, true
	case "google.protobuf.BoolValue":
		return nullable(schema{Type: "boolean"}), true
	case "google.protobuf.StringValue":
		return nullable(schema{Type: "string"}), true
	case "google.protobuf.BytesValue":
		return nullable(schema{Type: "string", Format: "byte"}), true
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue":
		return nullable(schema{Type: "number", Format: "double"}), true
	case "google.protobuf.Int32Value":
		return nullable(schema{Type: "integer", Format: "int32"}), true
	case "google.protobuf.UInt32Value":
		return nullable(schema{Type: "integer", Minimum: ptr.To(0.0), Maximum: ptr.To(4294967295.0)}), true
	case "google.protobuf.Int64Value":
		return nullable(schema{XIntOrString: true}), true
	case "google.protobuf.UInt64Value":
		return nullable(schema{XIntOrString: true, Minimum: ptr.To(0.0)}), true
	}
	return schema{}, false
}
