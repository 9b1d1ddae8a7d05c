package bundle

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
)

// repoRoot is where the committed bundle/ and config/ live.
const repoRoot = "../.."

func rootOptions() Options {
	opts := DefaultOptions()
	opts.ConfigDir = filepath.Join(repoRoot, opts.ConfigDir)
	opts.ChartsDir = filepath.Join(repoRoot, opts.ChartsDir)
	return opts
}

// generated writes a fresh bundle and catalog from the repository's config/ into a
// temporary folder.
func generated(t *testing.T) (bundleDir, catalogDir string) {
	t.Helper()
	dir := t.TempDir()
	bundleDir, catalogDir = filepath.Join(dir, "bundle"), filepath.Join(dir, "catalog")
	if err := Generate(rootOptions(), bundleDir, catalogDir); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return bundleDir, catalogDir
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[rel], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// The committed catalog/ pins the bundle image by digest: internal/catalog checks it.
func TestCommittedBundleIsCurrent(t *testing.T) {
	bundleDir, _ := generated(t)
	for committed, fresh := range map[string]string{
		filepath.Join(repoRoot, "bundle"): bundleDir,
	} {
		want, got := readTree(t, fresh), readTree(t, committed)
		for name, content := range want {
			if !bytes.Equal(got[name], content) {
				t.Errorf("%s/%s is stale or missing: run `make bundle catalog` and commit the result", committed, name)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s is not generated any more: run `make bundle catalog` (it removes it) and commit", committed, name)
			}
		}
	}
}

// validate runs operator-framework's default bundle validators plus the OperatorHub (v2)
// and good-practices ones, as `operator-sdk bundle validate --select-optional` would.
func validate(t *testing.T, bundleDir string) (errs, warns []errors.Error) {
	t.Helper()
	b, err := manifests.GetBundleFromDir(bundleDir)
	if err != nil {
		t.Fatalf("GetBundleFromDir %s: %v", bundleDir, err)
	}
	validators := append(validation.DefaultBundleValidators,
		validation.OperatorHubV2Validator, validation.GoodPracticesValidator,
		validation.StandardCapabilitiesValidator, validation.StandardCategoriesValidator)
	for _, result := range validators.Validate(b, b.CSV, b.V1CRDs) {
		errs = append(errs, result.Errors...)
		warns = append(warns, result.Warnings...)
	}
	return errs, warns
}

// knownWarnings are the validators' warnings Loom keeps on purpose, by a substring.
var knownWarnings = []string{
	// The operator installs Istio's CRDs for the meshes it manages (like Istio's own operator).
	"CSV contains permissions to create CRD",
	// MeshRevision is the operator's own record (listed in internal-objects): an example
	// would invite users to create one.
	"Kind=MeshRevision: provided API should have an example annotation",
}

func TestBundlePassesOperatorFrameworkValidators(t *testing.T) {
	for _, dir := range map[string]string{"committed": filepath.Join(repoRoot, "bundle")} {
		errs, warns := validate(t, dir)
		for _, e := range errs {
			t.Errorf("%s: validation error: %s", dir, e)
		}
		for _, w := range warns {
			known := false
			for _, k := range knownWarnings {
				known = known || strings.Contains(w.Error(), k)
			}
			if known {
				t.Logf("%s: known warning: %s", dir, w)
			} else {
				t.Errorf("%s: new validation warning (fix it or list it in knownWarnings): %s", dir, w)
			}
		}
	}
}

// The validators must be able to fail: a bundle whose CSV lost its provider and owns a
// kind the bundle's CRDs do not serve is refused.
func TestValidatorsRefuseABrokenBundle(t *testing.T) {
	bundleDir, _ := generated(t)
	path := filepath.Join(bundleDir, ManifestsDir, CSVFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "    name: Loom project\n", "    name: \"\"\n", 1)
	broken = strings.Replace(broken, "      kind: MeshOperator\n      name: meshoperators.operator.loom.dev", "      kind: Unrelated\n      name: meshoperators.operator.loom.dev", 1)
	if broken == string(data) {
		t.Fatal("the test's edits did not apply to the generated CSV")
	}
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	errs, _ := validate(t, bundleDir)
	var messages []string
	for _, e := range errs {
		messages = append(messages, e.Error())
	}
	all := strings.Join(messages, "\n")
	for _, want := range []string{"Provider.Name not specified", "Kind=MeshOperator\" is present in bundle", "Kind=Unrelated\" not found"} {
		if !strings.Contains(all, want) {
			t.Errorf("validation errors do not mention %q:\n%s", want, all)
		}
	}
}
