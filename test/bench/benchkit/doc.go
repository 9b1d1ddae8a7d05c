// Package benchkit is what the benchmark programs under test/bench (scale, ca,
// soak, grpcfloor) share: installing Istio's CRDs in the local cluster,
// running a control-plane process until it is ready and stopping it, driving a
// helper process over JSON lines on its stdin and stdout, reading a process's
// CPU time from /proc, running work on a few goroutines, and locating the
// module and istiod's binary.
package benchkit
