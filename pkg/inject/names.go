package inject

import (
	"istio.io/api/annotation"
	"istio.io/api/label"
)

// Labels and annotations read or written, with Istio's names.
var (
	labelRev                 = label.IoIstioRev.Name
	labelSidecarInject       = label.SidecarInject.Name
	labelTLSMode             = label.SecurityTlsMode.Name
	labelCanonicalName       = label.ServiceCanonicalName.Name
	labelCanonicalRevision   = label.ServiceCanonicalRevision.Name
	annotationSidecarInject  = annotation.SidecarInject.Name
	annotationStatus         = annotation.SidecarStatus.Name
	annotationTemplates      = annotation.InjectTemplates.Name
	annotationProxyConfig    = annotation.ProxyConfig.Name
	annotationRewriteProbes  = annotation.SidecarRewriteAppHTTPProbers.Name
	annotationProxyCPU       = annotation.SidecarProxyCPU.Name
	annotationProxyMemory    = annotation.SidecarProxyMemory.Name
	annotationProxyCPULimit  = annotation.SidecarProxyCPULimit.Name
	annotationProxyMemLimit  = annotation.SidecarProxyMemoryLimit.Name
	annotationIncludeOutCIDR = annotation.SidecarTrafficIncludeOutboundIPRanges.Name
	annotationExcludeOutCIDR = annotation.SidecarTrafficExcludeOutboundIPRanges.Name
	annotationIncludeInPorts = annotation.SidecarTrafficIncludeInboundPorts.Name
	annotationExcludeInPorts = annotation.SidecarTrafficExcludeInboundPorts.Name
	annotationIncludeOutPort = annotation.SidecarTrafficIncludeOutboundPorts.Name
	annotationExcludeOutPort = annotation.SidecarTrafficExcludeOutboundPorts.Name
	annotationRev            = annotation.IoIstioRev.Name
	annotationInterception   = annotation.SidecarInterceptionMode.Name
	annotationStatusPort     = annotation.SidecarStatusPort.Name
	annotationReadyDelay     = annotation.SidecarStatusReadinessInitialDelaySeconds.Name
	annotationReadyPeriod    = annotation.SidecarStatusReadinessPeriodSeconds.Name
	annotationReadyFailures  = annotation.SidecarStatusReadinessFailureThreshold.Name
	annotationLogLevel       = annotation.SidecarLogLevel.Name
	annotationComponentLog   = annotation.SidecarComponentLogLevel.Name
	annotationAgentLog       = annotation.SidecarAgentLogLevel.Name
)

const (
	// labelInjection is the namespace label istio-injection=enabled|disabled.
	labelInjection = "istio-injection"

	labelAppName    = "app.kubernetes.io/name"
	labelApp        = "app"
	labelAppVersion = "app.kubernetes.io/version"
	labelVersion    = "version"

	annotationDefaultContainer     = "kubectl.kubernetes.io/default-container"
	annotationDefaultLogsContainer = "kubectl.kubernetes.io/default-logs-container"

	defaultRevisionName = "default"
)

// Template names (annotation inject.istio.io/templates).
const (
	TemplateSidecar   = "sidecar"
	TemplateGRPCAgent = "grpc-agent"
)

// Containers and volumes added, with Istio's names.
const (
	containerInit      = "istio-init"
	containerProxy     = "istio-proxy"
	containerAgentInit = "istio-agent-init"

	volumeToken  = "istio-token"
	volumeCARoot = "istiod-ca-cert"
	volumeLoom   = "loom"
)

// Paths and ports the agent, Envoy and the app agree on.
const (
	tokenDir      = "/var/run/secrets/tokens"
	caRootDir     = "/var/run/secrets/istio"
	loomDir       = "/var/run/loom"
	certsDir      = loomDir + "/certs"
	bootstrapPath = loomDir + "/bootstrap.json"
	readyFile     = loomDir + "/ready"

	tokenAudience   = "istio-ca"
	tokenPath       = "istio-token"
	tokenTTLSeconds = 3600
	caRootConfigMap = "istio-ca-root-cert"

	proxyUID = 1337

	defaultStatusPort = 15020 // the agent: app probes, /healthz/ready (status.sidecar.istio.io/port)
	readinessPort     = 15021 // Envoy's listener routed to the agent's readiness
	prometheusPort    = 15090
	envoyAdminPort    = 15000
	outboundPort      = 15001
	inboundPort       = 15006

	// Istio's defaults of the istio-proxy readiness probe (values
	// global.proxy.readiness*), which readiness.status.sidecar.istio.io/* override.
	defaultReadyPeriodSeconds    = 15
	defaultReadyFailureThreshold = 4

	envAppProbers    = "ISTIO_KUBE_APP_PROBERS"
	envGRPCBootstrap = "GRPC_XDS_BOOTSTRAP"
)

// ignoredNamespaces are never injected (Istio's IgnoredNamespaces).
var ignoredNamespaces = map[string]bool{
	"kube-system":        true,
	"kube-public":        true,
	"kube-node-lease":    true,
	"local-path-storage": true,
}
