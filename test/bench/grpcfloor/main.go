// Command grpcfloor measures what moving bytes costs on this machine before
// any control plane does anything (package floor): a gRPC-Go server process
// sends --size bytes to each of --clients streams in a separate client
// process (each on its own connection, as the scale benchmark's clients
// are; with --responses and --requests in rounds, as an xDS client syncs), with a codec that does no protobuf work at all; then, with
// --change-size, it pushes that many bytes to every stream --changes times.
// The scale benchmark runs the same measurement with the bytes its own run
// sent; `go run ./test/bench/grpcfloor --size 1048576 --change-size 563200`
// stands for a cold sync of 1 MB per client and 550 KB RouteConfiguration
// changes.
//
// `grpcfloor serve` and `grpcfloor clients` are the two processes it starts.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"loom.dev/loom/test/bench/grpcfloor/floor"
)

func main() {
	role, err := floor.RunRole(os.Args[1:])
	if !role {
		err = measure(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "grpcfloor:", err)
		os.Exit(1)
	}
}

func measure(args []string) error {
	fs := flag.NewFlagSet("grpcfloor", flag.ExitOnError)
	o := floor.Options{Settle: time.Second, SyncTimeout: 10 * time.Minute, ChangeTimeout: time.Minute}
	fs.IntVar(&o.Clients, "clients", 1000, "client streams, one connection each unless --conns")
	fs.IntVar(&o.Conns, "conns", 0, "gRPC connections the streams share; 0 = one each")
	fs.IntVar(&o.Exchange.ColdBytes, "size", 1<<20, "bytes sent to each client when its stream opens (the cold sync)")
	fs.IntVar(&o.Exchange.Responses, "responses", 1, "messages those bytes are split into, each sent after its round of requests")
	fs.IntVar(&o.Exchange.Requests, "requests", 1, "requests each client sends during its cold sync, spread over the rounds")
	fs.IntVar(&o.Exchange.RequestBytes, "request-bytes", 0, "bytes of those requests in all")
	fs.IntVar(&o.ChangeBytes, "change-size", 0, "bytes then pushed to every client per change; 0: no changes")
	fs.IntVar(&o.Changes, "changes", 5, "changes pushed (with --change-size)")
	_ = fs.Parse(args)
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	o.Binary = bin
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	r, err := floor.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Printf("cold sync: %d bytes in %d messages to each of %d gRPC-Go streams (%d requests, %d bytes in all): %.2f s to the last (per client p50 %.2f s, p99 %.2f s); server CPU %.2f s, clients CPU %.2f s\n",
		r.ColdBytes, r.Exchange.Responses, r.Clients, r.Exchange.Requests, r.Exchange.RequestBytes, r.ColdSyncS, r.ColdClientP(50), r.ColdClientP(99), r.ColdServerCPUS, r.ColdClientsCPUS)
	if r.Changes > 0 {
		fmt.Printf("change: %d bytes pushed to each stream, %d times: p50 %.0f ms, p99 %.0f ms, last client %.0f ms at most; server CPU %.2f s per change\n",
			r.ChangeBytes, r.Changes, r.ChangeP(50), r.ChangeP(99), floor.Percentile(r.ChangeLastMs, 100), r.ChangeServerCPUPerChange())
	}
	return nil
}
