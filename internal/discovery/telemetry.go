package discovery

import (
	telemetryv1 "istio.io/client-go/pkg/apis/telemetry/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"loom.dev/loom/pkg/model"
)

// telemetryKind watches telemetry.istio.io Telemetry at its stored version (v1).
func telemetryKind() istioKind {
	k := enforcedKindOf(telemetryv1.SchemeGroupVersion, "Telemetry", "telemetries", func(in *model.Input, o *telemetryv1.Telemetry) {
		in.Telemetries = append(in.Telemetries, convertTelemetry(o))
	})
	k.decode = decodeTelemetry
	return k
}

// convertTelemetry takes the storage version (v1); the API server serves
// v1alpha1 objects converted to it, with the same spec.
func convertTelemetry(o *telemetryv1.Telemetry) *model.TelemetryPolicy {
	return &model.TelemetryPolicy{Meta: meta(o), Spec: &o.Spec}
}

// telemetryDecoder decodes Telemetry objects as istio.io/client-go's typed
// client does, like istioDecoder for the networking and security kinds.
var telemetryDecoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	if err := telemetryv1.AddToScheme(s); err != nil {
		panic(err) // the generated registration cannot fail
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}()

// decodeTelemetry is decodeIstio for Telemetry objects.
var decodeTelemetry = decodingWith(telemetryDecoder)
