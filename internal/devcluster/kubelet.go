package devcluster

import (
	"os"
	"path/filepath"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	componentbase "k8s.io/component-base/config/v1alpha1"
	kubeproxy "k8s.io/kube-proxy/config/v1alpha1"
	kubelet "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// RealNodeName is the name of the real node's Node object.
const RealNodeName = "loom-node"

// kubeletSettings are what the kubelet's configuration depends on.
type kubeletSettings struct {
	Net           nodeNetwork
	Port          int
	HealthzPort   int
	ClientCAFile  string
	RuntimeSocket string
	CgroupRoot    string
	PodLogsDir    string
}

// kubeletConfig renders the KubeletConfiguration. Facts of this machine it encodes: cgroup v1
// (failCgroupV1: false, the cgroupfs driver); kernel defaults preset by the node and left
// alone (protectKernelDefaults); no CAP_SYS_RESOURCE (oomScoreAdj 0).
func kubeletConfig(s kubeletSettings) ([]byte, error) {
	cfg := kubelet.KubeletConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		Address:            s.Net.Gateway.String(),
		Port:               int32(s.Port),
		ReadOnlyPort:       0,
		HealthzBindAddress: "127.0.0.1",
		HealthzPort:        ptr.To(int32(s.HealthzPort)),
		Authentication: kubelet.KubeletAuthentication{
			Anonymous: kubelet.KubeletAnonymousAuthentication{Enabled: ptr.To(false)},
			Webhook:   kubelet.KubeletWebhookAuthentication{Enabled: ptr.To(false)},
			X509:      kubelet.KubeletX509Authentication{ClientCAFile: s.ClientCAFile},
		},
		// Only kube-apiserver holds a certificate the kubelet accepts.
		Authorization:            kubelet.KubeletAuthorization{Mode: kubelet.KubeletAuthorizationModeAlwaysAllow},
		ContainerRuntimeEndpoint: "unix://" + s.RuntimeSocket,
		CgroupDriver:             "cgroupfs",
		CgroupRoot:               s.CgroupRoot,
		CgroupsPerQOS:            ptr.To(true),
		FailCgroupV1:             ptr.To(false),
		FailSwapOn:               ptr.To(false),
		ProtectKernelDefaults:    true,
		OOMScoreAdj:              ptr.To(int32(0)),
		ClusterDomain:            "cluster.local",
		ClusterDNS:               []string{clusterDNSIP},
		PodLogsDir:               s.PodLogsDir,
		// A developer machine's disk is not the node's to police.
		EvictionHard:                 map[string]string{"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
		ImageGCHighThresholdPercent:  ptr.To(int32(100)),
		ImageGCLowThresholdPercent:   ptr.To(int32(99)),
		SerializeImagePulls:          ptr.To(false),
		RotateCertificates:           false,
		ServerTLSBootstrap:           false,
		MaxPods:                      110,
		MakeIPTablesUtilChains:       ptr.To(true),
		ResolverConfig:               ptr.To("/etc/resolv.conf"),
		EnableControllerAttachDetach: ptr.To(true),
	}
	return yaml.Marshal(cfg)
}

// kubeProxyConfig renders kube-proxy's configuration: iptables mode, nothing bound outside
// loopback, and no conntrack sysctl changed (zero values leave them as they are).
func kubeProxyConfig(n nodeNetwork, kubeconfig string, healthzPort, metricsPort int) ([]byte, error) {
	cfg := kubeproxy.KubeProxyConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: "kubeproxy.config.k8s.io/v1alpha1", Kind: "KubeProxyConfiguration"},
		ClientConnection:   componentbase.ClientConnectionConfiguration{Kubeconfig: kubeconfig},
		HostnameOverride:   RealNodeName,
		BindAddress:        n.Gateway.String(),
		HealthzBindAddress: "127.0.0.1:" + strconv.Itoa(healthzPort),
		MetricsBindAddress: "127.0.0.1:" + strconv.Itoa(metricsPort),
		Mode:               "iptables",
		IPTables:           kubeproxy.KubeProxyIPTablesConfiguration{LocalhostNodePorts: ptr.To(false), MasqueradeBit: ptr.To(int32(14))},
		ClusterCIDR:        n.Subnet.String(),
		NodePortAddresses:  []string{n.Subnet.String()},
		OOMScoreAdj:        ptr.To(int32(0)),
		Conntrack: kubeproxy.KubeProxyConntrackConfiguration{
			MaxPerCore:            ptr.To(int32(0)),
			Min:                   ptr.To(int32(0)),
			TCPEstablishedTimeout: &metav1.Duration{},
			TCPCloseWaitTimeout:   &metav1.Duration{},
		},
	}
	return yaml.Marshal(cfg)
}

func writeConfig(path string, render func() ([]byte, error)) error {
	data, err := render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
