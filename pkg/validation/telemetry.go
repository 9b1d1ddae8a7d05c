package validation

import (
	"maps"
	"slices"

	telemetry "istio.io/api/telemetry/v1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"loom.dev/loom/pkg/model"
)

// Telemetry validates a telemetry.istio.io Telemetry with the control plane's own checks
// (model.CheckTelemetrySpec): what Istio rejects too is an error, what Loom only does not
// enforce, or not as Istio does, a warning. Istio's own rules that the control plane does
// not need follow.
func Telemetry(t *telemetry.Telemetry) Result {
	var r Result
	for _, f := range model.CheckTelemetrySpec(t) {
		finding := Finding{Field: f.Field, Message: f.Message}
		if f.Invalid {
			r.Errors = append(r.Errors, finding)
		} else {
			r.Warnings = append(r.Warnings, finding)
		}
	}
	at := spec()
	policyTargets(&r, at, t.GetSelector(), t.GetTargetRef(), t.GetTargetRefs())
	for i, l := range t.GetAccessLogging() {
		providerRefs(&r, at.Child("accessLogging").Index(i).Child("providers"), l.GetProviders())
	}
	for i, tr := range t.GetTracing() {
		tat := at.Child("tracing").Index(i)
		providerRefs(&r, tat.Child("providers"), tr.GetProviders())
		if p := tr.GetRandomSamplingPercentage(); p != nil && (p.GetValue() < 0 || p.GetValue() > 100) {
			r.errorf(tat.Child("randomSamplingPercentage"), "%v is not in [0.0, 100.0]", p.GetValue())
		}
	}
	for i, m := range t.GetMetrics() {
		metrics(&r, at.Child("metrics").Index(i), m)
	}
	return r
}

func providerRefs(r *Result, at *field.Path, refs []*telemetry.ProviderRef) {
	for i, p := range refs {
		if p.GetName() == "" {
			r.errorf(at.Index(i).Child("name"), "required")
		}
	}
}

func metrics(r *Result, at *field.Path, m *telemetry.Metrics) {
	providerRefs(r, at.Child("providers"), m.GetProviders())
	for i, o := range m.GetOverrides() {
		oat := at.Child("overrides").Index(i)
		if cm, ok := o.GetMatch().GetMetricMatch().(*telemetry.MetricSelector_CustomMetric); ok && cm.CustomMetric == "" {
			r.errorf(oat.Child("match", "customMetric"), "must not be empty")
		}
		for _, name := range slices.Sorted(maps.Keys(o.GetTagOverrides())) {
			tat := oat.Child("tagOverrides").Key(name)
			if name == "" {
				r.warnf(tat, "a tag override needs a name")
			}
			to := o.GetTagOverrides()[name]
			switch {
			case to.GetOperation() == telemetry.MetricsOverrides_TagOverride_UPSERT && to.GetValue() == "":
				r.errorf(tat.Child("value"), "required when operation is UPSERT")
			case to.GetOperation() == telemetry.MetricsOverrides_TagOverride_REMOVE && to.GetValue() != "":
				r.errorf(tat.Child("value"), "%q: only an UPSERT sets a value", to.GetValue())
			}
		}
	}
}
