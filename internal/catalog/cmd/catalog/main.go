// Command catalog is `make catalog`: it builds the bundle image of bundle/, pins the
// file-based catalog in catalog/ to its digest, validates the catalog with
// operator-registry, builds the catalog image, and writes both images as OCI layouts and
// tarballs. It prints the two images' digest references.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"loom.dev/loom/internal/catalog"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

func run() error {
	var opts catalog.Options
	var out string
	var created int64
	flag.StringVar(&opts.BundleDir, "bundle", "bundle", "Generated bundle folder (manifests/, metadata/)")
	flag.StringVar(&opts.CatalogDir, "catalog", "catalog", "File-based catalog folder (its package folder is replaced)")
	flag.StringVar(&opts.Registry, "registry", "", "Registry the catalog pulls the bundle from and the catalog image is named under (default: the bundle's image registry)")
	flag.Int64Var(&created, "created", catalog.DefaultCreated.Unix(), "Images' creation time and files' mtime, Unix seconds (fixed so the digests depend on the files only)")
	flag.StringVar(&out, "out", "", "Folder for the images' OCI layouts and tarballs (none when empty)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	opts.Created = time.Unix(created, 0).UTC()

	result, err := catalog.Build(context.Background(), opts)
	if err != nil {
		return err
	}
	catalogDigest, err := result.Catalog.Digest()
	if err != nil {
		return err
	}
	if out != "" {
		written, err := catalog.WriteImages(out, result)
		if err != nil {
			return err
		}
		for _, path := range written {
			fmt.Fprintln(os.Stderr, "wrote", path)
		}
	}
	fmt.Fprintf(os.Stderr, "catalog %s validated (operator-registry); bundle %s pinned by digest; created %s\n",
		opts.CatalogDir, result.BundleRef.Context(), strconv.Quote(opts.Created.Format(time.RFC3339)))
	fmt.Println(result.BundleRef.String())
	fmt.Println(result.CatalogTag.Context().Name() + "@" + catalogDigest.String())
	return nil
}
