package validation

import (
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceEntry validates a ServiceEntry of the namespace. autoAllocate says whether Istio's
// automatic VIP allocation is on for it (Loom: true unless the object opts out).
func ServiceEntry(namespace string, se *networking.ServiceEntry, autoAllocate bool) Result {
	var r Result
	at := spec()
	res := se.GetResolution()
	if sel := se.GetWorkloadSelector(); sel != nil {
		checkSelectorLabels(&r, at.Child("workloadSelector", "labels"), sel.GetLabels())
		if se.GetEndpoints() != nil {
			r.errorf(at.Child("endpoints"), "workloadSelector and endpoints cannot both be set")
		}
	}
	if len(se.GetHosts()) == 0 {
		r.errorf(at.Child("hosts"), "a ServiceEntry needs at least one host")
	}
	for i, h := range se.GetHosts() {
		if h == "*" {
			r.errorf(at.Child("hosts").Index(i), "the wildcard * is not a ServiceEntry host")
			continue
		}
		r.check(at.Child("hosts").Index(i), wildcardDomain(h))
		if err := partialWildcard(h); err != nil && res != networking.ServiceEntry_DYNAMIC_DNS {
			r.warnf(at.Child("hosts").Index(i), "%v", err)
		}
	}
	cidr := false
	for i, a := range se.GetAddresses() {
		cidr = cidr || strings.Contains(a, "/")
		r.check(at.Child("addresses").Index(i), ipOrCIDR(a))
	}
	if cidr && res != networking.ServiceEntry_NONE && res != networking.ServiceEntry_STATIC {
		r.errorf(at.Child("addresses"), "CIDR addresses are only allowed with resolution NONE or STATIC")
	}
	portNames := seServicePorts(&r, at.Child("ports"), se, autoAllocate)
	seResolution(&r, at, se, portNames)
	if res != networking.ServiceEntry_NONE && len(se.GetHosts()) > 1 {
		for i, p := range se.GetPorts() {
			if pr := protocol(p.GetProtocol()); !isHTTPProtocol(pr) && !isTLSProtocol(pr) {
				r.errorf(at.Child("ports").Index(i).Child("protocol"), "several hosts need HTTP or TLS ports to be told apart (or resolution NONE)")
				break
			}
		}
	}
	checkExportTo(&r, at.Child("exportTo"), namespace, se.GetExportTo(), true)
	return r
}

// seServicePorts checks the ports and returns their names.
func seServicePorts(r *Result, at *field.Path, se *networking.ServiceEntry, autoAllocate bool) map[string]bool {
	names, numbers := map[string]bool{}, map[uint32]bool{}
	for i, p := range se.GetPorts() {
		pat := at.Index(i)
		if names[p.GetName()] {
			r.errorf(pat.Child("name"), "duplicate port name %q", p.GetName())
		}
		if numbers[p.GetNumber()] {
			r.errorf(pat.Child("number"), "duplicate port number %d", p.GetNumber())
		}
		names[p.GetName()], numbers[p.GetNumber()] = true, true
		if p.GetTargetPort() != 0 {
			r.check(pat.Child("targetPort"), port(int64(p.GetTargetPort())))
		}
		if len(se.GetAddresses()) == 0 && !autoAllocate && (p.GetProtocol() == "" || strings.EqualFold(p.GetProtocol(), "TCP")) {
			r.warnf(pat.Child("protocol"), "a TCP (or unset) port needs addresses when IP auto-allocation is off")
		}
		r.check(pat.Child("name"), portName(p.GetName()))
		checkProtocol(r, pat.Child("protocol"), p.GetProtocol())
		r.check(pat.Child("number"), port(int64(p.GetNumber())))
	}
	return names
}

func seResolution(r *Result, at *field.Path, se *networking.ServiceEntry, portNames map[string]bool) {
	res := se.GetResolution()
	eps := at.Child("endpoints")
	switch res {
	case networking.ServiceEntry_NONE:
		if len(se.GetEndpoints()) > 0 {
			r.errorf(eps, "no endpoints can be given with resolution NONE")
		}
		if se.GetWorkloadSelector() != nil {
			r.warnf(at.Child("workloadSelector"), "has no effect with resolution NONE")
		}
	case networking.ServiceEntry_STATIC:
		for i, ep := range se.GetEndpoints() {
			workloadEntry(r, eps.Index(i), ep, portNames, false)
		}
	case networking.ServiceEntry_DNS, networking.ServiceEntry_DNS_ROUND_ROBIN:
		if len(se.GetEndpoints()) == 0 {
			for i, h := range se.GetHosts() {
				if err := fqdn(h); err != nil {
					r.errorf(at.Child("hosts").Index(i), "without endpoints, %v resolution needs plain host names: %v", res, err)
					break
				}
			}
		}
		if res == networking.ServiceEntry_DNS_ROUND_ROBIN && len(se.GetEndpoints()) > 1 {
			r.errorf(eps, "resolution DNS_ROUND_ROBIN takes at most one endpoint")
		}
		for i, ep := range se.GetEndpoints() {
			workloadEntry(r, eps.Index(i), ep, portNames, true)
		}
		if len(se.GetAddresses()) > 0 && len(se.GetHosts()) > 1 {
			for _, p := range se.GetPorts() {
				if pr := protocol(p.GetProtocol()); pr == "TCP" || isTLSProtocol(pr) || pr == "MONGO" || pr == "REDIS" || pr == "MYSQL" {
					r.warnf(at.Child("hosts"), "a ServiceEntry with addresses and a TCP port should have one host")
					break
				}
			}
		}
	case networking.ServiceEntry_DYNAMIC_DNS:
		for i, h := range se.GetHosts() {
			if !strings.HasPrefix(h, "*") {
				r.errorf(at.Child("hosts").Index(i), "resolution DYNAMIC_DNS needs wildcard hosts")
			}
		}
		if len(se.GetAddresses()) > 0 {
			r.errorf(at.Child("addresses"), "no addresses can be given with resolution DYNAMIC_DNS")
		}
		if len(se.GetEndpoints()) > 0 {
			r.errorf(eps, "no endpoints can be given with resolution DYNAMIC_DNS")
		}
		for i, p := range se.GetPorts() {
			if pr := protocol(p.GetProtocol()); pr != "HTTP" && pr != "TLS" && pr != "GRPC" && pr != "HTTP2" {
				r.errorf(at.Child("ports").Index(i).Child("protocol"), "resolution DYNAMIC_DNS supports HTTP, TLS, GRPC and HTTP2 ports only")
			}
		}
	default:
		r.errorf(at.Child("resolution"), "unsupported resolution %v", res)
	}
}
