package translate

import (
	"math"
	"strings"
	"testing"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"loom.dev/loom/pkg/model"
)

func TestCheckWeights(t *testing.T) {
	for _, tc := range []struct {
		weights []int32
		field   string
		bad     bool
	}{
		{weights: []int32{80, 20}},
		{weights: []int32{50, 40}},
		{weights: []int32{100, 0}},
		{weights: []int32{math.MaxInt32, math.MaxInt32}}, // 2^32-2 still fits Envoy's uint32 sum
		{weights: []int32{0, 0}, bad: true},
		{weights: []int32{110, -10}, field: "[1].weight", bad: true},
		{weights: []int32{math.MaxInt32, math.MaxInt32, 2}, bad: true},
	} {
		field, err := checkWeights(tc.weights)
		if (err != nil) != tc.bad || field != tc.field {
			t.Errorf("checkWeights(%v) = %q, %v; want field %q, error %v", tc.weights, field, err, tc.field, tc.bad)
		}
	}
}

// Envoy and gRPC give each weighted cluster weight/sum of the requests;
// istiod passes the weights through unscaled, so the shares reported are
// those fractions, rounded for display only.
func TestWeightsShare(t *testing.T) {
	for _, tc := range []struct {
		weights []int32
		want    string // "" or the shares the message must list
	}{
		{weights: []int32{80, 20}},
		{weights: []int32{100, 0}},
		{weights: []int32{50, 40}, want: "weights add up to 90, not 100; each destination gets its weight's share of the sum, as in Istio: [0] 55.6%, [1] 44.4%"},
		{weights: []int32{1, 2}, want: "[0] 33.3%, [1] 66.7%"},
		{weights: []int32{0, 30, 30}, want: "weights add up to 60, not 100; each destination gets its weight's share of the sum, as in Istio: [1] 50.0%, [2] 50.0%"},
		{weights: []int32{1, 1, 1}, want: "[0] 33.3%, [1] 33.3%, [2] 33.3%"},
	} {
		got := weightsShare(tc.weights)
		if tc.want == "" && got != "" || tc.want != "" && !strings.HasSuffix(got, tc.want) {
			t.Errorf("weightsShare(%v) = %q, want %q", tc.weights, got, tc.want)
		}
	}
}

func weightedRoutes(t *testing.T, vs string) (*routev3.VirtualHost, []model.Problem) {
	t.Helper()
	snap := model.Build(model.Input{
		Services:         mkMesh(),
		VirtualServices:  []*model.VirtualService{mkVS(t, "default", "vs", vs)},
		DestinationRules: []*model.DestinationRule{mkDR(t, "default", "reviews", reviewsSubsets)},
	})
	svc := snap.ServiceFor("default", reviewsHost)
	vh, problems := meshVirtualHost(snap, mkClient("default"), svc, svc.Ports[0], []string{reviewsHost})
	validateAll(t, Resources{"routes": {&routev3.RouteConfiguration{Name: "r", VirtualHosts: []*routev3.VirtualHost{vh}}}})
	return vh, problems
}

// Weights that do not add up to 100 are kept as istiod keeps them: the
// weighted clusters carry the weights as written, without total_weight,
// and the route stays where it is; a problem names the field.
func TestWeightsNotAddingUpTo100SplitAsInIstio(t *testing.T) {
	vh, problems := weightedRoutes(t, `
hosts: [reviews]
http:
- route:
  - {destination: {host: reviews, subset: v1}, weight: 50}
  - {destination: {host: reviews, subset: v2}, weight: 40}
  - {destination: {host: reviews, subset: v3}, weight: 0}`)
	if len(vh.GetRoutes()) != 1 {
		t.Fatalf("routes %v, want the weighted route only", routeSummary(vh))
	}
	wc := vh.GetRoutes()[0].GetRoute().GetWeightedClusters()
	if wc.GetTotalWeight() != nil { //nolint:staticcheck // checking the deprecated field stays unset
		t.Errorf("total_weight %v is set; Envoy must use the sum", wc.GetTotalWeight()) //nolint:staticcheck // as above
	}
	var sum uint32
	for _, c := range wc.GetClusters() {
		sum += c.GetWeight().GetValue()
	}
	want := map[string]float64{"outbound|9080|v1|" + reviewsHost: 50.0 / 90, "outbound|9080|v2|" + reviewsHost: 40.0 / 90}
	if len(wc.GetClusters()) != len(want) {
		t.Fatalf("clusters %v, want v1 and v2", wc.GetClusters())
	}
	for _, c := range wc.GetClusters() {
		if share := float64(c.GetWeight().GetValue()) / float64(sum); share != want[c.GetName()] {
			t.Errorf("%s gets %v of the requests, want %v", c.GetName(), share, want[c.GetName()])
		}
	}
	if len(problems) != 1 || problems[0].Field != "spec.http[0].route" || !strings.Contains(problems[0].Message, "[0] 55.6%, [1] 44.4%") {
		t.Errorf("problems %v, want one at spec.http[0].route with the shares", problems)
	}
}

func TestSingleDestinationWeightHasNoEffect(t *testing.T) {
	vh, problems := weightedRoutes(t, `
hosts: [reviews]
http:
- route: [{destination: {host: reviews, subset: v1}, weight: 30}]`)
	if got := routeSummary(vh); len(got) != 1 || got[0] != "->outbound|9080|v1|"+reviewsHost {
		t.Errorf("routes %v, want all requests to v1", got)
	}
	if !hasProblem(problems, "VirtualService", "default/vs", "spec.http[0].route[0].weight") || len(problems) != 1 {
		t.Errorf("problems %v, want one at spec.http[0].route[0].weight", problems)
	}
	_, problems = weightedRoutes(t, `
hosts: [reviews]
http:
- route: [{destination: {host: reviews, subset: v1}, weight: 100}]`)
	if len(problems) > 0 {
		t.Errorf("weight 100 on the only destination: unexpected problems %v", problems)
	}
}
