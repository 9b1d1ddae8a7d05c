package validation

import (
	"maps"
	"slices"
	"strings"

	networking "istio.io/api/networking/v1alpha3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// WorkloadEntry validates a WorkloadEntry.
func WorkloadEntry(we *networking.WorkloadEntry) Result {
	var r Result
	workloadEntry(&r, spec(), we, nil, true)
	return r
}

// workloadEntry checks a WorkloadEntry or a ServiceEntry endpoint; servicePorts, when not
// nil, are the port names the endpoint's ports must refer to.
func workloadEntry(r *Result, at *field.Path, we *networking.WorkloadEntry, servicePorts map[string]bool, allowFQDN bool) {
	addr := we.GetAddress()
	if addr == "" {
		if we.GetNetwork() == "" {
			r.errorf(at.Child("address"), "required (or a network)")
			return
		}
		r.warnf(at.Child("address"), "unset, with network %q", we.GetNetwork())
	}
	unix := strings.HasPrefix(addr, unixPrefix)
	switch {
	case unix:
		r.check(at.Child("address"), unixAddress(strings.TrimPrefix(addr, unixPrefix)))
		if len(we.GetPorts()) > 0 {
			r.errorf(at.Child("ports"), "a unix domain socket endpoint has no ports")
		}
	case addr != "" && !isIP(addr) && !allowFQDN:
		r.errorf(at.Child("address"), "%q is not an IP address (resolution STATIC)", addr)
	case addr != "" && !isIP(addr):
		if fqdn(addr) != nil {
			r.errorf(at.Child("address"), "%q is neither an IP address nor a host name", addr)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(we.GetPorts())) {
		pat := at.Child("ports").Key(name)
		if servicePorts != nil && !servicePorts[name] {
			r.errorf(pat, "the ServiceEntry has no port named %q", name)
		}
		r.check(pat, portName(name))
		r.check(pat, port(int64(we.GetPorts()[name])))
	}
	checkLabels(r, at.Child("labels"), we.GetLabels())
	if unix && servicePorts != nil && len(servicePorts) != 1 {
		r.errorf(at.Child("address"), "a unix domain socket endpoint needs exactly one service port")
	}
}
