package redirect_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"loom.dev/loom/pkg/redirect"
)

// The test binary re-executes itself for the parts that must run in
// another process: `loom iptables` inside a pod's network namespace, and
// clients running as a given uid/gid.
const (
	childEnv     = "LOOM_REDIRECT_CHILD" // "iptables" or "dial"
	childArgsEnv = "LOOM_REDIRECT_ARGS"  // JSON list of iptables flags
	dialAddrEnv  = "LOOM_REDIRECT_DIAL"  // network,address
	dialBindEnv  = "LOOM_REDIRECT_BIND"  // optional local IP to bind
)

// exe is a copy of the test binary in a directory every uid can read, so
// clients can run as the proxy uid (go test's own work directory is 0700).
var exe string

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "iptables":
		os.Exit(childIptables())
	case "dial":
		os.Exit(childDial())
	}
	dir, err := os.MkdirTemp("", "loom-redirect-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer func() { _ = os.RemoveAll(dir) }()
		if err := copyExecutable(dir); err != nil {
			fmt.Fprintln(os.Stderr, "copying the test binary for the uid-switched clients:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

func copyExecutable(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	src, err := os.Open(self)
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	exe = filepath.Join(dir, "redirect.test")
	dst, err := os.OpenFile(exe, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	return dst.Close()
}

// childIptables is `loom iptables` minus cobra: the same flags, parser and
// run as internal/cli's command.
func childIptables() int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(childArgsEnv)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "bad", childArgsEnv, err)
		return 2
	}
	fs := pflag.NewFlagSet("iptables", pflag.ContinueOnError)
	var flags redirect.Flags
	flags.Bind(fs)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg, err := flags.Config()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts := flags.Options()
	opts.Out = os.Stdout
	if err := redirect.Run(cfg, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// childDial connects, prints the one line the server answers, and exits.
func childDial() int {
	network, addr, ok := strings.Cut(os.Getenv(dialAddrEnv), ",")
	if !ok {
		fmt.Fprintln(os.Stderr, "bad", dialAddrEnv)
		return 2
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	if bind := os.Getenv(dialBindEnv); bind != "" {
		ip := net.ParseIP(bind)
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: ip}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		}
	}
	c, err := d.Dial(network, addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return 1
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if network == "udp" {
		if _, err := c.Write([]byte("query\n")); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			return 1
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		return 1
	}
	fmt.Print(line)
	return 0
}
