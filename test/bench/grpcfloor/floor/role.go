package floor

import (
	"flag"
	"os"
)

// RunRole runs the process Run starts when args (os.Args[1:]) begin with
// "serve" or "clients", on this process's stdin and stdout, and returns
// true. For any other args it returns false and does nothing: the binary
// in Options.Binary calls it first thing.
func RunRole(args []string) (bool, error) {
	if len(args) == 0 || (args[0] != "serve" && args[0] != "clients") {
		return false, nil
	}
	fs := flag.NewFlagSet("grpcfloor "+args[0], flag.ContinueOnError)
	var cfg ClientsConfig
	cfg.Exchange.flags(fs)
	if args[0] == "serve" {
		if err := fs.Parse(args[1:]); err != nil {
			return true, err
		}
		return true, Serve(os.Stdin, os.Stdout, cfg.Exchange)
	}
	fs.StringVar(&cfg.Server, "server", "", "the floor server's address")
	fs.IntVar(&cfg.Clients, "clients", 1000, "client streams")
	fs.IntVar(&cfg.Conns, "conns", 0, "gRPC connections the streams share; 0 = one each")
	if err := fs.Parse(args[1:]); err != nil {
		return true, err
	}
	return true, RunClients(os.Stdin, os.Stdout, cfg)
}
