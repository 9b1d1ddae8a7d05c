package model

import (
	"fmt"
	"time"

	networking "istio.io/api/networking/v1alpha3"
)

// Meta identifies a configuration object.
type Meta struct {
	Name      string
	Namespace string
	// Created orders objects that claim the same thing: the oldest wins.
	Created time.Time
	// Generation lets status writers report which spec a problem was about.
	Generation int64
}

func (m Meta) String() string { return m.Namespace + "/" + m.Name }

// older orders objects by creation time, then by namespace and name, as
// Istio does when it resolves conflicts.
func older(a, b Meta) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

// Config is one Istio configuration object: its identity and its spec.
type Config[T any] struct {
	Meta
	Spec T
}

type (
	VirtualService  = Config[*networking.VirtualService]
	DestinationRule = Config[*networking.DestinationRule]
	Gateway         = Config[*networking.Gateway]
	Sidecar         = Config[*networking.Sidecar]
	ServiceEntry    = Config[*networking.ServiceEntry]
	WorkloadEntry   = Config[*networking.WorkloadEntry]
)

// Problem is something wrong in one object that made Loom skip all or part
// of it. Field is a path into the object ("spec.http[0].route[1].weight").
type Problem struct {
	Kind    string
	Meta    Meta
	Field   string
	Message string
}

func (p Problem) Error() string {
	if p.Field == "" {
		return fmt.Sprintf("%s %s: %s", p.Kind, p.Meta, p.Message)
	}
	return fmt.Sprintf("%s %s: %s: %s", p.Kind, p.Meta, p.Field, p.Message)
}

// Workload is a running instance that ServiceEntries with a workloadSelector
// can select: a Pod (WorkloadEntries are given separately).
type Workload struct {
	Name           string
	Namespace      string
	Address        string
	Labels         map[string]string
	Locality       Locality
	ServiceAccount string
	Health         Health
}
