package discovery

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// istioDecoder decodes Istio objects exactly as istio.io/client-go's typed
// client does: Kubernetes' JSON serializer, which hands each spec to the
// protobuf JSON unmarshaler istio.io/api generates.
var istioDecoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{networkingv1.AddToScheme, securityv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // the generated registrations cannot fail
		}
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}()

// decodeIstio decodes one object, as the API server serves it (apiVersion,
// kind, metadata, spec...), into into. If it cannot, it returns the error
// and the path of the field that fails ("spec.http[0].timeout"), or "" when
// no single field fails on its own (e.g. two fields of one oneof).
var decodeIstio = decodingWith(istioDecoder)

// decodingWith is decodeIstio for the kinds decoder knows.
func decodingWith(decoder runtime.Decoder) func(obj map[string]any, into runtime.Object) (field string, err error) {
	decode := func(obj map[string]any, into runtime.Object) error {
		data, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		_, _, err = decoder.Decode(data, nil, into)
		return err
	}
	return func(obj map[string]any, into runtime.Object) (string, error) {
		if err := decode(obj, into); err != nil {
			fails := func(candidate map[string]any) bool {
				fresh := reflect.New(reflect.TypeOf(into).Elem()).Interface().(runtime.Object)
				return decode(candidate, fresh) != nil
			}
			return badField(obj, fails), err
		}
		return "", nil
	}
}

// badField finds the failing field by decoding smaller copies of obj: it
// keeps, level by level, the first member that fails on its own.
func badField(obj map[string]any, fails func(map[string]any) bool) string {
	rest := map[string]any{}
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" {
			rest[k] = v
		}
	}
	whole := func(v any) bool {
		candidate := map[string]any{"apiVersion": obj["apiVersion"], "kind": obj["kind"]}
		for k, x := range v.(map[string]any) {
			candidate[k] = x
		}
		return fails(candidate)
	}
	return strings.TrimPrefix(narrow(rest, whole), ".")
}

// narrow returns the path below v of the first member that fails alone
// (fails judges a replacement for v), or "" if none does.
func narrow(v any, fails func(any) bool) string {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			only := func(x any) bool { return fails(map[string]any{k: x}) }
			if only(v[k]) {
				return fieldName(k) + narrow(v[k], only)
			}
		}
	case []any:
		for i, e := range v {
			only := func(x any) bool { return fails([]any{x}) }
			if only(e) {
				return "[" + strconv.Itoa(i) + "]" + narrow(e, only)
			}
		}
	}
	return ""
}

// fieldName is how a member appears in a path: .name, or [key] for map keys
// such as labels and headers that a dot would make ambiguous.
func fieldName(k string) string {
	if strings.ContainsAny(k, ".[]/ ") {
		return "[" + k + "]"
	}
	return "." + k
}
