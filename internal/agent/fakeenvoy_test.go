package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/test/standinenvoy"
)

// The stand-in Envoy (package standinenvoy): the test binary re-executed
// with fakeEnvoyEnv set to a directory where it records what happens to it,
// ACKing listeners only once the test creates the file fakeEnvoyGoAck there.
const (
	fakeEnvoyEnv = "LOOM_TEST_FAKE_ENVOY"
	// fakeEnvoyExitEnv makes the stand-in exit with that status right after
	// recording its arguments.
	fakeEnvoyExitEnv = "LOOM_TEST_FAKE_ENVOY_EXIT"

	fakeEnvoyArgs     = "args.json"
	fakeEnvoyDrain    = "drain"      // the drain_listeners query, then the time
	fakeEnvoySIGTERM  = "sigterm"    // the time SIGTERM arrived
	fakeEnvoySecret   = "secret-uri" // the URI SAN of the SDS "default" certificate
	fakeEnvoyLDSAcked = "lds-acked"
	fakeEnvoyGoAck    = "go-ack"
	fakeEnvoyFailure  = "failure"
)

func runFakeEnvoy(args []string) int {
	dir := os.Getenv(fakeEnvoyEnv)
	record := func(name, content string) {
		_ = writeFileAtomic(filepath.Join(dir, name), []byte(content), 0o644)
	}
	data, _ := json.Marshal(args)
	record(fakeEnvoyArgs, string(data))
	if code := os.Getenv(fakeEnvoyExitEnv); code != "" {
		n, _ := strconv.Atoi(code)
		return n
	}
	err := standinenvoy.Run(args, standinenvoy.Hooks{
		Drained: func(query string) {
			record(fakeEnvoyDrain, query+"\n"+strconv.FormatInt(time.Now().UnixNano(), 10))
		},
		Certificate: func(uri string) { record(fakeEnvoySecret, uri) },
		MayAckListeners: func() bool {
			_, err := os.Stat(filepath.Join(dir, fakeEnvoyGoAck))
			return err == nil
		},
		Acked: func(typeURL string, _ []string) {
			if typeURL == resourcev3.ListenerType {
				record(fakeEnvoyLDSAcked, "yes") // before the ACK leaves, which may make the agent ready
			}
		},
	})
	if err != nil {
		record(fakeEnvoyFailure, err.Error())
		fmt.Fprintln(os.Stderr, "fake envoy:", err)
		return 3
	}
	record(fakeEnvoySIGTERM, strconv.FormatInt(time.Now().UnixNano(), 10))
	return 0
}
