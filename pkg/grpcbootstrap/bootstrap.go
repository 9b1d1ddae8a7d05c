// Package grpcbootstrap builds gRPC xDS bootstrap documents for tests that run
// proxyless gRPC processes (google.golang.org/grpc/xds) against an xDS
// management server. It has no dependency on gRPC itself.
//
// gRPC reads the bootstrap when its xds package initialises, from the
// environment variable GRPC_XDS_BOOTSTRAP_CONFIG (the JSON itself) or
// GRPC_XDS_BOOTSTRAP (a file path). Set one of them in the environment of the
// child process before starting it; see EnvConfig.
//
// Resource names gRPC asks for with the documents built here:
//
//   - A client channel with target "xds:///host:port" subscribes to the
//     Listener named "host:port" (the target without scheme and leading
//     slash; the client default listener template "%s" is left as is), then to
//     the RouteConfiguration named by that Listener's HttpConnectionManager
//     (unless it is inline), the Clusters named by the routes and, for EDS
//     clusters, ClusterLoadAssignments named by the cluster's
//     eds_cluster_config.service_name or else by the cluster name.
//     See ClientListenerName.
//   - An xDS-enabled gRPC server (xds.NewGRPCServer) serving on a listener
//     bound to IP:port subscribes to the Listener named
//     "grpc/server?xds.resource.listening_address=IP:port" (with the IP as
//     the listener reports it, e.g. "10.244.3.10:8080", "0.0.0.0:8080" or
//     "[::]:8080"). That Listener's address must match the listening address
//     and it must carry filter chains whose HttpConnectionManager has a route
//     with non_forwarding_action. See ServerListenerName.
package grpcbootstrap

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ServerListenerResourceNameTemplate is the server listener resource name
// template put in every bootstrap built by this package.
const ServerListenerResourceNameTemplate = "grpc/server?xds.resource.listening_address=%s"

// Environment variables read by gRPC-Go at init time.
const (
	EnvConfig = "GRPC_XDS_BOOTSTRAP_CONFIG" // the bootstrap JSON itself
	EnvFile   = "GRPC_XDS_BOOTSTRAP"        // path of a file holding the JSON
)

// Locality is the node locality reported to the management server.
type Locality struct {
	Region  string `json:"region,omitempty"`
	Zone    string `json:"zone,omitempty"`
	SubZone string `json:"sub_zone,omitempty"`
}

// Config describes a bootstrap document. Only ServerURI and NodeID are
// required.
type Config struct {
	// ServerURI is the management server address, e.g. "127.0.0.1:15010"
	// (any gRPC target, e.g. "dns:///host:port", is accepted by gRPC).
	ServerURI string
	// NodeID is node.id.
	NodeID string
	// Cluster is node.cluster (optional).
	Cluster string
	// Metadata is node.metadata (optional). It must marshal to a JSON object.
	Metadata map[string]any
	// Locality is node.locality (optional).
	Locality *Locality
	// ServerFeatures defaults to ["xds_v3"].
	ServerFeatures []string
	// CertificateProviders is copied to "certificate_providers" as is
	// (optional), e.g. {"default": {"plugin_name": "file_watcher",
	// "config": {...}}}.
	CertificateProviders map[string]any
}

type jsonServer struct {
	ServerURI      string           `json:"server_uri"`
	ChannelCreds   []jsonCredsEntry `json:"channel_creds"`
	ServerFeatures []string         `json:"server_features"`
}

type jsonCredsEntry struct {
	Type string `json:"type"`
}

type jsonNode struct {
	ID       string         `json:"id"`
	Cluster  string         `json:"cluster,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Always present: @grpc/grpc-js-xds refuses a node without a locality.
	Locality Locality `json:"locality"`
}

type jsonBootstrap struct {
	XDSServers                         []jsonServer   `json:"xds_servers"`
	Node                               jsonNode       `json:"node"`
	ServerListenerResourceNameTemplate string         `json:"server_listener_resource_name_template"`
	CertificateProviders               map[string]any `json:"certificate_providers,omitempty"`
}

// Marshal returns the bootstrap JSON for c.
func (c Config) Marshal() ([]byte, error) {
	if c.ServerURI == "" {
		return nil, errors.New("bootstrap: empty server URI")
	}
	if c.NodeID == "" {
		return nil, errors.New("bootstrap: empty node id")
	}
	features := c.ServerFeatures
	if features == nil {
		features = []string{"xds_v3"}
	}
	b := jsonBootstrap{
		XDSServers: []jsonServer{{
			ServerURI:      c.ServerURI,
			ChannelCreds:   []jsonCredsEntry{{Type: "insecure"}},
			ServerFeatures: features,
		}},
		Node: jsonNode{
			ID:       c.NodeID,
			Cluster:  c.Cluster,
			Metadata: c.Metadata,
		},
		ServerListenerResourceNameTemplate: ServerListenerResourceNameTemplate,
		CertificateProviders:               c.CertificateProviders,
	}
	if c.Locality != nil {
		b.Node.Locality = *c.Locality
	}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return out, nil
}

// Bootstrap returns a gRPC xDS bootstrap JSON document with one insecure xDS
// server at serverURI (server_features ["xds_v3"]), the node id and metadata
// (nil for none), and the server listener resource name template
// ServerListenerResourceNameTemplate.
func Bootstrap(serverURI, nodeID string, metadata map[string]any) ([]byte, error) {
	return Config{ServerURI: serverURI, NodeID: nodeID, Metadata: metadata}.Marshal()
}

// ClientListenerName returns the Listener resource name a gRPC client asks
// for when dialing target, e.g. "xds:///echo.test:8080" -> "echo.test:8080".
// Targets with an authority ("xds://auth/...") are rejected: the documents
// built here declare no authorities.
func ClientListenerName(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("bootstrap: parse target %q: %w", target, err)
	}
	if u.Scheme != "xds" {
		return "", fmt.Errorf("bootstrap: target %q: scheme is not xds", target)
	}
	if u.Host != "" {
		return "", fmt.Errorf("bootstrap: target %q: authorities are not supported", target)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if u.RawPath != "" {
		name = strings.TrimPrefix(u.RawPath, "/")
	}
	if name == "" {
		return "", fmt.Errorf("bootstrap: target %q has no endpoint", target)
	}
	return name, nil
}

// ServerListenerName returns the Listener resource name an xDS-enabled gRPC
// server asks for when listening on hostport, e.g. "10.244.3.10:8080" ->
// "grpc/server?xds.resource.listening_address=10.244.3.10:8080". hostport
// must be the listener's address as Go prints it (net.JoinHostPort form).
func ServerListenerName(hostport string) string {
	return strings.ReplaceAll(ServerListenerResourceNameTemplate, "%s", hostport)
}

// ServerListenerNameFor is ServerListenerName(net.JoinHostPort(ip, port)).
func ServerListenerNameFor(ip string, port int) string {
	return ServerListenerName(net.JoinHostPort(ip, fmt.Sprint(port)))
}
