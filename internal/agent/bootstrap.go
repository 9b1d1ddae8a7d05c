package agent

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"loom.dev/loom/pkg/grpcbootstrap"
)

// CertificateProviderInstance is the certificate provider the gRPC
// bootstrap declares; Loom's gRPC security config refers to it by name, as
// Istio's does.
const CertificateProviderInstance = "default"

// GRPCBootstrap returns the gRPC xDS bootstrap for a proxyless gRPC
// workload: the xDS server, the node as Loom's discovery reads it (id
// sidecar~IP~pod.namespace~namespace.svc.cluster.local, metadata NAMESPACE,
// INSTANCE_IPS, LABELS, GENERATOR=grpc, ISTIO_REVISION), the server
// listener template and a file_watcher certificate provider over the files
// in Options.OutputDir, which gRPC re-reads every refresh interval
// (DefaultRefreshInterval when zero). Run writes it once the files exist.
func GRPCBootstrap(o *Options) ([]byte, error) {
	b := o.Bootstrap
	ip := ""
	if len(b.InstanceIPs) > 0 {
		ip = b.InstanceIPs[0]
	}
	meta := map[string]any{
		"NAMESPACE":       o.Namespace,
		"NAME":            b.PodName,
		"SERVICE_ACCOUNT": o.ServiceAccount,
		"CLUSTER_ID":      o.ClusterID,
		"GENERATOR":       "grpc",
	}
	if len(b.InstanceIPs) > 0 {
		meta["INSTANCE_IPS"] = strings.Join(b.InstanceIPs, ",")
	}
	if len(b.Labels) > 0 {
		meta["LABELS"] = b.Labels
	}
	if b.Revision != "" {
		meta["ISTIO_REVISION"] = b.Revision
	}
	interval := b.RefreshInterval
	if interval == 0 {
		interval = DefaultRefreshInterval
	}
	refresh, err := protoDuration(interval)
	if err != nil {
		return nil, err
	}
	data, err := grpcbootstrap.Config{
		ServerURI: b.XDSAddress,
		NodeID:    fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", ip, b.PodName, o.Namespace, o.Namespace),
		Metadata:  meta,
		CertificateProviders: map[string]any{
			CertificateProviderInstance: map[string]any{
				"plugin_name": "file_watcher",
				"config": map[string]any{
					"certificate_file":    filepath.Join(o.OutputDir, CertChainFile),
					"private_key_file":    filepath.Join(o.OutputDir, KeyFile),
					"ca_certificate_file": filepath.Join(o.OutputDir, RootCertFile),
					"refresh_interval":    refresh,
				},
			},
		},
	}.Marshal()
	if err != nil {
		return nil, fmt.Errorf("--grpc-bootstrap: %w", err)
	}
	return data, nil
}

// protoDuration is d in the JSON form of google.protobuf.Duration, e.g.
// "10s", which is how gRPC parses refresh_interval.
func protoDuration(d time.Duration) (json.RawMessage, error) {
	data, err := protojson.Marshal(durationpb.New(d))
	if err != nil {
		return nil, fmt.Errorf("--grpc-cert-refresh %s: %w", d, err)
	}
	return data, nil
}
