package validation

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// pseudoHeaders are the HTTP/2 pseudo-headers Istio lets a route match on.
var pseudoHeaders = []string{":method", ":scheme", ":authority", ":path", ":status"}

// jwtClaimPrefix marks a header match on a JWT claim (gateways only in Istio).
const jwtClaimPrefix = "@request.auth.claims"

func isAuthorityHeader(name string) bool {
	return strings.EqualFold(name, ":authority") || strings.EqualFold(name, "host")
}

// matchHeaderName checks a header a route matches on: the shared rule plus Istio's, which
// only knows the five standard pseudo-headers.
func matchHeaderName(name string) error {
	if err := HeaderName(name); err != nil {
		return err
	}
	if strings.HasPrefix(name, ":") && !slices.Contains(pseudoHeaders, name) {
		return fmt.Errorf("%q is not a pseudo-header Istio can match on (%s)", name, strings.Join(pseudoHeaders, ", "))
	}
	return nil
}

// headerValue is the shared rule plus Istio's: no control characters but tab, and '%' only
// as "%%" or around an Envoy variable ("%HOSTNAME%"), which Envoy would otherwise refuse.
func headerValue(v string) error {
	if err := HeaderValue(v); err != nil {
		return err
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fmt.Errorf("%q contains a control character", v)
		}
	}
	return envoyFormat(v)
}

var envoyVariable = regexp.MustCompile(`^[A-Z][A-Z0-9_]*(\(.*\))?(:[0-9]+)?$`)

// envoyFormat checks the '%' syntax of an Envoy header value.
func envoyFormat(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			i++
			continue
		}
		end := strings.IndexByte(v[i+1:], '%')
		if end < 0 {
			return fmt.Errorf("%q: unescaped %% (write %%%% for a literal %%)", v)
		}
		if name := v[i+1 : i+1+end]; !envoyVariable.MatchString(name) {
			return fmt.Errorf("%q: %%%s%% is not an Envoy variable (write %%%% for a literal %%)", v, name)
		}
		i += end + 1
	}
	return nil
}

// headerOperations checks a Headers section of a route or destination.
func headerOperations(r *Result, at *field.Path, h *networking.Headers) {
	if h == nil {
		return
	}
	req, resp := h.GetRequest(), h.GetResponse()
	setValues := func(at *field.Path, values map[string]string, request bool) {
		for _, name := range slices.Sorted(maps.Keys(values)) {
			nat := at.Key(name)
			r.check(nat, HeaderName(name))
			switch {
			case request && isAuthorityHeader(name):
			case strings.HasPrefix(name, ":") || strings.EqualFold(name, "host"):
				r.errorf(nat, "header %s cannot be changed", name)
			}
			r.check(nat, headerValue(values[name]))
		}
	}
	removed := func(at *field.Path, names []string) {
		for i, name := range names {
			r.check(at.Index(i), HeaderName(name))
			if strings.HasPrefix(name, ":") || strings.EqualFold(name, "host") {
				r.errorf(at.Index(i), "header %s cannot be removed", name)
			}
		}
	}
	setValues(at.Child("request", "set"), req.GetSet(), true)
	setValues(at.Child("request", "add"), req.GetAdd(), true)
	removed(at.Child("request", "remove"), req.GetRemove())
	setValues(at.Child("response", "set"), resp.GetSet(), false)
	setValues(at.Child("response", "add"), resp.GetAdd(), false)
	removed(at.Child("response", "remove"), resp.GetRemove())
}

// authorityRewrites counts the places a route rewrites the authority: Istio allows one.
func authorityRewrites(rewrite *networking.HTTPRewrite, h *networking.Headers) int {
	n := 0
	if rewrite.GetAuthority() != "" {
		n++
	}
	for _, m := range []map[string]string{h.GetRequest().GetSet(), h.GetRequest().GetAdd()} {
		for k := range m {
			if isAuthorityHeader(k) {
				n++
			}
		}
	}
	return n
}
