package validation

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// structure checks the JSON of a spec against the message it decodes into: unknown fields
// and oneofs with several members set (a StringMatch with both exact and prefix), which the
// decoder would drop or let the last one win, and values of the wrong JSON type, which the
// decoder refuses without saying where, are refused with their path.
func structure(md protoreflect.MessageDescriptor, raw []byte) []Finding {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []Finding{{Field: "spec", Message: "not JSON: " + err.Error()}}
	}
	var r Result
	walkMessage(&r, spec(), md, v)
	return r.Errors
}

func walkMessage(r *Result, at *field.Path, md protoreflect.MessageDescriptor, v any) {
	if strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		wellKnown(r, at, md, v)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		r.errorf(at, "must be an object (%s)", md.Name())
		return
	}
	set := map[protoreflect.OneofDescriptor][]string{}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		fd := md.Fields().ByJSONName(name)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(name))
		}
		if fd == nil {
			r.errorf(at.Child(name), "unknown field %q of %s", name, md.Name())
			continue
		}
		if obj[name] == nil {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			set[od] = append(set[od], name)
		}
		walkField(r, at.Child(name), fd, obj[name])
	}
	for _, names := range set {
		if len(names) > 1 {
			r.errorf(at, "only one of %s may be set", strings.Join(names, ", "))
		}
	}
}

func walkField(r *Result, at *field.Path, fd protoreflect.FieldDescriptor, v any) {
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			r.errorf(at, "must be an object (a map)")
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			walkValue(r, at.Key(k), fd.MapValue(), m[k])
		}
	case fd.IsList():
		l, ok := v.([]any)
		if !ok {
			r.errorf(at, "must be a list")
		}
		for i, e := range l {
			walkValue(r, at.Index(i), fd, e)
		}
	default:
		walkValue(r, at, fd, v)
	}
}

// walkValue checks one value of the field's type (an element, for lists and maps).
func walkValue(r *Result, at *field.Path, fd protoreflect.FieldDescriptor, v any) {
	if v == nil {
		return
	}
	ok := true
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		walkMessage(r, at, fd.Message(), v)
	case protoreflect.StringKind, protoreflect.BytesKind:
		_, ok = v.(string)
	case protoreflect.BoolKind:
		_, ok = v.(bool)
	case protoreflect.EnumKind:
		if s, isString := v.(string); isString && fd.Enum().Values().ByName(protoreflect.Name(s)) == nil {
			r.errorf(at, "unknown value %q of %s", s, fd.Enum().Name())
		}
		ok = isStringOrNumber(v)
	default:
		ok = isStringOrNumber(v)
	}
	if !ok {
		r.errorf(at, "must be a %v", fd.Kind())
	}
}

func isStringOrNumber(v any) bool {
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

// wellKnown checks the JSON forms of the google.protobuf types Istio uses.
func wellKnown(r *Result, at *field.Path, md protoreflect.MessageDescriptor, v any) {
	if v == nil {
		return
	}
	switch md.Name() {
	case "Duration":
		s, ok := v.(string)
		if !ok {
			r.errorf(at, "must be a duration string such as \"1.5s\" or \"100ms\"")
		} else if _, err := time.ParseDuration(s); err != nil {
			r.errorf(at, "%q is not a duration such as \"1.5s\" or \"100ms\"", s)
		}
	case "Struct", "Value", "ListValue", "Any", "Timestamp", "Empty", "FieldMask":
	default: // wrappers
		if fd := md.Fields().ByName("value"); fd != nil {
			walkValue(r, at, fd, v)
		}
	}
}
