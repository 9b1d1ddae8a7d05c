package model

// LabelsShapeOutbound reports whether the outbound config of a proxy in namespace ns
// (listeners, routes and clusters for the services it calls) can depend on its workload's
// labels: a Sidecar or DestinationRule of ns with a workloadSelector, or a VirtualService
// anywhere that matches on sourceLabels. Otherwise every workload proxy of a kind in ns
// has the same outbound config, which translation then builds once per model.
func (s *Snapshot) LabelsShapeOutbound(ns string) bool {
	return s.sourceLabelRoutes || s.selectorNamespaces[ns]
}

// indexLabelScopedOutbound finds the objects LabelsShapeOutbound looks for; invalid ones
// count too, which can only cost sharing.
func (s *Snapshot) indexLabelScopedOutbound(in Input) {
	s.selectorNamespaces = map[string]bool{}
	for _, sc := range in.Sidecars {
		if sc != nil && sc.Spec.GetWorkloadSelector() != nil {
			s.selectorNamespaces[sc.Namespace] = true
		}
	}
	for _, dr := range in.DestinationRules {
		if dr != nil && dr.Spec.GetWorkloadSelector() != nil {
			s.selectorNamespaces[dr.Namespace] = true
		}
	}
	for _, vs := range in.VirtualServices {
		if vs != nil && matchesSourceLabels(vs) {
			s.sourceLabelRoutes = true
			return
		}
	}
}

func matchesSourceLabels(vs *VirtualService) bool {
	for _, r := range vs.Spec.GetHttp() {
		for _, m := range r.GetMatch() {
			if len(m.GetSourceLabels()) > 0 {
				return true
			}
		}
	}
	for _, r := range vs.Spec.GetTcp() {
		for _, m := range r.GetMatch() {
			if len(m.GetSourceLabels()) > 0 {
				return true
			}
		}
	}
	for _, r := range vs.Spec.GetTls() {
		for _, m := range r.GetMatch() {
			if len(m.GetSourceLabels()) > 0 {
				return true
			}
		}
	}
	return false
}
