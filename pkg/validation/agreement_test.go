package validation_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
	"loom.dev/loom/pkg/validation"
)

// TestTranslatorAndValidatorAgree feeds objects with one defect each to the translator and
// to the validator: both must name the same field, since both use the same check.
func TestTranslatorAndValidatorAgree(t *testing.T) {
	const route = `route: [{destination: {host: reviews}}]`
	vsCases := []struct{ field, spec string }{
		{"spec.http[0].match[0].uri.regex", `{match: [{uri: {regex: "("}}], ` + route + `}`},
		{"spec.http[0].match[0].headers[bad header]", `{match: [{headers: {"bad header": {exact: a}}}], ` + route + `}`},
		{"spec.http[0].match[0].headers[x-a]", `{match: [{headers: {x-a: {regex: "a(?=b)"}}}], ` + route + `}`},
		{"spec.http[0].match[0].queryParams[q]", `{match: [{queryParams: {q: {prefix: ""}}}], ` + route + `}`},
		{"spec.http[0].route[1].weight", `{route: [{destination: {host: reviews, subset: a}, weight: 10}, {destination: {host: reviews, subset: b}, weight: -1}]}`},
		{"spec.http[0].route", `{route: [{destination: {host: reviews, subset: a}}, {destination: {host: reviews, subset: b}}]}`},
		{"spec.http[0].route[0].destination.subset", `{route: [{destination: {host: reviews, subset: V1_x}}]}`},
		{"spec.http[0].headers.request.set[x-a]", `{headers: {request: {set: {x-a: "a\nb"}}}, ` + route + `}`},
		{"spec.http[0].headers.response.add[bad:name]", `{headers: {response: {add: {"bad:name": b}}}, ` + route + `}`},
		{"spec.http[0].timeout", `{timeout: -1s, ` + route + `}`},
		{"spec.http[0].fault.delay.fixedDelay", `{fault: {delay: {fixedDelay: 0s, percentage: {value: 10}}}, ` + route + `}`},
		{"spec.http[0].fault.abort.percentage", `{fault: {abort: {httpStatus: 503, percentage: {value: 120}}}, ` + route + `}`},
		{"spec.http[0].retries.perTryTimeout", `{retries: {attempts: 2, perTryTimeout: -2s}, ` + route + `}`},
		{"spec.http[0].mirrorPercentage", `{mirror: {host: reviews}, mirrorPercentage: {value: 150}, ` + route + `}`},
		{"spec.http[0].rewrite.uriRegexRewrite.match", `{rewrite: {uriRegexRewrite: {match: "(", rewrite: x}}, ` + route + `}`},
		{"spec.http[0].corsPolicy.maxAge", `{corsPolicy: {allowOrigins: [{exact: a}], maxAge: -1s}, ` + route + `}`},
		{"spec.http[0].corsPolicy.allowOrigins[0]", `{corsPolicy: {allowOrigins: [{regex: "("}]}, ` + route + `}`},
	}
	for _, tc := range vsCases {
		t.Run(tc.field, func(t *testing.T) {
			spec := "hosts: [reviews]\nhttp: [" + tc.spec + "]"
			vs := &networking.VirtualService{}
			agree(t, "VirtualService", spec, vs, tc.field, model.Input{
				VirtualServices: []*model.VirtualService{{Meta: model.Meta{Name: "vs", Namespace: "default"}, Spec: vs}},
			})
		})
	}
	drCases := []struct{ field, spec string }{
		{"spec.subsets[0].name", `subsets: [{name: V1, labels: {version: v1}}]`},
		{"spec.trafficPolicy.outlierDetection.interval", `trafficPolicy: {outlierDetection: {interval: -1s}}`},
		{"spec.trafficPolicy.connectionPool.tcp.connectTimeout", `trafficPolicy: {connectionPool: {tcp: {connectTimeout: 0s}}}`},
		{"spec.trafficPolicy.connectionPool.http.idleTimeout", `trafficPolicy: {connectionPool: {http: {idleTimeout: -5s}}}`},
	}
	for _, tc := range drCases {
		t.Run(tc.field, func(t *testing.T) {
			dr := &networking.DestinationRule{}
			agree(t, "DestinationRule", "host: reviews\n"+tc.spec, dr, tc.field, model.Input{
				DestinationRules: []*model.DestinationRule{{Meta: model.Meta{Name: "dr", Namespace: "default"}, Spec: dr}},
			})
		})
	}
}

// agree decodes spec into msg (which in references), translates in for a sidecar of the
// namespace, and requires the translator's problem and the validator's error at field.
func agree(t *testing.T, kind, spec string, msg proto.Message, field string, in model.Input) {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal(js, msg); err != nil {
		t.Fatal(err)
	}
	in.Services = []*model.Service{{
		Hostname: "reviews.default.svc.cluster.local", Namespace: "default", Name: "reviews", Source: model.SourceKubernetes,
		Ports: []model.Port{{Name: "http", Number: 9080, Protocol: model.ProtocolHTTP}},
	}}
	_, problems := translate.ForProxy(model.Build(in), model.Proxy{ID: "app.default", Kind: model.KindSidecar, Namespace: "default", IPs: []string{"10.0.0.1"}})
	var fields []string
	for _, p := range problems {
		if p.Kind == kind {
			fields = append(fields, p.Field)
		}
	}
	if !slices.Contains(fields, field) {
		t.Errorf("translator: want a problem at %s, got %v (all: %v)", field, fields, problems)
	}
	k, _ := validation.Lookup("networking.istio.io", "v1", kind)
	r := k.Validate(validation.Object{Namespace: "default", Name: "x"}, js)
	if !slices.ContainsFunc(r.Errors, func(f validation.Finding) bool { return f.Field == field }) {
		t.Errorf("validator: want an error at %s, got %v", field, r.Errors)
	}
}
