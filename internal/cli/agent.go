package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"loom.dev/loom/internal/agent"
	"loom.dev/loom/internal/version"
)

// runAgent is agent.Run; tests replace it to see the options.
var runAgent = agent.Run

// agentLabelsEnv holds the pod labels as a JSON object, as Istio's injector
// passes them to its agent.
const agentLabelsEnv = "ISTIO_METAJSON_LABELS"

func newAgentCommand() *cobra.Command {
	var (
		opts         agent.Options
		keyAlgorithm string
		envoy        agent.EnvoyOptions
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the workload agent: key, CSR to the mesh CA, renewal; certificate files, SDS for Envoy, xDS bootstrap for proxyless gRPC",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.KeyAlgorithm = agent.KeyAlgorithm(keyAlgorithm)
			if !cmd.Flags().Changed("labels") {
				labels, err := agentLabelsFromEnv()
				if err != nil {
					return err
				}
				opts.Bootstrap.Labels = labels
			}
			switch opts.Proxy {
			case agent.ProxyEnvoy:
				envoy.AppProbers = os.Getenv(agent.AppProbersEnv)
				opts.Envoy = envoy
			case agent.ProxyGateway:
				opts.Envoy.XDSProxySocket = envoy.XDSProxySocket
			}
			opts.Logger = ctrl.Log.WithName("agent")
			opts.Logger.Info("starting agent", "version", version.Version)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := runAgent(ctx, opts)
			var exit *agent.ProxyExitError
			if errors.As(err, &exit) {
				// As Istio's agent: exit with Envoy's status; the kubelet restarts the container.
				opts.Logger.Error(err, "exiting with Envoy's status", "status", exit.Code)
				stop()
				os.Exit(exit.Code)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.TrustDomain, "trust-domain", agentEnv("TRUST_DOMAIN", "cluster.local"), "Trust domain of the workload's SPIFFE id; defaults to $TRUST_DOMAIN")
	f.StringVar(&opts.Namespace, "namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the workload; defaults to $POD_NAMESPACE")
	f.StringVar(&opts.ServiceAccount, "service-account", os.Getenv("SERVICE_ACCOUNT"), "Service account of the workload; defaults to $SERVICE_ACCOUNT")
	f.StringVar(&keyAlgorithm, "key-algorithm", string(agent.RSA2048), "Workload key: RSA2048 or ECDSA_P256 (a new key for every certificate)")
	f.StringVar(&opts.CAAddress, "ca-address", os.Getenv("CA_ADDR"), "host:port of the CA (istio.v1.auth.IstioCertificateService over TLS); defaults to $CA_ADDR")
	f.StringVar(&opts.CARootFile, "ca-root-file", "/var/run/secrets/istio/root-cert.pem", "PEM roots that verify the CA's serving certificate")
	f.StringVar(&opts.CAServerName, "ca-server-name", "", "Name the CA's serving certificate must carry; defaults to the host of --ca-address")
	f.StringVar(&opts.TokenFile, "token-file", "/var/run/secrets/tokens/istio-token", "Bearer token sent to the CA, read again for every request")
	f.StringVar(&opts.ClusterID, "cluster-id", agentEnv("ISTIO_META_CLUSTER_ID", "Kubernetes"), "Cluster id sent to the CA; defaults to $ISTIO_META_CLUSTER_ID")
	f.DurationVar(&opts.CertTTL, "cert-ttl", agent.DefaultCertTTL, "Certificate validity asked of the CA; renewed at half of it")
	f.DurationVar(&opts.RequestTimeout, "request-timeout", agent.DefaultRequestTimeout, "Timeout of one request to the CA")
	f.StringVar(&opts.OutputDir, "output-dir", "", "Directory to write cert-chain.pem, key.pem and root-cert.pem to (0640: owner and the pod's fsGroup; atomically)")
	f.StringVar(&opts.SDSSocket, "sds-socket", "", "Unix socket to serve Envoy SDS on (secrets default and ROOTCA)")
	f.StringVar(&opts.GRPCBootstrap, "grpc-bootstrap", "", "File to write the proxyless gRPC xDS bootstrap to (for GRPC_XDS_BOOTSTRAP); needs --output-dir")
	f.StringVar(&opts.Bootstrap.XDSAddress, "xds-address", os.Getenv("XDS_ADDRESS"), "xDS server for the gRPC bootstrap (plaintext); defaults to $XDS_ADDRESS")
	f.StringVar(&opts.Bootstrap.PodName, "pod-name", os.Getenv("POD_NAME"), "Pod name for the gRPC bootstrap node id; defaults to $POD_NAME")
	f.StringSliceVar(&opts.Bootstrap.InstanceIPs, "instance-ips", agentInstanceIPs(), "Pod IPs for the gRPC bootstrap; defaults to $INSTANCE_IPS, else $INSTANCE_IP")
	f.StringToStringVar(&opts.Bootstrap.Labels, "labels", nil, "Pod labels for the gRPC bootstrap (k=v,...); defaults to the JSON object in $"+agentLabelsEnv)
	f.StringVar(&opts.Bootstrap.Revision, "revision", "", "Control-plane revision for the gRPC bootstrap (ISTIO_REVISION metadata)")
	f.DurationVar(&opts.Bootstrap.RefreshInterval, "grpc-cert-refresh", agent.DefaultRefreshInterval, "How often gRPC re-reads the certificate files")
	f.StringVar(&opts.ReadyFile, "ready-file", "", "File written once the first certificate is published")
	f.BoolVar(&opts.WatchTrustBundle, "watch-trust-bundle", true, "Subscribe to the mesh's trust bundle (Istio's PCDS) at --ca-address and serve every new one at once (a root rotation waits for every agent to acknowledge it)")
	f.StringVar(&opts.Proxy, "proxy", "", "Data plane to serve: \"envoy\" (write Envoy's bootstrap, proxy its xDS to --ca-address, serve --status-port, supervise --proxy-binary), \"gateway\" (an Envoy in another container: proxy its xDS from --xds-proxy-socket to --ca-address and serve --sds-socket) or nothing")
	f.StringVar(&envoy.BootstrapPath, "envoy-bootstrap", agent.DefaultEnvoyBootstrap, "With --proxy envoy: file to write the Envoy bootstrap to")
	f.StringVar(&envoy.Binary, "proxy-binary", agent.DefaultProxyBinary, "With --proxy envoy: Envoy's executable")
	f.StringVar(&envoy.XDSProxySocket, "xds-proxy-socket", agent.DefaultXDSProxySocket, "With --proxy envoy or gateway: Unix socket Envoy's ADS goes to; forwarded over TLS to --ca-address with the pod's token")
	f.IntVar(&envoy.StatusPort, "status-port", agent.DefaultStatusPort, "With --proxy envoy: port of /healthz/ready and /app-health/<container>/livez|readyz|startupz (from $"+agent.AppProbersEnv+")")
	f.DurationVar(&envoy.DrainDuration, "drain-duration", agent.DefaultDrainDuration, "With --proxy envoy: on SIGTERM, how long Envoy drains its inbound listeners before it is stopped")
	f.DurationVar(&envoy.ParentShutdownDuration, "parent-shutdown-duration", agent.DefaultParentShutdownDuration, "With --proxy envoy: Envoy's --parent-shutdown-time-s")
	f.DurationVar(&envoy.EnvoyDrainDuration, "proxy-drain-duration", 0, "With --proxy envoy: Envoy's --drain-time-s (Istio's ProxyConfig drainDuration); 0: --drain-duration")
	f.StringVar(&envoy.LogLevel, "proxy-log-level", "", "With --proxy envoy: Envoy's --log-level (trace, debug, info, warning, error, critical, off); empty: Envoy's default")
	f.StringVar(&envoy.ComponentLogLevel, "proxy-component-log-level", "", "With --proxy envoy: Envoy's --component-log-level (component:level,...); empty: Envoy's default")
	f.IntVar(&envoy.Concurrency, "concurrency", 0, "With --proxy envoy: Envoy's --concurrency (worker threads); 0: one per hardware thread")
	f.BoolVar(&opts.Once, "once", false, "Get one certificate, publish it and exit (for init containers)")
	return cmd
}

// agentEnv is the environment variable name, or def when it is unset or
// empty.
func agentEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func agentInstanceIPs() []string {
	ips := agentEnv("INSTANCE_IPS", os.Getenv("INSTANCE_IP"))
	if ips == "" {
		return nil
	}
	return strings.Split(ips, ",")
}

func agentLabelsFromEnv() (map[string]string, error) {
	data := os.Getenv(agentLabelsEnv)
	if data == "" {
		return nil, nil
	}
	var labels map[string]string
	if err := json.Unmarshal([]byte(data), &labels); err != nil {
		return nil, fmt.Errorf("$%s: want a JSON object of strings: %w", agentLabelsEnv, err)
	}
	return labels, nil
}
