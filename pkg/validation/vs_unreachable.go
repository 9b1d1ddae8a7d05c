package validation

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// unreachableRules is Istio's analysis of a VirtualService's rules, which its webhook returns
// as warnings (the analyzers' IST0130 VirtualServiceUnreachableRule and IST0131
// VirtualServiceIneffectiveMatch): a rule after one without matches, a rule whose every match
// an earlier rule has, a match an earlier match repeats, and (HTTP) a URI-prefix match an
// earlier one covers.
func unreachableRules(r *Result, at *field.Path, vs *networking.VirtualService) {
	http := make([]routeRule, len(vs.GetHttp()))
	for i, h := range vs.GetHttp() {
		http[i] = routeRule{present: h != nil, name: h.GetName()}
		for _, m := range h.GetMatch() {
			http[i].matches = append(http[i].matches, m)
		}
	}
	overlaps := ruleAnalysis(r, at.Child("http"), http)
	prefixOverlaps(r, at.Child("http"), vs.GetHttp(), overlaps)

	tcp := make([]routeRule, len(vs.GetTcp()))
	for i, t := range vs.GetTcp() {
		tcp[i] = routeRule{present: t != nil}
		for _, m := range t.GetMatch() {
			tcp[i].matches = append(tcp[i].matches, m)
		}
	}
	ruleAnalysis(r, at.Child("tcp"), tcp)

	tls := make([]routeRule, len(vs.GetTls()))
	for i, t := range vs.GetTls() {
		tls[i] = routeRule{present: t != nil}
		for _, m := range t.GetMatch() {
			tls[i].matches = append(tls[i].matches, m)
		}
	}
	ruleAnalysis(r, at.Child("tls"), tls)
}

// routeRule is what the analysis reads of an HTTP, TCP or TLS rule.
type routeRule struct {
	present bool
	name    string // HTTP rules only
	matches []proto.Message
}

// ruleLabel names a rule by index and, if it has one, name: `#1 "reviews-v1"`.
func ruleLabel(index int, name string) string {
	if name == "" {
		return fmt.Sprintf("#%d", index)
	}
	return fmt.Sprintf("#%d %q", index, name)
}

func matchLabel(index int, m proto.Message) string {
	if h, ok := m.(*networking.HTTPMatchRequest); ok && h.GetName() != "" {
		return fmt.Sprintf("#%d %q", index, h.GetName())
	}
	return fmt.Sprintf("#%d", index)
}

// matchPosition is a match still reachable after the duplicate analysis.
type matchPosition struct{ rule, match int }

// ruleAnalysis warns about rules and matches an earlier rule makes unreachable, as Istio's
// analyzeUnreachable{HTTP,TCP,TLS}Rules do (one warning per rule, where Istio repeats it per
// match), and returns the matches left for the overlap analysis.
func ruleAnalysis(r *Result, at *field.Path, rules []routeRule) []matchPosition {
	seen := map[string]int{}
	catchAll := -1
	var left []matchPosition
	for i, rule := range rules {
		if !rule.present {
			continue
		}
		label := ruleLabel(i, rule.name)
		if len(rule.matches) == 0 {
			if catchAll >= 0 {
				r.warnf(at.Index(i), "rule %s is not used: only the last rule can have no matches, and rule %s has none", label, ruleLabel(catchAll, rules[catchAll].name))
			}
			catchAll = i
			continue
		}
		if catchAll >= 0 {
			r.warnf(at.Index(i), "rule %s is not used: rule %s before it has no matches and takes everything", label, ruleLabel(catchAll, rules[catchAll].name))
			continue
		}
		duplicates := 0
		for j, m := range rule.matches {
			key := matchKey(m)
			if first, ok := seen[key]; ok {
				r.warnf(at.Index(i).Child("match").Index(j), "rule %s match %s is not used: rule %s has the same match", label, matchLabel(j, m), ruleLabel(first, rules[first].name))
				duplicates++
				continue
			}
			seen[key] = i
			left = append(left, matchPosition{i, j})
		}
		if duplicates == len(rule.matches) {
			r.warnf(at.Index(i), "rule %s is not used: rules before it have all its matches", label)
		}
	}
	return left
}

// matchKey is the match without its name, which routes nothing.
func matchKey(m proto.Message) string {
	if h, ok := m.(*networking.HTTPMatchRequest); ok && h.GetName() != "" {
		c := proto.Clone(h).(*networking.HTTPMatchRequest)
		c.Name = ""
		m = c
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// prefixOverlaps warns about a URI-prefix match that an earlier URI-prefix match covers: every
// request the later one matches, the earlier one takes. Istio compares the two prefixes, the
// port, method, authority, headers, query parameters and withoutHeaders; this does too, with
// what each condition really matches (a match without a method matches every method, a prefix
// covers longer ones), and takes a match with other conditions for one that covers nothing
// it does not repeat.
func prefixOverlaps(r *Result, at *field.Path, routes []*networking.HTTPRoute, left []matchPosition) {
	var prefixed []matchPosition
	for _, p := range left {
		if routes[p.rule].GetMatch()[p.match].GetUri().GetPrefix() != "" {
			prefixed = append(prefixed, p)
		}
	}
	for b := 1; b < len(prefixed); b++ {
		pb := prefixed[b]
		later := routes[pb.rule].GetMatch()[pb.match]
		for _, pa := range prefixed[:b] {
			earlier := routes[pa.rule].GetMatch()[pa.match]
			if !matchCovers(earlier, later) {
				continue
			}
			r.warnf(at.Index(pb.rule).Child("match").Index(pb.match),
				"rule %s match %s (URI prefix %s) is not used: match %s (URI prefix %s) of rule %s before it takes all its requests",
				ruleLabel(pb.rule, routes[pb.rule].GetName()), matchLabel(pb.match, later), later.GetUri().GetPrefix(),
				matchLabel(pa.match, earlier), earlier.GetUri().GetPrefix(), ruleLabel(pa.rule, routes[pa.rule].GetName()))
			break
		}
	}
}

// matchCovers reports whether every request b matches, a matches too (both have URI prefixes).
func matchCovers(a, b *networking.HTTPMatchRequest) bool {
	pa, pb := a.GetUri().GetPrefix(), b.GetUri().GetPrefix()
	switch {
	case a.GetIgnoreUriCase():
		pa, pb = strings.ToLower(pa), strings.ToLower(pb)
	case b.GetIgnoreUriCase():
		return false
	}
	if !strings.HasPrefix(pb, pa) {
		return false
	}
	if a.GetPort() != 0 && a.GetPort() != b.GetPort() {
		return false
	}
	if a.GetSourceNamespace() != "" && a.GetSourceNamespace() != b.GetSourceNamespace() {
		return false
	}
	for k, v := range a.GetSourceLabels() {
		if bv, ok := b.GetSourceLabels()[k]; !ok || bv != v {
			return false
		}
	}
	if len(a.GetGateways()) > 0 && !gatewaysWithin(b.GetGateways(), a.GetGateways()) {
		return false
	}
	return stringMatchCovers(a.GetMethod(), b.GetMethod()) &&
		stringMatchCovers(a.GetAuthority(), b.GetAuthority()) &&
		stringMatchCovers(a.GetScheme(), b.GetScheme()) &&
		stringMatchesCover(a.GetHeaders(), b.GetHeaders()) &&
		stringMatchesCover(a.GetQueryParams(), b.GetQueryParams()) &&
		withoutHeadersCover(a.GetWithoutHeaders(), b.GetWithoutHeaders())
}

func gatewaysWithin(b, a []string) bool {
	if len(b) == 0 {
		return false
	}
	for _, g := range b {
		found := false
		for _, x := range a {
			found = found || x == g
		}
		if !found {
			return false
		}
	}
	return true
}

// stringMatchCovers reports whether every value b matches, a matches too; a condition that
// is not set (or, for headers, only asks for presence) matches everything.
func stringMatchCovers(a, b *networking.StringMatch) bool {
	if a.GetMatchType() == nil {
		return true
	}
	switch a.GetMatchType().(type) {
	case *networking.StringMatch_Exact:
		_, exact := b.GetMatchType().(*networking.StringMatch_Exact)
		return exact && b.GetExact() == a.GetExact()
	case *networking.StringMatch_Prefix:
		switch b.GetMatchType().(type) {
		case *networking.StringMatch_Exact:
			return strings.HasPrefix(b.GetExact(), a.GetPrefix())
		case *networking.StringMatch_Prefix:
			return strings.HasPrefix(b.GetPrefix(), a.GetPrefix())
		}
		return false
	}
	return proto.Equal(a, b)
}

// stringMatchesCover: each condition of a, b has on the same key, at least as narrow.
func stringMatchesCover(a, b map[string]*networking.StringMatch) bool {
	for k, am := range a {
		bm, ok := b[k]
		if !ok || !stringMatchCovers(am, bm) {
			return false
		}
	}
	return true
}

// withoutHeadersCover: each header a excludes, b excludes as well (or more).
func withoutHeadersCover(a, b map[string]*networking.StringMatch) bool {
	for k, am := range a {
		bm, ok := b[k]
		if !ok || !stringMatchCovers(bm, am) {
			return false
		}
	}
	return true
}
