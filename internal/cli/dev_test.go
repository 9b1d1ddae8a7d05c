//go:build !nodev

package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestImageWithoutRealNodeRefused: --image is acted on only by a real node, so without one
// it is refused rather than ignored.
func TestImageWithoutRealNodeRefused(t *testing.T) {
	cmd := NewRootCommand()
	cmd.SetArgs([]string{"dev", "cluster", "up", "--image", "loom.tar"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "--real-node") {
		t.Fatalf("up --image without --real-node: %v", err)
	}
}
