package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ProxyEnvoy is Options.Proxy for an injected Envoy sidecar: the agent
// writes Envoy's bootstrap, proxies its xDS stream to the discovery server,
// serves its secrets and the pod's status port, and supervises it.
const ProxyEnvoy = "envoy"

// ProxyGateway is Options.Proxy for a gateway, whose Envoy runs in another
// container of the pod with its own bootstrap: the agent serves its secrets
// and proxies its xDS stream to the discovery server (so the gateway is sent
// its credentials' keys, which only the authenticated port carries), and
// neither writes a bootstrap nor supervises Envoy.
const ProxyGateway = "gateway"

// EnvoyOptions configure the Envoy sidecar (Options.Proxy ProxyEnvoy).
type EnvoyOptions struct {
	// BootstrapPath is where the Envoy bootstrap is written.
	BootstrapPath string
	// Binary is Envoy's executable.
	Binary string
	// XDSProxySocket is the Unix socket Envoy's xDS cluster points at; the
	// agent forwards each ADS stream on it to the discovery server at
	// Options.CAAddress (15012 serves the CA and xDS over TLS).
	XDSProxySocket string
	// StatusPort serves /healthz/ready and /app-health/... on every
	// interface (Istio's 15020).
	StatusPort int
	// AdminPort is Envoy's admin port on 127.0.0.1 (Istio's 15000).
	AdminPort int
	// DrainDuration is how long Envoy drains on SIGTERM before it is
	// stopped (Envoy's --drain-time-s and the wait after drain_listeners).
	DrainDuration time.Duration
	// ParentShutdownDuration is Envoy's --parent-shutdown-time-s.
	ParentShutdownDuration time.Duration
	// EnvoyDrainDuration is Envoy's --drain-time-s (Istio's ProxyConfig
	// drainDuration); 0 means DrainDuration.
	EnvoyDrainDuration time.Duration
	// LogLevel is Envoy's --log-level and ComponentLogLevel its
	// --component-log-level (component:level,...); "" leaves Envoy's default.
	LogLevel          string
	ComponentLogLevel string
	// Concurrency is Envoy's --concurrency (worker threads); 0 leaves
	// Envoy's default, one per hardware thread, as Istio's agent does.
	Concurrency int
	// AppProbers is the JSON of $ISTIO_KUBE_APP_PROBERS: the application's
	// original probes, keyed by their /app-health/<container>/<kind> path.
	AppProbers string
}

// Defaults of the Envoy sidecar, as Istio's (paths under Loom's volume).
const (
	DefaultEnvoyBootstrap         = "/var/run/loom/envoy/bootstrap.json"
	DefaultProxyBinary            = "/usr/local/bin/envoy"
	DefaultXDSProxySocket         = "/var/run/loom/proxy/XDS"
	DefaultSDSSocket              = "/var/run/loom/sds/socket"
	DefaultStatusPort             = 15020
	DefaultAdminPort              = 15000
	DefaultDrainDuration          = 5 * time.Second
	DefaultParentShutdownDuration = 60 * time.Second
)

func (e *EnvoyOptions) setDefaults() {
	if e.BootstrapPath == "" {
		e.BootstrapPath = DefaultEnvoyBootstrap
	}
	if e.Binary == "" {
		e.Binary = DefaultProxyBinary
	}
	if e.XDSProxySocket == "" {
		e.XDSProxySocket = DefaultXDSProxySocket
	}
	if e.StatusPort == 0 {
		e.StatusPort = DefaultStatusPort
	}
	if e.AdminPort == 0 {
		e.AdminPort = DefaultAdminPort
	}
	if e.DrainDuration == 0 {
		e.DrainDuration = DefaultDrainDuration
	}
	if e.ParentShutdownDuration == 0 {
		e.ParentShutdownDuration = DefaultParentShutdownDuration
	}
}

// validateProxy checks the options of Proxy, naming their flags.
func (o *Options) validateProxy() error {
	switch o.Proxy {
	case "":
		return nil
	case ProxyEnvoy:
	case ProxyGateway:
		if o.Once {
			return errors.New("--once cannot be used with --proxy gateway: the agent must keep serving the gateway")
		}
		return nil
	default:
		return fmt.Errorf("--proxy %q: want %q, %q or nothing", o.Proxy, ProxyEnvoy, ProxyGateway)
	}
	e := &o.Envoy
	switch {
	case o.Once:
		return errors.New("--once cannot be used with --proxy envoy: the agent must keep serving Envoy")
	case o.SDSSocket == "":
		return errors.New("--proxy envoy needs --sds-socket: Envoy gets its certificates over SDS")
	case o.Bootstrap.PodName == "":
		return errors.New("--proxy envoy needs the pod name for the node id: set --pod-name or POD_NAME")
	case e.StatusPort < 0 || e.StatusPort > 65535:
		return fmt.Errorf("--status-port %d: want 1-65535", e.StatusPort)
	case e.AdminPort < 0 || e.AdminPort > 65535:
		return fmt.Errorf("admin port %d: want 1-65535", e.AdminPort)
	case e.DrainDuration < 0:
		return fmt.Errorf("--drain-duration %s is negative", e.DrainDuration)
	case e.ParentShutdownDuration < 0:
		return fmt.Errorf("--parent-shutdown-duration %s is negative", e.ParentShutdownDuration)
	case e.EnvoyDrainDuration < 0:
		return fmt.Errorf("--proxy-drain-duration %s is negative", e.EnvoyDrainDuration)
	case e.Concurrency < 0:
		return fmt.Errorf("--concurrency %d is negative", e.Concurrency)
	}
	if err := checkEnvoyLogLevels(e.LogLevel, e.ComponentLogLevel); err != nil {
		return err
	}
	for i, ip := range o.Bootstrap.InstanceIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("--instance-ips[%d] %q (INSTANCE_IPS): not an IP address", i, ip)
		}
	}
	if _, err := parseAppProbers(e.AppProbers); err != nil {
		return err
	}
	return nil
}

// envoyLogLevels are the levels Envoy's --log-level and --component-log-level accept.
var envoyLogLevels = []string{"trace", "debug", "info", "warning", "warn", "error", "critical", "off"}

// checkEnvoyLogLevels refuses what Envoy would refuse to start with, but
// for logger names, which depend on the Envoy build.
func checkEnvoyLogLevels(level, components string) error {
	if level != "" && !slices.Contains(envoyLogLevels, level) {
		return fmt.Errorf("--proxy-log-level %q: want one of %s", level, strings.Join(envoyLogLevels, ", "))
	}
	if components == "" {
		return nil
	}
	for _, pair := range strings.Split(components, ",") {
		name, lvl, ok := strings.Cut(pair, ":")
		if !ok || name == "" || !slices.Contains(envoyLogLevels, lvl) {
			return fmt.Errorf("--proxy-component-log-level %q: want component:level,... with levels %s", components, strings.Join(envoyLogLevels, ", "))
		}
	}
	return nil
}
