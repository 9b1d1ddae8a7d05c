package meshca

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A namespace whose ConfigMap could not be written is tried again soon, not left with the
// old bundle until the periodic resync.
func TestRootPublisherRetriesAFailedWrite(t *testing.T) {
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web"}})
	var refused atomic.Int32
	client.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		// Two: a namespace's own informer event can bring one more write after the first.
		if refused.Add(1) <= 2 {
			return true, nil, errors.New("the apiserver did not answer")
		}
		return false, nil, nil
	})
	p := &rootPublisher{client: client, log: testr.New(t)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx)
	p.publish([]byte("root"))

	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		cm, err := client.CoreV1().ConfigMaps("web").Get(ctx, rootConfigMapName, metav1.GetOptions{})
		return err == nil && cm.Data["root-cert.pem"] == "root", nil
	})
	if err != nil || refused.Load() < 3 {
		t.Fatalf("after refused writes (%d tried), namespace web never got the trust bundle: %v", refused.Load(), err)
	}
}
