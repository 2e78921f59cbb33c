package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// make image, checked without a container engine: built twice, the same
// bytes; the OCI layout and the docker-archive manifest agree, every blob's
// digest is its name, the configuration runs /vpnwatchd run as 65532:65532
// and exposes 10123; skopeo reads it through both transports and copies it
// (checking every digest); then, as root, its layer unpacked and run as the
// image's user in a chroot of nothing else: the binary finds CA roots and
// time zones of its own, and the daemon starts, answers and stops
// on SIGTERM with 0.
func TestImage(t *testing.T) {
	testenv.Binary(t, "make")
	skopeo := testenv.Binary(t, "skopeo")
	dist, again := t.TempDir(), t.TempDir()
	build(t, dist, "ARCHES=amd64", "image")
	build(t, again, "ARCHES=amd64", "image")
	images := globBase(t, dist, "vpnwatchd-*-linux-amd64-oci.tar")
	if len(images) != 1 {
		t.Fatalf("images: %v", images)
	}
	file := filepath.Join(dist, images[0])
	a, _ := os.ReadFile(file)
	b, _ := os.ReadFile(filepath.Join(again, images[0]))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("%s differs between two builds of the same commit", images[0])
	}
	version := strings.TrimSuffix(strings.TrimPrefix(images[0], "vpnwatchd-"), "-linux-amd64-oci.tar")
	tag := strings.ReplaceAll(version, "+", "-")

	files := untar(t, bytes.NewReader(a))
	for name, data := range files {
		if hexDigest, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && hexDigest != "" {
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != hexDigest {
				t.Errorf("%s: its content's digest is sha256:%x", name, sum)
			}
		}
	}
	blob := func(digest string) []byte {
		t.Helper()
		data, ok := files["blobs/sha256/"+strings.TrimPrefix(digest, "sha256:")]
		if !ok {
			t.Fatalf("no blob %s", digest)
		}
		return data
	}
	type desc struct {
		MediaType, Digest string
		Size              int
		Annotations       map[string]string
		Platform          struct{ Architecture, OS string }
	}
	var index struct{ Manifests []desc }
	decode(t, files["index.json"], &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "docker.io/library/vpnwatchd:"+tag ||
		index.Manifests[0].Platform.Architecture != "amd64" || index.Manifests[0].Platform.OS != "linux" {
		t.Fatalf("index.json: %s", files["index.json"])
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout: %s", files["oci-layout"])
	}
	var manifest struct {
		Config desc
		Layers []desc
	}
	decode(t, blob(index.Manifests[0].Digest), &manifest)
	if len(manifest.Layers) != 1 || manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("manifest: %+v", manifest)
	}
	var config struct {
		Architecture, OS string
		Config           struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			ExposedPorts map[string]struct{}
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		}
	}
	decode(t, blob(manifest.Config.Digest), &config)
	if config.Architecture != "amd64" || config.OS != "linux" || config.Config.User != "65532:65532" ||
		!slices.Equal(config.Config.Entrypoint, []string{"/vpnwatchd", "run"}) || len(config.Config.Cmd) != 0 {
		t.Errorf("image configuration: %s", blob(manifest.Config.Digest))
	}
	if _, ok := config.Config.ExposedPorts["10123/tcp"]; !ok {
		t.Errorf("the image does not expose 10123/tcp: %v", config.Config.ExposedPorts)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob(manifest.Layers[0].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	layerTar, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(layerTar); len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_ids %v, the layer is sha256:%x", config.RootFS.DiffIDs, sum)
	}
	var docker []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	decode(t, files["manifest.json"], &docker)
	if len(docker) != 1 || docker[0].Config != "blobs/sha256/"+strings.TrimPrefix(manifest.Config.Digest, "sha256:") ||
		!slices.Equal(docker[0].Layers, []string{"blobs/sha256/" + strings.TrimPrefix(manifest.Layers[0].Digest, "sha256:")}) ||
		!slices.Equal(docker[0].RepoTags, []string{"vpnwatchd:" + tag}) {
		t.Errorf("manifest.json (docker-archive) does not match the OCI manifest: %s", files["manifest.json"])
	}

	// skopeo reads the image as an engine's loader would, and copying it
	// checks every blob against its digest.
	for _, transport := range []string{"oci-archive:", "docker-archive:"} {
		out := run(t, skopeo, "inspect", "--config", transport+file)
		if !strings.Contains(out, `"User": "65532:65532"`) || !strings.Contains(out, `"/vpnwatchd",`) {
			t.Errorf("skopeo inspect %s: %s", transport, out)
		}
		run(t, skopeo, "copy", "-q", transport+file, "dir:"+t.TempDir())
	}

	// The layer: the binary, its configuration, the user's state directory.
	want := map[string]string{
		"etc/": "drwxr-xr-x 0", "etc/vpnwatchd/": "drwxr-xr-x 0", "etc/vpnwatchd/vpnwatchd.yaml": "-rw-r--r-- 0",
		"tmp/": "dtrwxrwxrwx 0", "var/": "drwxr-xr-x 0", "var/lib/": "drwxr-xr-x 0", "var/lib/vpnwatchd/": "drwx------ 65532", "vpnwatchd": "-rwxr-xr-x 0",
	}
	got := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(layerTar))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = fmt.Sprintf("%v %d", h.FileInfo().Mode(), h.Uid)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("layer: %s is %q, want %q", name, got[name], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("layer holds %v, want %v", got, want)
	}

	if os.Geteuid() != 0 {
		t.Skip("running the image's layer in a chroot as its user needs root")
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	unpack(t, layerTar, root)
	runImage(t, root)
}

// runImage runs the unpacked image's binary as a container engine would
// (its user, an empty root filesystem), without the engine.
func runImage(t *testing.T, root string) {
	command := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "/vpnwatchd", args...)
		cmd.Env = []string{"HOME=/"}
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: 65532, Gid: 65532, Groups: []uint32{}}}
		return cmd
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if out, err := command(ctx, "version").CombinedOutput(); err != nil || !strings.Contains(string(out), "vpnwatchd, version") {
		t.Errorf("the image's binary: %v\n%s", err, out)
	}
	// Time zones without /usr/share/zoneinfo.
	out, _ := command(ctx, "diagnose", "--router-timezone", "Asia/Tokyo", "/no-bundle").CombinedOutput()
	if !strings.Contains(string(out), "/no-bundle") || strings.Contains(string(out), "time zone") {
		t.Errorf("the image's binary has no time zones:\n%s", out)
	}
	// CA roots without /etc/ssl: no public CA's key is at hand to prove it
	// by a handshake (one no CA signed fails with or without roots), so the
	// Go build information must list the module that carries them.
	if out, err := exec.CommandContext(ctx, testenv.Binary(t, "go"), "version", "-m", filepath.Join(root, "vpnwatchd")).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "golang.org/x/crypto/x509roots/fallback") {
		t.Errorf("the image's binary carries no CA roots: %v\n%s", err, out)
	}
	// The daemon with the image's default configuration: writes its state
	// as the unprivileged user, answers, stops on SIGTERM with 0.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var log bytes.Buffer
	daemon := command(ctx, "run", "--web.listen-address="+addr)
	daemon.Stdout, daemon.Stderr = &log, &log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	ready := false
	for !ready {
		select {
		case err := <-exited:
			t.Fatalf("vpnwatchd run in the image exited: %v\n%s", err, log.String())
		case <-ctx.Done():
			t.Fatalf("vpnwatchd run in the image was not ready within a minute:\n%s", log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	daemon.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("vpnwatchd run in the image, on SIGTERM: %v\n%s", err, log.String())
		}
	case <-ctx.Done():
		t.Fatalf("vpnwatchd run in the image did not stop on SIGTERM:\n%s", log.String())
	}
}

func untar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
}

// unpack writes a layer into dir with its modes and owners.
func unpack(t *testing.T, layer []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			err = os.MkdirAll(p, 0o700)
		} else {
			data, _ := io.ReadAll(tr)
			err = os.WriteFile(p, data, 0o600)
		}
		if err == nil {
			err = os.Chmod(p, h.FileInfo().Mode())
		}
		if err == nil {
			err = os.Lchown(p, h.Uid, h.Gid)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
}
