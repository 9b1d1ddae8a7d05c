package devcluster

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func TestDeploymentBecomesAvailable(t *testing.T) {
	ctx := t.Context()
	c, err := Start(ctx, Options{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	cs := kubernetes.NewForConfigOrDie(c.Config)

	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.invalid/web:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
				return d.Status.ReadyReplicas == 2, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("deployment never became Available with 2 ready replicas: %v", err)
	}
	pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "kwok-node-0" || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("pod %s: node %q phase %s ip %q; want scheduled on kwok-node-0, Running, with an IP", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP)
		}
	}

	pids, err := childrenRunning(c.assets)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids) < 5 {
		t.Fatalf("expected etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok running, found pids %v", pids)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, pids, c.Dir)
}

// TestOwnerKilledLeavesNothingBehind runs a cluster in a child process, kills that process
// with SIGKILL (as `go test -timeout` or a crash would) and checks that the reaper removes
// every component and the cluster folder.
func TestOwnerKilledLeavesNothingBehind(t *testing.T) {
	if os.Getenv("LOOM_TEST_CLUSTER_OWNER") == "1" {
		runClusterOwner()
		return
	}
	owner := exec.Command(os.Args[0], "-test.run=^TestOwnerKilledLeavesNothingBehind$")
	owner.Env = append(os.Environ(), "LOOM_TEST_CLUSTER_OWNER=1")
	owner.Stderr = os.Stderr
	out, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Process.Kill(); _ = owner.Wait() })

	var pids []int
	var dir string
	scanner := bufio.NewScanner(out)
	for scanner.Scan() {
		line := scanner.Text()
		if rest, ok := strings.CutPrefix(line, "dir "); ok {
			dir = rest
		}
		if rest, ok := strings.CutPrefix(line, "pids "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) < 5 || dir == "" {
		t.Fatalf("cluster owner did not report its cluster (pids %v, dir %q)", pids, dir)
	}
	if err := owner.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = owner.Wait()
	assertGone(t, pids, dir)
}

func runClusterOwner() {
	c, err := Start(context.Background(), Options{Nodes: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting cluster:", err)
		os.Exit(1)
	}
	pids, err := childrenRunning(c.assets)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("dir %s\npids %s\n", c.Dir, strings.Trim(fmt.Sprint(pids), "[]"))
	select {} // wait to be killed
}

func assertGone(t *testing.T, pids []int, dir string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		for _, pid := range pids {
			if processAlive(pid) {
				return false, nil
			}
		}
		_, err := os.Stat(dir)
		return os.IsNotExist(err), nil
	})
	if err != nil {
		var left []int
		for _, pid := range pids {
			if processAlive(pid) {
				left = append(left, pid)
			}
		}
		t.Fatalf("cluster left behind processes %v or folder %s", left, dir)
	}
}
