package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// collect may run as root into a directory anyone can write (/tmp): a link
// planted there must not be written through, and an old bundle's files
// must not mix with the new one's.
func TestWriteRefusesPlantedLinksAndOldBundles(t *testing.T) {
	src, err := Read("testdata/handmade")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	precious := filepath.Join(tmp, "precious")
	os.WriteFile(precious, []byte("root's file\n"), 0o600)

	planted := filepath.Join(tmp, "planted")
	os.Mkdir(planted, 0o700)
	os.Symlink(precious, filepath.Join(planted, "meta.json"))
	if err := Write(planted, src); err == nil || !strings.Contains(err.Error(), "bundle directory "+planted+" already exists and is not empty: give a new directory") {
		t.Errorf("OUT/meta.json a link: %v", err)
	}
	if b, _ := os.ReadFile(precious); string(b) != "root's file\n" {
		t.Errorf("the link's target was written: %q", b)
	}

	elsewhere := filepath.Join(tmp, "elsewhere")
	os.Mkdir(elsewhere, 0o700)
	linked := filepath.Join(tmp, "linked")
	os.Symlink(elsewhere, linked)
	if err := Write(linked, src); err == nil || !strings.Contains(err.Error(), "bundle directory "+linked+" is a symbolic link") {
		t.Errorf("OUT a link: %v", err)
	}
	if ents, _ := os.ReadDir(elsewhere); len(ents) != 0 {
		t.Errorf("written through the link: %v", ents)
	}

	old := filepath.Join(tmp, "old")
	os.MkdirAll(filepath.Join(old, "rtx", "gone"), 0o700)
	os.WriteFile(filepath.Join(old, "rtx", "gone", "show_config.txt"), []byte("old\n"), 0o600)
	if err := Write(old, src); err == nil || !strings.Contains(err.Error(), "already exists and is not empty") {
		t.Errorf("OUT an old bundle: %v", err)
	}
	if ents, _ := os.ReadDir(old); len(ents) != 1 {
		t.Errorf("the old bundle was changed: %v", ents)
	}

	empty := filepath.Join(tmp, "empty")
	os.Mkdir(empty, 0o700)
	if err := Write(empty, src); err != nil {
		t.Errorf("OUT an empty directory: %v", err)
	}
	if back, err := Read(empty); err != nil || back.RTX["office"][rtx.CmdIPsecSA] == "" {
		t.Errorf("the bundle written into an empty directory: %v", err)
	}
	fresh := filepath.Join(tmp, "new", "dir")
	if err := Write(fresh, src); err != nil {
		t.Errorf("OUT new, its parent too: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "*", "*.tmp-*"))
	left2, _ := filepath.Glob(filepath.Join(tmp, "*.tmp-*"))
	if len(left)+len(left2) > 0 {
		t.Errorf("temporary directories left: %v %v", left, left2)
	}
}
