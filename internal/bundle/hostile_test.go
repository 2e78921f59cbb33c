package bundle

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/report"
)

// engineerSecret is what an engineer's own files hold: a bundle must never
// bring it into diagnose's output.
const engineerSecret = "https://hooks.slack.com/services/T0000/B0000/engineer-secret"

// handmade copies testdata/handmade into a new directory, for a test to
// make hostile.
func handmade(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	if err := os.CopyFS(dir, os.DirFS("testdata/handmade")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readBounded reads a bundle, failing the test instead of hanging if Read
// does not return.
func readBounded(t *testing.T, dir string) (Bundle, error) {
	t.Helper()
	type result struct {
		b   Bundle
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := Read(dir)
		done <- result{b, err}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		t.Fatalf("Read(%s) did not return", dir)
		return Bundle{}, nil
	}
}

func sparse(t *testing.T, name string, size int64) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// A bundle comes from a customer and is read on the engineer's machine:
// what sits where a bundle file belongs but is not a regular file inside
// the bundle, or is larger than a live poll accepts, is refused by name,
// promptly, and nothing of a file outside the bundle is shown.
func TestReadRefusesFilesThatAreNotRegularFilesInside(t *testing.T) {
	outside := t.TempDir()
	secretFile := filepath.Join(outside, "slack-url")
	os.WriteFile(secretFile, []byte(engineerSecret+"\n"), 0o600)
	os.Mkdir(filepath.Join(outside, "router"), 0o700)
	os.WriteFile(filepath.Join(outside, "router", "show_config.txt"), []byte(engineerSecret+"\n"), 0o600)
	const route = "rtx/office/show_ip_route.txt"
	for _, tc := range []struct {
		name string
		make func(t *testing.T, dir string)
		want string
	}{
		{"a link to the engineer's Slack URL file", func(t *testing.T, dir string) {
			os.Symlink(secretFile, filepath.Join(dir, route))
		}, route + ": a symbolic link leaving the bundle, not followed"},
		{"a relative link climbing out of the bundle", func(t *testing.T, dir string) {
			rel, _ := filepath.Rel(filepath.Join(dir, "rtx/office"), secretFile)
			os.Symlink(rel, filepath.Join(dir, route))
		}, route + ": a symbolic link leaving the bundle, not followed"},
		{"a link to the zero device", func(t *testing.T, dir string) {
			os.Symlink("/dev/zero", filepath.Join(dir, route))
		}, route + ": a symbolic link leaving the bundle, not followed"},
		{"meta.json linked to the engineer's file", func(t *testing.T, dir string) {
			os.Symlink(secretFile, filepath.Join(dir, "meta.json"))
		}, "meta.json: a symbolic link leaving the bundle, not followed"},
		{"a router directory linked outside", func(t *testing.T, dir string) {
			os.Symlink(filepath.Join(outside, "router"), filepath.Join(dir, "rtx/branch"))
		}, "rtx/branch: a symbolic link leaving the bundle, not followed"},
		// Links are refused even inside the bundle: a bundle holds regular
		// files, one rule an engineer can check with ls.
		{"a link to another file of the bundle", func(t *testing.T, dir string) {
			os.Symlink("show_config.txt", filepath.Join(dir, route))
		}, route + ": a symbolic link, not followed (a bundle holds the files themselves: copy the file in place of the link)"},
		{"a FIFO", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, route), 0o600); err != nil {
				t.Fatal(err)
			}
		}, route + ": not a regular file (a FIFO), not read"},
		{"a router output above 16 MiB", func(t *testing.T, dir string) {
			sparse(t, filepath.Join(dir, route), 16<<20+1)
		}, route + ": larger than 16 MiB, not read"},
		{"an AWS answer above 64 MiB", func(t *testing.T, dir string) {
			sparse(t, filepath.Join(dir, "aws/prod/ap-northeast-1/describe-customer-gateways.xml"), 64<<20+1)
		}, "aws/prod/ap-northeast-1/describe-customer-gateways.xml: larger than 64 MiB, not read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := handmade(t)
			tc.make(t, dir)
			_, err := readBounded(t, dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "engineer-secret") {
				t.Errorf("the error shows a file outside the bundle: %v", err)
			}
		})
	}
}

// A bundle may be as large as a live poll's answers allow, not more: a
// 20 MiB AWS answer is read (a live poll takes up to 64 MiB).
func TestReadAcceptsAnswersWithinTheLiveLimits(t *testing.T) {
	dir := handmade(t)
	p := filepath.Join(dir, "aws/prod/ap-northeast-1/describe-vpn-connections.xml")
	body, _ := os.ReadFile(p)
	os.WriteFile(p, append(body, make([]byte, 20<<20)...), 0o600)
	b, err := readBounded(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(b.AWS["prod"]["ap-northeast-1"]["describe-vpn-connections.xml"]); got != len(body)+20<<20 {
		t.Errorf("read %d bytes", got)
	}
}

// The bundle as a whole is bounded too, in bytes and in entries.
func TestReadBoundsTheWholeBundle(t *testing.T) {
	dir := handmade(t)
	for _, r := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(dir, "rtx", r), 0o700)
		os.WriteFile(filepath.Join(dir, "rtx", r, "show_ipsec_sa.txt"), make([]byte, 100<<10), 0o600)
	}
	var size int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			size += info.Size()
		}
		return nil
	})
	// Room for the hand-made bundle's files (a few KiB) and one and a half
	// of the three.
	limit := size - 3*100<<10 + 150<<10
	if _, err := read(dir, limits{bytes: limit, entries: MaxEntries}); err == nil ||
		!strings.Contains(err.Error(), "rtx/b/show_ipsec_sa.txt: the bundle's files are larger than "+strconv.FormatInt(limit, 10)+" bytes in all; diagnose reads at most that much of one bundle") {
		t.Errorf("byte limit: %v", err)
	}
	if _, err := read(dir, limits{bytes: MaxBytes, entries: 5}); err == nil ||
		!strings.Contains(err.Error(), "the bundle has more than 5 files and directories") {
		t.Errorf("entry limit: %v", err)
	}
}

// Names with escape sequences (OSC 52 writes the engineer's clipboard,
// OSC 0 the window title, CSI 2J clears the screen) reach no terminal: a
// router directory so named is ignored and said so, its name made
// printable.
func TestReadNamesWithEscapeSequences(t *testing.T) {
	dir := handmade(t)
	evil := "evil\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J"
	os.MkdirAll(filepath.Join(dir, "rtx", evil), 0o700)
	cfg, _ := os.ReadFile(filepath.Join(dir, "rtx/office/show_config.txt"))
	os.WriteFile(filepath.Join(dir, "rtx", evil, "show_config.txt"), cfg, 0o600)
	os.WriteFile(filepath.Join(dir, "notes\x1b]0;pwned\x07.txt"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "rtx/office", "show_\x1b[8mhidden.txt"), []byte("x"), 0o600)
	os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
	b, err := readBounded(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.RTX) != 1 {
		t.Errorf("routers read: %v", len(b.RTX))
	}
	fs, unchecked := evaluate(t, b)
	var out strings.Builder
	if err := report.Text(&out, report.Report{Findings: fs, Unchecked: unchecked}); err != nil {
		t.Fatal(err)
	}
	for _, c := range out.String() {
		if c < 0x20 && c != '\n' || c == 0x7f {
			t.Fatalf("the report holds control character %q:\n%s", c, out.String())
		}
	}
	for _, want := range []string{
		filepath.Join(dir, "rtx", "evil ]52;c;cm0gLXJmIH4K  [2J") + ": a name with control characters, ignored",
		filepath.Join(dir, "notes ]0;pwned .txt") + ": a name with control characters, ignored",
		filepath.Join(dir, "rtx/office/show_ [8mhidden.txt") + ": a name with control characters, ignored",
		filepath.Join(dir, "passwd") + ": a symbolic link, not followed, ignored",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

// An error names the bundle printably too: a tarball's top directory may
// carry an escape sequence that the engineer's shell completes.
func TestReadErrorNamesBundlePrintably(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bundle\x1b]0;pwned\x07")
	os.CopyFS(dir, os.DirFS("testdata/handmade"))
	os.WriteFile(filepath.Join(dir, "meta.json"), []byte("{bad"), 0o600)
	_, err := readBounded(t, dir)
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07") || !strings.Contains(err.Error(), "bundle ]0;pwned /meta.json") {
		t.Errorf("error: %q", err)
	}
}

// diagnose holds its bundles in memory together: past MaxBytesTogether (here
// made small) it stops at the bundle that goes over, and says so.
func TestReadAllBoundsTheBundlesTogether(t *testing.T) {
	dirs := []string{handmade(t), handmade(t), handmade(t)}
	one, err := read(dirs[0], limits{bytes: MaxBytes, entries: MaxEntries})
	if err != nil || one.Size == 0 {
		t.Fatalf("one bundle: %v, %d bytes", err, one.Size)
	}
	if bs, err := readAll(dirs, limits{bytes: MaxBytes, entries: MaxEntries}, 3*one.Size); err != nil || len(bs) != 3 {
		t.Fatalf("three bundles within the limit: %v", err)
	}
	together := 2*one.Size + one.Size/2
	_, err = readAll(dirs, limits{bytes: MaxBytes, entries: MaxEntries}, together)
	if err == nil || !strings.Contains(err.Error(), "bundle "+dirs[2]+": the bundles up to it are larger than "+strconv.FormatInt(together, 10)+" bytes together") {
		t.Errorf("over the limit: %v", err)
	}
}
