// Command envoy is the stand-in for Envoy in the test-only proxy image (no Envoy binary
// exists here): see package standinenvoy. It logs what happens to it on stderr and exits 0
// on SIGTERM, 1 on a failure.
package main

import (
	"fmt"
	"log"
	"os"
	"strings"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/test/standinenvoy"
)

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.Printf("stand-in Envoy (routes no traffic) started with %q", os.Args[1:])
	err := standinenvoy.Run(os.Args[1:], standinenvoy.Hooks{
		StaticListeners: true,
		Drained:         func(q string) { log.Printf("drain_listeners?%s", q) },
		Certificate:     func(uri string) { log.Printf("workload certificate %s", uri) },
		Acked: func(typeURL string, names []string) {
			log.Printf("ACK %s: %d resources [%s]", strings.TrimPrefix(typeURL, resourcev3.APITypePrefix), len(names), strings.Join(names, " "))
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "stand-in Envoy:", err)
		os.Exit(1)
	}
	log.Print("SIGTERM: exiting")
}
