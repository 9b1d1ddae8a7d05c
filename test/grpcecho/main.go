// Command grpcecho is a small echo gRPC server and load/watch client used by
// Loom's end-to-end tests as real proxyless-gRPC traffic (gRPC-Go's xDS
// client, google.golang.org/grpc/xds).
//
// Usage:
//
//	grpcecho server --name NAME --listen ADDR [--xds] [--fail-code CODE] [--grace D]
//	grpcecho client --target TARGET [--n N] [--concurrency C] [--header k=v]...
//	               [--timeout D] [--interval D] [--duration D] [--message S]
//	               [--wait-for-ready] [--watch]
//
// The xDS bootstrap is read by gRPC at init from GRPC_XDS_BOOTSTRAP_CONFIG or
// GRPC_XDS_BOOTSTRAP; set it in the environment before starting the process.
// See serverUsage and clientUsage for the details and output formats.
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  grpcecho server --name NAME --listen ADDR [--xds] [--fail-code CODE] [--grace D]
  grpcecho client --target TARGET [--n N] [--concurrency C] [--header k=v]...
                  [--timeout D] [--interval D] [--duration D] [--message S]
                  [--wait-for-ready] [--watch]
run "grpcecho server -h" or "grpcecho client -h" for details.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var code int
	switch os.Args[1] {
	case "server":
		code = runServer(os.Args[2:])
	case "client":
		code = runClient(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
	default:
		fmt.Fprintf(os.Stderr, "grpcecho: unknown subcommand %q\n%s", os.Args[1], usage)
		code = 2
	}
	os.Exit(code)
}
