// Package model is Loom's Kubernetes-free picture of the mesh: services, their
// endpoints and the Istio configuration that applies to them, indexed by host
// and namespace. A Snapshot is immutable once built; the discovery side builds
// a new one for every change and translators read it without locks.
//
// Selection follows Istio's documented semantics: hostnames are resolved
// relative to the namespace of the object naming them, exportTo limits which
// namespaces see an object, and when several objects claim one host the
// oldest wins and the others are reported as problems.
package model
