// Command ociimage writes vpnwatchd's container image without a container
// engine: one layer (the static binary, its default configuration, a state
// directory owned by the unprivileged user), as one tar that is both an OCI
// image layout (oci-layout, index.json) and a docker-archive (manifest.json),
// the way `docker save` writes them, so `docker load` and `podman load` both
// take it. Every time in it is SOURCE_DATE_EPOCH and every list is sorted:
// the same inputs give the same bytes.
//
//	go run ./tools/ociimage -binary dist/amd64/vpnwatchd -config configs/vpnwatchd.yaml \
//		-arch amd64 -name vpnwatchd -tag 1.2.3 -version 1.2.3 -revision abc -o vpnwatchd-1.2.3-linux-amd64-oci.tar
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The user the image runs as: distroless's "nonroot", no name needed.
const (
	uid = 65532
	gid = 65532
)

// Where things are in the image; ports the daemon listens on.
const (
	binaryPath = "vpnwatchd"
	configPath = "etc/vpnwatchd/vpnwatchd.yaml"
	stateDir   = "var/lib/vpnwatchd"
	httpPort   = "10123/tcp"
)

// OCI media types.
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// tagRE is the Docker reference grammar for a tag.
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

type options struct {
	binary, config, arch, name, tag, version, revision, out string
	created                                                 time.Time
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "", "the static vpnwatchd binary (CGO_ENABLED=0) for -arch")
	flag.StringVar(&o.config, "config", "", "the default configuration, installed as /"+configPath)
	flag.StringVar(&o.arch, "arch", "amd64", "GOARCH of the binary: amd64 or arm64")
	flag.StringVar(&o.name, "name", "vpnwatchd", "image repository name")
	flag.StringVar(&o.tag, "tag", "", "image tag")
	flag.StringVar(&o.version, "version", "", "version, for the org.opencontainers.image.version label")
	flag.StringVar(&o.revision, "revision", "", "commit, for the org.opencontainers.image.revision label")
	flag.StringVar(&o.out, "o", "", "the image tar to write")
	flag.Parse()
	if err := o.check(os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		fmt.Fprintf(os.Stderr, "ociimage: %v\n", err)
		os.Exit(2)
	}
	if err := write(o); err != nil {
		fmt.Fprintf(os.Stderr, "ociimage: %s: %v\n", o.out, err)
		os.Exit(1)
	}
}

func (o *options) check(epoch string) error {
	var errs []error
	for _, f := range []struct{ name, value string }{{"-binary", o.binary}, {"-config", o.config}, {"-tag", o.tag}, {"-o", o.out}} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if o.arch != "amd64" && o.arch != "arm64" {
		errs = append(errs, fmt.Errorf("-arch %q: amd64 or arm64", o.arch))
	}
	if o.tag != "" && !tagRE.MatchString(o.tag) {
		errs = append(errs, fmt.Errorf("-tag %q: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'", o.tag))
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || secs < 0 {
		errs = append(errs, fmt.Errorf("SOURCE_DATE_EPOCH %q: seconds since 1970 (the commit's time) are required", epoch))
	}
	o.created = time.Unix(secs, 0).UTC()
	return errors.Join(errs...)
}

// descriptor is an OCI content descriptor.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// imageConfig is the OCI image configuration: what `docker inspect` shows.
type imageConfig struct {
	Created      string `json:"created"`
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
	Config       struct {
		User         string              `json:"User"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Entrypoint   []string            `json:"Entrypoint"`
		WorkingDir   string              `json:"WorkingDir"`
		Labels       map[string]string   `json:"Labels"`
		StopSignal   string              `json:"StopSignal"`
	} `json:"config"`
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	} `json:"history"`
}

type blob struct {
	digest string
	data   []byte
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{digest: "sha256:" + hex.EncodeToString(sum[:]), data: data}
}

func (b blob) path() string { return "blobs/sha256/" + b.digest[len("sha256:"):] }

func write(o options) error {
	layerTar, err := layer(o)
	if err != nil {
		return err
	}
	diffID := newBlob(layerTar).digest
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // no name, no time: the same bytes
	if _, err := zw.Write(layerTar); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	layerBlob := newBlob(gz.Bytes())

	created := o.created.Format(time.RFC3339)
	var c imageConfig
	c.Created, c.Architecture, c.OS = created, o.arch, "linux"
	if o.arch == "arm64" {
		c.Variant = "v8"
	}
	c.Config.User = fmt.Sprintf("%d:%d", uid, gid)
	c.Config.ExposedPorts = map[string]struct{}{httpPort: {}}
	c.Config.Entrypoint = []string{"/" + binaryPath, "run"}
	c.Config.WorkingDir = "/"
	c.Config.StopSignal = "SIGTERM"
	c.Config.Labels = map[string]string{
		"org.opencontainers.image.title":    "vpnwatchd",
		"org.opencontainers.image.version":  o.version,
		"org.opencontainers.image.revision": o.revision,
		"org.opencontainers.image.created":  created,
		"org.opencontainers.image.source":   "https://github.com/vpnwatchd/vpnwatchd",
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	c.RootFS.Type, c.RootFS.DiffIDs = "layers", []string{diffID}
	c.History = append(c.History, struct {
		Created   string `json:"created"`
		CreatedBy string `json:"created_by"`
	}{created, "make image: /vpnwatchd, /" + configPath + ", /" + stateDir + "/"})
	configJSON, err := json.Marshal(c)
	if err != nil {
		return err
	}
	configBlob := newBlob(configJSON)

	manifestJSON, err := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{2, mediaManifest,
		descriptor{MediaType: mediaConfig, Digest: configBlob.digest, Size: int64(len(configBlob.data))},
		[]descriptor{{MediaType: mediaLayer, Digest: layerBlob.digest, Size: int64(len(layerBlob.data))}}})
	if err != nil {
		return err
	}
	manifestBlob := newBlob(manifestJSON)

	ref := "docker.io/library/" + o.name + ":" + o.tag
	indexJSON, err := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{2, mediaIndex, []descriptor{{
		MediaType: mediaManifest, Digest: manifestBlob.digest, Size: int64(len(manifestJSON)),
		Annotations: map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": ref},
		Platform:    &platform{Architecture: o.arch, OS: "linux", Variant: c.Variant},
	}}})
	if err != nil {
		return err
	}
	// docker-archive's manifest, for engines that load only that format.
	dockerJSON, err := json.Marshal([]struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{configBlob.path(), []string{o.name + ":" + o.tag}, []string{layerBlob.path()}}})
	if err != nil {
		return err
	}

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	add := func(name string, data []byte) error {
		return addEntry(tw, tarEntry{name: name, mode: 0o644, data: data}, o.created)
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := addEntry(tw, tarEntry{name: d, mode: 0o755, dir: true}, o.created); err != nil {
			return err
		}
	}
	blobs := []blob{layerBlob, configBlob, manifestBlob}
	slices.SortFunc(blobs, func(a, b blob) int { return strings.Compare(a.digest, b.digest) })
	for _, b := range blobs {
		if err := add(b.path(), b.data); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"index.json", indexJSON}, {"manifest.json", dockerJSON}, {"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}} {
		if err := add(f.name, f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	tmp := o.out + ".tmp"
	if err := os.WriteFile(tmp, out.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, o.out)
}

type tarEntry struct {
	name     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layer returns the image's only layer, uncompressed: the directories, the
// default configuration, the state directory the user may write, and the
// binary, in name order.
func layer(o options) ([]byte, error) {
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	if len(bin) < 4 || string(bin[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("binary %s: not an ELF executable", o.binary)
	}
	cfg, err := os.ReadFile(o.config)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	entries := []tarEntry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/vpnwatchd/", mode: 0o755, dir: true},
		{name: configPath, mode: 0o644, data: cfg},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "var/", mode: 0o755, dir: true},
		{name: "var/lib/", mode: 0o755, dir: true},
		{name: stateDir + "/", mode: 0o700, uid: uid, gid: gid, dir: true},
		{name: binaryPath, mode: 0o755, data: bin},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := addEntry(tw, e, o.created); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func addEntry(tw *tar.Writer, e tarEntry, mtime time.Time) error {
	h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime, Format: tar.FormatPAX}
	if e.dir {
		h.Typeflag = tar.TypeDir
	} else {
		h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("%s: %w", filepath.Clean(e.name), err)
	}
	_, err := io.Copy(tw, bytes.NewReader(e.data))
	return err
}
