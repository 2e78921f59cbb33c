package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// collect may run as root with --out in /tmp, where anyone can plant a
// link or an old bundle: it refuses such a directory before it polls, and
// says what to do.
func TestCollectRefusesOutThatIsNotNew(t *testing.T) {
	tmp := t.TempDir()
	precious := filepath.Join(tmp, "precious")
	os.WriteFile(precious, []byte("root's file\n"), 0o600)
	planted := filepath.Join(tmp, "planted")
	os.Mkdir(planted, 0o700)
	os.Symlink(precious, filepath.Join(planted, "meta.json"))
	linked := filepath.Join(tmp, "linked")
	os.Symlink(t.TempDir(), linked)
	second := filepath.Join(tmp, "series")
	os.MkdirAll(filepath.Join(second+"-2", "rtx", "gone"), 0o700)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", planted}, "vpnwatchd collect: --out: bundle directory " + planted + " already exists and is not empty: give a new directory, or remove the old bundle first"},
		{[]string{"--out", linked}, "vpnwatchd collect: --out: bundle directory " + linked + " is a symbolic link; collect does not write through links: give a new directory"},
		{[]string{"--out", second, "--count", "2", "--every", "1ms"}, "bundle directory " + second + "-2 already exists and is not empty"},
	} {
		// The configuration does not exist: the directory is checked first,
		// before any poll.
		code, _, errOut := runMain(append([]string{"collect", "--config.file", filepath.Join(tmp, "none.yaml")}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("collect %v: exit %d %q, want %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
	if b, _ := os.ReadFile(precious); string(b) != "root's file\n" {
		t.Errorf("the planted link's target was written: %q", b)
	}
}
