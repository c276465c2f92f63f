// Command image writes kubegate's OCI image as a tarball, without a container
// daemon: the static binary on an empty base, run as an unprivileged user. It is a
// module of its own so the gateway's go.mod does not carry its dependencies.
//
//	go run . -binary ../../bin/kubegate-linux-amd64 -tag ghcr.io/kubegate/kubegate:v0.1.0 -out ../../bin/kubegate-image.tar
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	binary := flag.String("binary", "", "the static kubegate binary (linux)")
	tag := flag.String("tag", "", "the image reference, e.g. ghcr.io/kubegate/kubegate:v0.1.0")
	version := flag.String("version", "dev", "the version, for the image's labels")
	out := flag.String("out", "kubegate-image.tar", "where to write the tarball")
	cas := flag.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA bundle for clusters with public certificates (empty: none)")
	flag.Parse()
	if err := build(*binary, *tag, *version, *out, *cas); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// uid is the unprivileged user the gateway runs as (distroless' "nonroot").
const uid = 65532

func build(binary, tag, version, out, caBundle string) error {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	files := []file{
		{name: "kubegate", mode: 0o755, data: bin},
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:0:root:/:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, uid))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid))},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "var/lib/kubegate/", mode: 0o700, dir: true, owner: uid},
	}
	if caBundle != "" {
		ca, err := os.ReadFile(caBundle)
		if err != nil {
			return fmt.Errorf("CA bundle: %w", err)
		}
		files = append(files, file{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca})
	}
	layerTar, err := tarOf(files)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil })
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()} // reproducible
	cfg.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", uid, uid),
		Entrypoint:   []string{"/kubegate"},
		Cmd:          []string{"serve", "--data-dir=/var/lib/kubegate"},
		WorkingDir:   "/",
		Env:          []string{"PATH=/"},
		ExposedPorts: map[string]struct{}{"8080/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "kubegate",
			"org.opencontainers.image.version":  version,
			"org.opencontainers.image.source":   "https://github.com/kubegate/kubegate",
			"org.opencontainers.image.licenses": "Apache-2.0",
		},
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return err
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	return tarball.WriteToFile(out, ref, img)
}

type file struct {
	name  string
	mode  int64
	data  []byte
	dir   bool
	owner int
}

func tarOf(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch, Uid: f.owner, Gid: f.owner, Typeflag: tar.TypeReg}
		if f.dir {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
