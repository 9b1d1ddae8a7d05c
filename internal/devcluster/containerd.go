package devcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// containerdPaths are the real node's container runtime folders, all inside the cluster folder.
type containerdPaths struct {
	Root, State, Socket, RuncRoot, Config string
	CNIBin, CNIConf, CNIData              string
}

func newContainerdPaths(clusterDir, cniBin string) containerdPaths {
	d := filepath.Join(clusterDir, "containerd")
	return containerdPaths{
		Root:     filepath.Join(d, "root"),
		State:    filepath.Join(d, "state"),
		Socket:   filepath.Join(d, "containerd.sock"),
		RuncRoot: filepath.Join(d, "runc"),
		Config:   filepath.Join(d, "config.toml"),
		CNIBin:   cniBin,
		CNIConf:  filepath.Join(clusterDir, "cni", "net.d"),
		CNIData:  filepath.Join(clusterDir, "cni", "ipam"),
	}
}

// containerdConfig renders containerd 1.6's configuration (version 2) for the node.
// restrict_oom_score_adj: the machine lacks CAP_SYS_RESOURCE, and without it every sandbox
// fails with "can't get final child's PID from pipe".
func containerdConfig(p containerdPaths, sandboxImage string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf(`version = 2
root = %s
state = %s
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = %s

[ttrpc]
  address = %s

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %s
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s
    max_conf_num = 1

[plugins."io.containerd.internal.v1.opt"]
  path = %s
`, q(p.Root), q(p.State), q(p.Socket), q(p.Socket+".ttrpc"), q(sandboxImage), q(p.RuncRoot),
		q(p.CNIBin), q(p.CNIConf), q(filepath.Join(filepath.Dir(p.Root), "opt")))
}

// cniConfig renders the pod network: the node's bridge with host-local addresses from its
// subnet, no masquerading (nothing may leave the machine), and port mappings.
func cniConfig(n nodeNetwork, ipamDir string) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "loom",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      n.Bridge,
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": ipamDir,
					"ranges":  [][]map[string]string{{{"subnet": n.Subnet.String(), "gateway": n.Gateway.String()}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

func (c *Cluster) startContainerd(ctx context.Context, p containerdPaths, n nodeNetwork, sandboxImage string) error {
	for _, d := range []string{p.Root, p.State, p.RuncRoot, p.CNIConf, p.CNIData} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	cni, err := cniConfig(n, p.CNIData)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.CNIConf, "10-loom.conflist"), cni, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(p.Config, []byte(containerdConfig(p, sandboxImage)), 0o644); err != nil {
		return err
	}
	if err := c.startComponent("containerd", "containerd", "--config", p.Config); err != nil {
		return err
	}
	return c.waitUntil(ctx, "containerd", func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("unix", p.Socket, time.Second)
		if err != nil {
			return false, nil
		}
		_ = conn.Close()
		return true, nil
	})
}

// importImages loads image tarballs into the namespace the CRI plugin reads (k8s.io), so
// that pods with imagePullPolicy IfNotPresent start without a registry.
func importImages(ctx context.Context, socket string, tarballs []string) error {
	for _, tarball := range tarballs {
		out, err := exec.CommandContext(ctx, "ctr", "--address", socket, "-n", "k8s.io", "images", "import", tarball).CombinedOutput()
		if err != nil {
			return fmt.Errorf("importing image %s into the node's containerd: %w: %s", tarball, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
