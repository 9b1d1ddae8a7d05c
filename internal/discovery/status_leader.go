package discovery

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// StatusLeaseName is the Lease the replica that writes status holds: one writer per cluster,
// whatever the number of replicas and revisions, so replicas that count different proxies
// do not overwrite each other's status back and forth.
const StatusLeaseName = "loom-discovery-status"

// runWhileLeading runs lead (the status writer's run) while this replica holds the status
// Lease in namespace, campaigning again whenever it loses it, until ctx is done.
func runWhileLeading(ctx context.Context, client kubernetes.Interface, namespace, identity string, log logr.Logger, lead func(context.Context) error) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: StatusLeaseName, Namespace: namespace},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	for ctx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, Name: StatusLeaseName, ReleaseOnCancel: true,
			LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					log.Info("holding the status Lease; writing status", "lease", namespace+"/"+StatusLeaseName)
					if err := lead(ctx); err != nil {
						log.Error(err, "status writer stopped")
					}
				},
				OnStoppedLeading: func() { log.Info("not holding the status Lease; another replica writes status") },
			},
		})
		if err != nil {
			return err
		}
		elector.Run(ctx)
	}
	return nil
}
