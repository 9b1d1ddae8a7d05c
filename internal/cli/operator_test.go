package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestOperatorImageRegistryFlag(t *testing.T) {
	t.Setenv(ImageRegistryEnv, "")
	cmd := newOperatorCommand()
	if got := cmd.Flags().Lookup("image-registry").Value.String(); got != "" {
		t.Errorf("default --image-registry %q, want empty", got)
	}
	if err := cmd.ParseFlags([]string{"--image-registry=localhost:5000/loom"}); err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("image-registry").Value.String(); got != "localhost:5000/loom" {
		t.Errorf("--image-registry parsed as %q", got)
	}
}

func TestOperatorImageRegistryFromEnvironment(t *testing.T) {
	t.Setenv(ImageRegistryEnv, "quay.io/loom")
	cmd := newOperatorCommand()
	if got := cmd.Flags().Lookup("image-registry").Value.String(); got != "quay.io/loom" {
		t.Errorf("--image-registry defaults to %q with $%s=quay.io/loom", got, ImageRegistryEnv)
	}
	// The flag wins over the environment.
	if err := cmd.ParseFlags([]string{"--image-registry=mirror.example.com"}); err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("image-registry").Value.String(); got != "mirror.example.com" {
		t.Errorf("--image-registry %q, want the flag's mirror.example.com", got)
	}
}

// TestOperatorRejectsBadImageRegistry: a registry that cannot prefix an image fails before
// the operator reaches for a cluster, naming the flag.
func TestOperatorRejectsBadImageRegistry(t *testing.T) {
	t.Setenv(ImageRegistryEnv, "")
	cmd := NewRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"operator", "--kubeconfig=/nonexistent", "--image-registry=https://quay.io"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "--image-registry") || !strings.Contains(err.Error(), "https://quay.io") {
		t.Errorf("got %v, want an error naming --image-registry and its value", err)
	}
}
