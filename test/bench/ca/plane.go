package main

import (
	"os"
	"os/exec"
	"path/filepath"

	"loom.dev/loom/test/bench/benchkit"
)

// controlPlane is one control-plane process under test and the address of its CA.
type controlPlane struct {
	benchkit.Process
	caAddr string // the CSR API over TLS (port 15012 in a cluster)
}

// loomPlane is `loom discovery` with its mesh CA on a free loopback port, serving a
// certificate for the name istiod's has too.
//
// The kubeconfig comes through KUBECONFIG, not --kubeconfig: loom then loads it as it
// loads the in-cluster config (controller-runtime's lookup, no client-side rate limit),
// whereas --kubeconfig leaves client-go's default of 5 requests/s (burst 10), which
// would cap the CA at 5 TokenReviews, so 5 certificates, a second.
func loomPlane(bin, kubeconfig, dir string, kubeconfigFlag bool) (*controlPlane, error) {
	a, err := benchkit.FreeAddrs(3)
	if err != nil {
		return nil, err
	}
	xds, mon, secure := a[0], a[1], a[2]
	args := []string{"discovery"}
	env := append(benchkit.EnvWithoutKubeconfig(), "KUBECONFIG="+kubeconfig)
	name := "loom"
	if kubeconfigFlag {
		args, env, name = append(args, "--kubeconfig", kubeconfig), benchkit.EnvWithoutKubeconfig(), peerLoomKubeconfigFlag
	}
	cmd := exec.Command(bin, append(args,
		"--xds-address", xds, "--monitoring-address", mon, "--root-namespace", rootNamespace,
		"--secure-address", secure, "--ca-dns-names", caServerName+",localhost",
		"--cluster-id", clusterID, "--workload-cert-ttl", "24h")...)
	cmd.Env = env
	return &controlPlane{
		Process: benchkit.Process{Name: name, Cmd: cmd, ReadyURL: "http://" + mon + "/ready", LogPath: filepath.Join(dir, name+".log")},
		caAddr:  secure,
	}, nil
}

// istiodPlane is istiod with its defaults, or with its Kubernetes client's rate limit
// lifted (noQPSLimit), which is also the limit on its CA's TokenReviews.
func istiodPlane(bin, kubeconfig, dir string, noQPSLimit bool) (*controlPlane, error) {
	a, err := benchkit.FreeAddrs(5)
	if err != nil {
		return nil, err
	}
	grpcAddr, httpAddr, httpsAddr, secureGRPC, monitoring := a[0], a[1], a[2], a[3], a[4]
	name := peerIstiod
	var extra []string
	if noQPSLimit {
		name, extra = peerIstiodNoQPSLimit, []string{"--kubernetesApiQPS", "1000000", "--kubernetesApiBurst", "2000000"}
	}
	work := filepath.Join(dir, name+"-work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"discovery",
		"--kubeconfig", kubeconfig,
		"--grpcAddr", grpcAddr, "--httpAddr", httpAddr, "--httpsAddr", httpsAddr,
		"--secureGRPCAddr", secureGRPC, "--monitoringAddr", monitoring,
		"--meshConfig", filepath.Join(work, "mesh"), "--networksConfig", filepath.Join(work, "meshNetworks"),
		"--domain", trustDomain, "--clusterID", clusterID,
	}, extra...)...)
	cmd.Dir = work
	// JWT_POLICY defaults to third-party-jwt (TokenReview with audience istio-ca,
	// TOKEN_AUDIENCES), and the ClusterID header must equal --clusterID.
	cmd.Env = benchkit.IstiodEnv(rootNamespace)
	return &controlPlane{
		Process: benchkit.Process{Name: name, Cmd: cmd, ReadyURL: "http://" + httpAddr + "/ready", LogPath: filepath.Join(dir, name+".log")},
		caAddr:  secureGRPC,
	}, nil
}
