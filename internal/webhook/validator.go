package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"loom.dev/loom/pkg/validation"
)

// ValidatePath is the URL path of the configuration validator (Istio's).
const ValidatePath = "/validate"

// Validator is the validating webhook of Istio configuration and of Loom's own policies
// (RateLimitPolicy): it rejects what istiod's validation and Loom's control plane reject and
// the CRD schema cannot express, with the field path of each error, and passes Istio's
// warnings, and what Loom does not enforce yet, on to the client as warnings.
type Validator struct {
	requests *prometheus.CounterVec
}

// NewValidator returns a validator counting its answers in
// loom_config_validation_requests_total{kind,result}.
func NewValidator(reg prometheus.Registerer) *Validator {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loom_config_validation_requests_total",
		Help: "Istio configuration and Loom policy objects seen by the validating webhook, by kind and result: allowed, denied, skipped (deletions, kinds not validated) or error.",
	}, []string{"kind", "result"})
	if reg != nil {
		reg.MustRegister(requests)
	}
	return &Validator{requests: requests}
}

// object is what the validator reads of a configuration object.
type object struct {
	Metadata struct {
		Name         string            `json:"name"`
		GenerateName string            `json:"generateName"`
		Namespace    string            `json:"namespace"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec json.RawMessage `json:"spec"`
}

// Handle validates the object of a CREATE or UPDATE request. It never panics: a panic in a
// check becomes an error answer naming the object.
func (v *Validator) Handle(_ context.Context, req admission.Request) (resp admission.Response) {
	kind, known := validation.Lookup(req.Kind.Group, req.Kind.Version, req.Kind.Kind)
	label := "other"
	if known {
		label = kind.Kind
	}
	defer func() {
		if p := recover(); p != nil {
			v.count(label, "error")
			resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("validating %s %s/%s: internal error: %v", req.Kind.Kind, req.Namespace, req.Name, p))
		}
	}()
	switch {
	case req.Operation != admissionv1.Create && req.Operation != admissionv1.Update:
		v.count(label, "skipped")
		return admission.Allowed(fmt.Sprintf("%s requests are not validated", req.Operation))
	case !known:
		v.count(label, "skipped")
		return admission.Allowed(fmt.Sprintf("Loom does not validate %s.%s/%s: allowed without checks", req.Kind.Kind, req.Kind.Group, req.Kind.Version))
	}
	var obj object
	if err := json.Unmarshal(req.Object.Raw, &obj); err != nil {
		v.count(label, "denied")
		return admission.Denied(fmt.Sprintf("%s %s/%s: not a valid object: %v", kind.Kind, req.Namespace, req.Name, err))
	}
	name := objectName(req, obj)
	meta := validation.Object{Namespace: name.namespace, Name: name.name, Annotations: obj.Metadata.Annotations}
	result := kind.Validate(meta, obj.Spec)
	result.Errors = append(validation.Metadata(meta).Errors, result.Errors...)
	warnings := make([]string, 0, len(result.Warnings))
	for _, w := range result.Warnings {
		warnings = append(warnings, fmt.Sprintf("%s %s: %s", kind.Kind, name, w))
	}
	if !result.Valid() {
		v.count(label, "denied")
		return denied(kind, name, result).WithWarnings(warnings...)
	}
	v.count(label, "allowed")
	return admission.Allowed("").WithWarnings(warnings...)
}

func (v *Validator) count(kind, result string) { v.requests.WithLabelValues(kind, result).Inc() }

type namespacedName struct{ namespace, name string }

func (n namespacedName) String() string { return n.namespace + "/" + n.name }

// objectName names the object as the request does, falling back to its metadata.
func objectName(req admission.Request, obj object) namespacedName {
	n := namespacedName{namespace: req.Namespace, name: req.Name}
	if n.namespace == "" {
		n.namespace = obj.Metadata.Namespace
	}
	if n.name == "" {
		n.name = obj.Metadata.Name
	}
	if n.name == "" && obj.Metadata.GenerateName != "" {
		n.name = obj.Metadata.GenerateName + "*"
	}
	return n
}

// denied lists every error in the message (what kubectl prints) and as status causes.
func denied(kind validation.Kind, name namespacedName, r validation.Result) admission.Response {
	msgs := make([]string, 0, len(r.Errors))
	causes := make([]metav1.StatusCause, 0, len(r.Errors))
	for _, e := range r.Errors {
		msgs = append(msgs, e.String())
		causes = append(causes, metav1.StatusCause{Type: metav1.CauseTypeFieldValueInvalid, Field: e.Field, Message: e.Message})
	}
	resp := admission.Denied(fmt.Sprintf("%s %s is invalid: %s", kind.Kind, name, strings.Join(msgs, "; ")))
	resp.Result.Details = &metav1.StatusDetails{Name: name.name, Group: kind.Group, Kind: kind.Kind, Causes: causes}
	resp.Result.Reason = metav1.StatusReasonInvalid
	resp.Result.Code = http.StatusUnprocessableEntity
	return resp
}
