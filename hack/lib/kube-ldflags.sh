# kube_ldflags VERSION prints the -X flags that stamp a Kubernetes version into its binaries.
# hack/k8s-binaries.sh and hack/node-binaries.sh build with the same flags, so that the
# packages kubelet and kube-proxy share with the control plane come from the build cache.
kube_ldflags() {
  local version=$1 minor flags="" pkg
  minor=${version#v1.}; minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  done
  echo "$flags"
}
