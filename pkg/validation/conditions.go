package validation

import (
	"strings"

	security "istio.io/api/security/v1beta1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// condition checks a `when` condition as Istio does: a known key and values of its type.
func condition(r *Result, at *field.Path, c *security.Condition, action security.AuthorizationPolicy_Action) {
	key := c.GetKey()
	if key == "" {
		r.errorf(at.Child("key"), "required")
		return
	}
	if action == security.AuthorizationPolicy_CUSTOM {
		switch {
		case key == "source.namespace", key == "source.serviceAccount", key == "source.trustDomain", key == "source.principal",
			strings.HasPrefix(key, "request.auth."):
			r.errorf(at.Child("key"), "%s is not supported with the CUSTOM action", key)
		}
	}
	if len(c.GetValues()) == 0 && len(c.GetNotValues()) == 0 {
		r.errorf(at, "values or notValues is required for key %s", key)
		return
	}
	r.check(at.Child("values"), attribute(key, c.GetValues()))
	r.check(at.Child("notValues"), attribute(key, c.GetNotValues()))
}

func attribute(key string, values []string) error {
	if err := nonEmpty(values); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(key, "request.headers"), strings.HasPrefix(key, "request.auth.claims"),
		strings.HasPrefix(key, "experimental.envoy.filters."):
		return mapKey(key)
	case key == "source.ip", key == "remote.ip", key == "destination.ip":
		return ipBlocks(values)
	case key == "source.serviceAccount":
		return serviceAccounts(values)
	case key == "source.trustDomain":
		return wildcardValues(values)
	case key == "destination.port":
		return ports(values)
	case key == "source.namespace", key == "source.principal", key == "request.auth.principal",
		key == "request.auth.audiences", key == "request.auth.presenter", key == "connection.sni":
		return nil
	case key == "destination.namespace":
		return errString("destination.namespace is replaced by the policy's own namespace")
	case strings.HasPrefix(key, "destination.labels"):
		return errString("destination.labels is replaced by the workload selector")
	case key == "destination.name", key == "destination.user":
		return errString(key + " is deprecated: only supported in v1alpha1")
	}
	return errString("unknown attribute " + key)
}

// mapKey requires the a[b] form of header and claim keys.
func mapKey(key string) error {
	open := strings.Index(key, "[")
	if strings.HasSuffix(key, "]") && open > 0 && open < len(key)-2 {
		return nil
	}
	return errString("bad key " + key + ": should have the form a[b]")
}
