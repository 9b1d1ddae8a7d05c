package validation

import (
	networking "istio.io/api/networking/v1alpha3"
)

// DestinationRule validates a DestinationRule of the namespace.
func DestinationRule(namespace string, dr *networking.DestinationRule) Result {
	var r Result
	at := spec()
	r.check(at.Child("host"), wildcardDomain(dr.GetHost()))
	trafficPolicy(&r, at.Child("trafficPolicy"), dr.GetTrafficPolicy())
	seen := map[string]bool{}
	for i, s := range dr.GetSubsets() {
		sat := at.Child("subsets").Index(i)
		if seen[s.GetName()] {
			r.errorf(sat.Child("name"), "duplicate subset name %q", s.GetName())
		}
		seen[s.GetName()] = true
		r.check(sat.Child("name"), SubsetName(s.GetName()))
		checkLabels(&r, sat.Child("labels"), s.GetLabels())
		trafficPolicy(&r, sat.Child("trafficPolicy"), s.GetTrafficPolicy())
	}
	checkExportTo(&r, at.Child("exportTo"), namespace, dr.GetExportTo(), false)
	if sel := dr.GetWorkloadSelector(); sel != nil {
		checkSelectorLabels(&r, at.Child("workloadSelector", "matchLabels"), sel.GetMatchLabels())
		for i, e := range dr.GetExportTo() {
			if e != "." && e != namespace || i > 0 {
				r.errorf(at.Child("exportTo"), "a DestinationRule with a workloadSelector can only be exported to its own namespace")
				break
			}
		}
	}
	return r
}
