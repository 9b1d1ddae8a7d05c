package agent

import (
	"fmt"
	"os"
	"path/filepath"
)

// Output file names in Options.OutputDir, as Istio's agent writes them with
// OUTPUT_CERTS.
const (
	CertChainFile = "cert-chain.pem"
	KeyFile       = "key.pem"
	RootCertFile  = "root-cert.pem"
)

// writeBundle writes b into dir, each file atomically, readable by its owner
// and its group: in a pod the directory is an in-memory volume of that pod
// alone, and the group is the pod's fsGroup, which lets an application
// running as another user read what the agent writes. The key goes first: a reader that sees the new chain finds the
// new key already in place.
func writeBundle(dir string, b *bundle) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("--output-dir: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{KeyFile, b.keyPEM}, {CertChainFile, b.chainPEM}, {RootCertFile, b.rootPEM}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, 0o640); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory and a rename, so readers see the old or the new content,
// never a part.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = tmp.Chmod(mode)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
