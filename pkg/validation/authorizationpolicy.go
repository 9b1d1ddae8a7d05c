package validation

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	security "istio.io/api/security/v1beta1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// AuthorizationPolicy validates an AuthorizationPolicy.
func AuthorizationPolicy(ap *security.AuthorizationPolicy) Result {
	var r Result
	at := spec()
	policyTargets(&r, at, ap.GetSelector(), ap.GetTargetRef(), ap.GetTargetRefs())
	action := ap.GetAction()
	switch {
	case action == security.AuthorizationPolicy_CUSTOM && ap.GetRules() == nil:
		r.errorf(at.Child("rules"), "a CUSTOM policy without rules never applies; add an empty rule {} to apply it to every request")
	case action == security.AuthorizationPolicy_CUSTOM && ap.GetProvider().GetName() == "":
		r.errorf(at.Child("provider", "name"), "required for a CUSTOM policy")
	case action != security.AuthorizationPolicy_CUSTOM && ap.GetProvider() != nil:
		r.errorf(at.Child("provider"), "only a CUSTOM policy names a provider, not %v", action)
	case action == security.AuthorizationPolicy_DENY && ap.GetRules() == nil:
		r.errorf(at.Child("rules"), "a DENY policy without rules never applies; add an empty rule {} to deny every request")
	}
	for i, rule := range ap.GetRules() {
		authzRule(&r, at.Child("rules").Index(i), rule, action)
	}
	return r
}

func authzRule(r *Result, at *field.Path, rule *security.Rule, action security.AuthorizationPolicy_Action) {
	if rule.GetFrom() != nil && len(rule.GetFrom()) == 0 {
		r.errorf(at.Child("from"), "if set, must not be empty")
	}
	if rule.GetTo() != nil && len(rule.GetTo()) == 0 {
		r.errorf(at.Child("to"), "if set, must not be empty")
	}
	tcpFrom, tcpTo := false, false
	for i, f := range rule.GetFrom() {
		fat := at.Child("from").Index(i).Child("source")
		if f.GetSource() == nil {
			r.errorf(fat, "required")
			continue
		}
		tcpFrom = source(r, fat, f.GetSource(), action) || tcpFrom
	}
	for i, t := range rule.GetTo() {
		oat := at.Child("to").Index(i).Child("operation")
		if t.GetOperation() == nil {
			r.errorf(oat, "required")
			continue
		}
		tcpTo = operation(r, oat, t.GetOperation()) || tcpTo
	}
	for i, c := range rule.GetWhen() {
		condition(r, at.Child("when").Index(i), c, action)
	}
	hasFrom, hasTo := len(rule.GetFrom()) > 0, len(rule.GetTo()) > 0
	if action == security.AuthorizationPolicy_DENY && (hasFrom && !hasTo && !tcpFrom || hasTo && !tcpTo) {
		r.warnf(at, "this DENY rule uses only HTTP attributes, so it denies all traffic to the TCP ports it applies to; name the ports explicitly")
	}
}

// source checks a rule's source; true if it uses attributes TCP traffic has.
func source(r *Result, at *field.Path, s *security.Source, action security.AuthorizationPolicy_Action) bool {
	if len(s.GetPrincipals())+len(s.GetNotPrincipals())+len(s.GetNamespaces())+len(s.GetNotNamespaces()) > 0 &&
		len(s.GetServiceAccounts())+len(s.GetNotServiceAccounts()) > 0 {
		r.errorf(at, "serviceAccounts cannot be combined with namespaces or principals")
	}
	lists := []struct {
		field  string
		values []string
		check  func([]string) error
		tcp    bool
		custom bool // usable with CUSTOM
	}{
		{"principals", s.GetPrincipals(), nil, true, false}, {"notPrincipals", s.GetNotPrincipals(), nil, true, false},
		{"requestPrincipals", s.GetRequestPrincipals(), nil, false, false}, {"notRequestPrincipals", s.GetNotRequestPrincipals(), nil, false, false},
		{"namespaces", s.GetNamespaces(), nil, true, false}, {"notNamespaces", s.GetNotNamespaces(), nil, true, false},
		{"serviceAccounts", s.GetServiceAccounts(), serviceAccounts, true, false}, {"notServiceAccounts", s.GetNotServiceAccounts(), serviceAccounts, true, false},
		{"trustDomains", s.GetTrustDomains(), trustDomains, false, false}, {"notTrustDomains", s.GetNotTrustDomains(), trustDomains, false, false},
		{"ipBlocks", s.GetIpBlocks(), ipBlocks, true, true}, {"notIpBlocks", s.GetNotIpBlocks(), ipBlocks, true, true},
		{"remoteIpBlocks", s.GetRemoteIpBlocks(), ipBlocks, true, true}, {"notRemoteIpBlocks", s.GetNotRemoteIpBlocks(), ipBlocks, true, true},
	}
	empty, tcp := true, false
	for _, l := range lists {
		if len(l.values) == 0 {
			continue
		}
		empty = false
		tcp = tcp || l.tcp && l.values != nil
		if action == security.AuthorizationPolicy_CUSTOM && !l.custom {
			r.errorf(at.Child(l.field), "not supported with the CUSTOM action")
		}
		r.check(at.Child(l.field), nonEmpty(l.values))
		if l.check != nil {
			r.check(at.Child(l.field), l.check(l.values))
		}
	}
	if empty {
		r.errorf(at, "must not be empty")
	}
	return tcp
}

// operation checks a rule's operation; true if it names ports.
func operation(r *Result, at *field.Path, o *security.Operation) bool {
	lists := []struct {
		field  string
		values []string
	}{{"ports", o.GetPorts()}, {"notPorts", o.GetNotPorts()}, {"methods", o.GetMethods()}, {"notMethods", o.GetNotMethods()},
		{"paths", o.GetPaths()}, {"notPaths", o.GetNotPaths()}, {"hosts", o.GetHosts()}, {"notHosts", o.GetNotHosts()}}
	empty := true
	for _, l := range lists {
		empty = empty && len(l.values) == 0
		r.check(at.Child(l.field), nonEmpty(l.values))
	}
	if empty {
		r.errorf(at, "must not be empty")
	}
	r.check(at.Child("ports"), ports(o.GetPorts()))
	r.check(at.Child("notPorts"), ports(o.GetNotPorts()))
	r.check(at.Child("paths"), pathTemplates(o.GetPaths()))
	r.check(at.Child("notPaths"), pathTemplates(o.GetNotPaths()))
	return o.GetPorts() != nil || o.GetNotPorts() != nil
}

func nonEmpty(values []string) error {
	for _, v := range values {
		if v == "" {
			return errString("empty values are not allowed")
		}
	}
	return nil
}

func ipBlocks(values []string) error {
	for _, v := range values {
		if strings.Contains(v, "/") {
			if _, err := netip.ParsePrefix(v); err != nil {
				return errString("bad CIDR block " + strconv.Quote(v))
			}
		} else if !isIP(v) {
			return errString("bad IP address " + strconv.Quote(v))
		}
	}
	return nil
}

func ports(values []string) error {
	for _, v := range values {
		if p, err := strconv.ParseUint(v, 10, 32); err != nil || p > 65535 {
			return errString("bad port " + strconv.Quote(v))
		}
	}
	return nil
}

func serviceAccounts(values []string) error {
	if len(values) > 16 {
		return errString("at most 16 service accounts")
	}
	for _, v := range values {
		ns, sa, two := strings.Cut(v, "/")
		switch {
		case strings.Contains(v, "*"):
			return errString("wildcards are not allowed in service accounts")
		case len(v) > 320:
			return errString("service account longer than 320 characters")
		case strings.Count(v, "/") > 1 || two && (ns == "" || sa == ""):
			return errString(strconv.Quote(v) + " is not serviceAccount or namespace/serviceAccount")
		}
	}
	return nil
}

func wildcardValues(values []string) error {
	for _, v := range values {
		n := strings.Count(v, "*")
		if n > 1 || n == 1 && v != "*" && !strings.HasPrefix(v, "*") && !strings.HasSuffix(v, "*") {
			return errString(strconv.Quote(v) + ": a wildcard is only allowed once, at the start or the end")
		}
	}
	return nil
}

func trustDomains(values []string) error {
	if err := wildcardValues(values); err != nil {
		return err
	}
	for _, v := range values {
		if strings.Contains(v, "/") {
			return errString(strconv.Quote(v) + ": a trust domain has no '/'")
		}
	}
	return nil
}

// pathLiteral is RFC 3986's pchar, what Envoy's URI templates accept between operators.
var pathLiteral = regexp.MustCompile(`^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$`)

// pathTemplates applies Istio's rules to {*} and {**} path templates.
func pathTemplates(paths []string) error {
	for _, p := range paths {
		template := strings.Contains(p, "{*}") || strings.Contains(p, "{**}")
		anySeen := false
		for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
			switch {
			case (seg == "{*}" || seg == "{**}") && anySeen:
				return errString("path " + strconv.Quote(p) + ": {**} must be the last operator")
			case seg == "{*}":
				continue
			case seg == "{**}":
				anySeen = true
				continue
			case strings.ContainsAny(seg, "{}"):
				return errString("path " + strconv.Quote(p) + ": '{' or '}' outside a {*} or {**} template")
			case template && !pathLiteral.MatchString(seg):
				return errString("path " + strconv.Quote(p) + ": segment " + strconv.Quote(seg) + " is not a valid literal")
			}
		}
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
