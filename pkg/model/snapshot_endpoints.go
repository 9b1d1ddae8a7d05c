package model

import (
	"maps"
	"slices"
)

// WithEndpoints returns a copy of the snapshot in which the Kubernetes
// Service namespace/name has the given endpoints, sharing everything else,
// and that service's new version. It returns nil when the snapshot has no
// such service. An endpoint change, the most frequent change in a mesh,
// then costs no full rebuild.
func (s *Snapshot) WithEndpoints(namespace, name string, eps []*Endpoint) (*Snapshot, *Service) {
	i := slices.IndexFunc(s.services, func(svc *Service) bool {
		return svc.Source == SourceKubernetes && svc.Namespace == namespace && svc.Name == name
	})
	if i < 0 {
		return nil, nil
	}
	old := s.services[i]
	svc := *old
	svc.Endpoints = eps
	c := *s
	c.services = slices.Clone(s.services)
	c.services[i] = &svc
	c.servicesByHost = maps.Clone(s.servicesByHost)
	byHost := slices.Clone(s.servicesByHost[svc.Hostname])
	for j, o := range byHost {
		if o == old {
			byHost[j] = &svc
		}
	}
	c.servicesByHost[svc.Hostname] = byHost
	return &c, &svc
}
