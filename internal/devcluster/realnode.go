package devcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RealNodeOptions configure the real node: kubelet, containerd and kube-proxy on this
// machine, pods on a private bridge that no packet leaves, and cluster DNS.
type RealNodeOptions struct {
	// Images are image tarballs imported into the node's containerd before it is Ready, so
	// that pods with imagePullPolicy IfNotPresent start without a registry.
	Images []string
}

// realNode is the host side of the real node.
type realNode struct {
	assets string
	net    nodeNetwork
	host   *hostChanges // firewall, kernel settings, bridge, folders: undone last
	// runtime is what the pods leave (containers, shims, mounts, namespaces): undone before
	// kube-apiserver stops, because the pods' watches would hold up its shutdown, and the
	// host after it, because it listens on the bridge.
	runtime *hostChanges
	lock    *os.File
	certs   *nodeCerts
	paths   containerdPaths
}

// nodeCgroupRoot is the cgroup under which the kubelet puts every pod, in each hierarchy.
const nodeCgroupRoot = "loom-node"

// requiredHostTools are the Debian packages' commands the node runs.
var requiredHostTools = []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip6tables", "nft", "conntrack", "ip"}

// prepareRealNode takes the machine's lock and sets up the host: firewall snapshot, kernel
// settings, bridge, egress guard, certificates. It runs before kube-apiserver starts,
// because kube-apiserver listens on the bridge's address.
func prepareRealNode(ctx context.Context, dir string) (*realNode, error) {
	assets, err := FindNodeAssets()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, tool := range requiredHostTools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the real node needs %s on PATH (Debian packages containerd, runc, iptables, nftables, conntrack, iproute2; `make node-binaries` installs them)", strings.Join(missing, ", "))
	}
	lock, err := lockRealNode(ctx, realNodeLockFile, dir, reaperCleanupWait)
	if err != nil {
		return nil, err
	}
	return &realNode{
		assets: assets, lock: lock,
		host:    newHostChanges(filepath.Join(dir, "undo-host.sh")),
		runtime: newHostChanges(filepath.Join(dir, "undo-runtime.sh")),
	}, nil
}

func (n *realNode) setUpHost(dir string) error {
	inUse, err := hostPrefixesInUse()
	if err != nil {
		return err
	}
	if n.net, err = pickNodeNetwork(inUse); err != nil {
		return err
	}
	if err := setUpNodeNetwork(n.host, n.net, filepath.Join(dir, "firewall-before.nft")); err != nil {
		return err
	}
	// Preset what the kubelet insists on (protectKernelDefaults), and what pod networking
	// needs; keep what a component may change on its own.
	for _, kv := range [][2]string{
		{"net.ipv4.ip_forward", "1"},
		{"net.bridge.bridge-nf-call-iptables", "1"},
		{"net.bridge.bridge-nf-call-ip6tables", "1"},
		{"vm.overcommit_memory", "1"},
		{"vm.panic_on_oom", "0"},
		{"kernel.panic", "10"},
		{"kernel.panic_on_oops", "1"},
	} {
		if err := n.host.setSysctl(kv[0], kv[1]); err != nil {
			return err
		}
	}
	for _, key := range []string{
		"kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes", "net.ipv4.conf.all.route_localnet",
		"net.ipv6.conf.all.forwarding", "net.netfilter.nf_conntrack_max",
		"net.netfilter.nf_conntrack_tcp_timeout_established", "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
	} {
		if err := n.host.keepSysctl(key); err != nil {
			return err
		}
	}
	// Folders the kubelet and the runtime use whatever they are told.
	for _, d := range []string{"/var/lib/kubelet", "/var/log/containers", "/var/lib/cni", "/run/containerd"} {
		if err := n.host.ensureDir(d); err != nil {
			return err
		}
	}
	if err := n.host.ensureSharedDir("/var/run/netns"); err != nil {
		return err
	}
	if n.certs, err = writeNodeCerts(filepath.Join(dir, "certs"), []net.IP{net.IP(n.net.Gateway.AsSlice())}); err != nil {
		return err
	}
	return nil
}

// configureAPIServer makes kube-apiserver reachable from pods: it listens on and advertises the
// bridge's address with a certificate for the `kubernetes` Service, reaches the kubelet by
// its address with a client certificate, and mounts ServiceAccount tokens into pods.
func (n *realNode) configureAPIServer(api *envtest.APIServer) error {
	// envtest picks loopback unless given both address and port.
	ports, err := freePorts(n.net.Gateway.String(), 1)
	if err != nil {
		return fmt.Errorf("finding a port for kube-apiserver on %s: %w", n.net.Gateway, err)
	}
	api.SecureServing.Address = n.net.Gateway.String()
	api.SecureServing.Port = strconv.Itoa(ports[0])
	api.SecureServing.CA = n.certs.caPEM
	args := api.Configure()
	args.Set("advertise-address", n.net.Gateway.String())
	args.Set("kubelet-preferred-address-types", "InternalIP")
	args.Set("kubelet-client-certificate", n.certs.KubeletClientCertFile)
	args.Set("kubelet-client-key", n.certs.KubeletClientKeyFile)
	args.Disable("disable-admission-plugins")
	return nil
}

// recordRuntimeUndo records how to stop what the runtime leaves behind when killed: the
// containers (every process in the node's cgroups), the runtime shims (they outlive
// containerd by design), mounts under the cluster folder, and the pods' network namespaces.
func (n *realNode) recordRuntimeUndo(dir string) error {
	before, _ := filepath.Glob("/var/run/netns/cni-*")
	for i := range before {
		before[i] = filepath.Base(before[i])
	}
	cg := "/sys/fs/cgroup/*/" + nodeCgroupRoot
	script := fmt.Sprintf(`d=%[1]s
for f in $(find %[2]s -name cgroup.procs 2>/dev/null); do cat "$f"; done | sort -u | xargs -r kill -KILL 2>/dev/null
shims() { for p in /proc/[0-9]*; do tr '\0' '\n' < "$p/cmdline" 2>/dev/null | grep -qxF %[3]s && echo "${p#/proc/}"; done; }
i=0
while [ -n "$(shims)" ] && [ $i -lt 50 ]; do shims | xargs -r kill -KILL 2>/dev/null; i=$((i+1)); sleep 0.1; done
[ -z "$(shims)" ] || echo "runtime shims still running" >&2
i=0
while awk '{print $5}' /proc/self/mountinfo | grep -qF "$d/" && [ $i -lt 50 ]; do
  awk '{print $5}' /proc/self/mountinfo | grep -F "$d/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
  i=$((i+1)); sleep 0.1
done
for ns in /var/run/netns/cni-*; do
  [ -e "$ns" ] || continue
  case " %[4]s " in *" ${ns##*/} "*) continue;; esac
  umount "$ns" 2>/dev/null; rm -f "$ns"
done
for c in %[2]s; do
  [ -d "$c" ] || continue
  i=0
  until find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || [ $i -ge 50 ]; do i=$((i+1)); sleep 0.1; done
done
! awk '{print $5}' /proc/self/mountinfo | grep -qF "$d/" && ! ls -d %[2]s >/dev/null 2>&1`,
		shellQuote(dir), cg, shellQuote(n.paths.Socket), strings.Join(before, " "))
	return n.runtime.record("containers, runtime shims, mounts and network namespaces of the node", script)
}

func createCgroupRoot() error {
	hierarchies, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return err
	}
	for _, h := range hierarchies {
		if !h.IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Join("/sys/fs/cgroup", h.Name(), nodeCgroupRoot), 0o755); err != nil {
			return fmt.Errorf("creating the node's cgroup in %s: %w", h.Name(), err)
		}
	}
	return nil
}

// startRealNode starts containerd, the kubelet and kube-proxy and waits for the Node to be
// Ready; then cluster DNS.
func (c *Cluster) startRealNode(ctx context.Context, opts RealNodeOptions) error {
	n := c.node
	n.paths = newContainerdPaths(c.Dir, filepath.Join(n.assets, "cni"))
	if err := n.recordRuntimeUndo(c.Dir); err != nil {
		return err
	}
	if err := createCgroupRoot(); err != nil {
		return err
	}
	images, err := nodeImages(n.assets, filepath.Join(c.Dir, "images"))
	if err != nil {
		return err
	}
	if err := c.startContainerd(ctx, n.paths, n.net, images.Pause); err != nil {
		return err
	}
	if err := importImages(ctx, n.paths.Socket, append(images.Tarballs, opts.Images...)); err != nil {
		return err
	}
	ports, err := freePorts("127.0.0.1", 4)
	if err != nil {
		return err
	}
	kubeletDir := filepath.Join(c.Dir, "kubelet")
	kubeletConf := filepath.Join(kubeletDir, "config.yaml")
	if err := writeConfig(kubeletConf, func() ([]byte, error) {
		return kubeletConfig(kubeletSettings{
			Net: n.net, Port: ports[0], HealthzPort: ports[1], ClientCAFile: n.certs.CAFile,
			RuntimeSocket: n.paths.Socket, CgroupRoot: "/" + nodeCgroupRoot, PodLogsDir: filepath.Join(c.Dir, "pod-logs"),
		})
	}); err != nil {
		return err
	}
	if err := c.startComponent("kubelet", filepath.Join(n.assets, "kubelet"),
		"--config="+kubeletConf, "--kubeconfig="+c.KubeconfigPath, "--root-dir="+kubeletDir,
		"--cert-dir="+filepath.Join(kubeletDir, "pki"), "--hostname-override="+RealNodeName,
		"--node-ip="+n.net.Gateway.String(), "--node-labels=loom.dev/real-node=true", "--v=2"); err != nil {
		return err
	}
	proxyConf := filepath.Join(c.Dir, "kube-proxy", "config.yaml")
	if err := writeConfig(proxyConf, func() ([]byte, error) {
		return kubeProxyConfig(n.net, c.KubeconfigPath, ports[2], ports[3])
	}); err != nil {
		return err
	}
	if err := c.startComponent("kube-proxy", filepath.Join(n.assets, "kube-proxy"), "--config="+proxyConf, "--v=2"); err != nil {
		return err
	}
	clientset, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	if err := c.waitUntil(ctx, "the real node Ready", func(ctx context.Context) (bool, error) {
		node, err := clientset.CoreV1().Nodes().Get(ctx, RealNodeName, metav1.GetOptions{})
		if err != nil {
			return false, nil //nolint:nilerr // the kubelet registers it shortly
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	return c.startClusterDNS(ctx, clientset, images.CoreDNS)
}

// stopPods ends what the pods left behind; the node's processes are stopped by then.
func (c *Cluster) stopPods() error { return c.node.runtime.revert() }

// stopRealNode puts the host back and releases the machine's lock, once kube-apiserver has
// stopped.
func (c *Cluster) stopRealNode() error {
	n := c.node
	err := n.host.revert()
	if n.lock != nil {
		err = errors.Join(err, n.lock.Close())
		n.lock = nil
	}
	return err
}

// NodeNetwork returns the real node's pod subnet and gateway, or false without a real node.
func (c *Cluster) NodeNetwork() (subnet, gateway string, ok bool) {
	if c.node == nil {
		return "", "", false
	}
	return c.node.net.Subnet.String(), c.node.net.Gateway.String(), true
}

// EgressGuardDrops is the number of pod packets the egress guard has dropped.
func (c *Cluster) EgressGuardDrops() (int, error) { return egressGuardDrops() }

// freePorts returns n ports free on host, held open together so that they differ.
func freePorts(host string, n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
