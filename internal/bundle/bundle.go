// Package bundle writes and reads support bundles: the raw EC2 responses,
// RTX command outputs and strongSwan answers of one moment, secrets redacted, laid out as
// DESIGN.md specifies, so that `diagnose` can run the correlator offline —
// on bundles `collect` wrote or on files copied by hand.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
	"github.com/vpnwatchd/vpnwatchd/internal/strongswan"
)

// Meta is meta.json.
type Meta struct {
	TakenAt time.Time `json:"taken_at"`
	Version string    `json:"version,omitempty"`
	// AWSLogs names the AWS sources whose tunnel logs vpnwatchd read
	// (aws[].logs), so that diagnose reads them from the bundle as check
	// did from AWS.
	AWSLogs []string `json:"aws_logs,omitempty"`
}

// Bundle is one support bundle in memory.
type Bundle struct {
	Dir  string
	Meta Meta
	// AWS: source → region → file name → raw response body (EC2 XML, and
	// logs/GROUP.json: the records of one of AWS's VPN log groups).
	AWS map[string]map[string]map[string][]byte
	// RTX: router → command → raw output.
	RTX map[string]rtx.Outputs
	// StrongSwan: gateway → file → raw answer (strongswan.Outputs).
	StrongSwan map[string]strongswan.Outputs
	// Probes: probe name → JSON result.
	Probes map[string][]byte
	// Ignored lists the files and directories that are not part of the
	// format, and those whose names could not be printed.
	Ignored []Skipped
	// Size is how many bytes of files were read.
	Size int64
}

// Skipped is a file or directory of a bundle that Read did not read.
type Skipped struct {
	Path   string // relative to the bundle, slash-separated
	Reason string
}

// CommandFile is the file name of a command's output: spaces become "_".
func CommandFile(cmd string) string { return strings.ReplaceAll(cmd, " ", "_") + ".txt" }

func fileCommand(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, ".txt"), "_", " ")
}

// Write creates the bundle directory dir and writes b into it, redacting
// secrets: tunnel pre-shared keys in EC2 responses, pre-shared keys and
// passwords in `show config`. dir must be new or an empty directory, and
// not a link (CheckTarget): the bundle is written into a new directory
// beside it (DIR.tmp-*), through an os.Root so that no link is followed,
// and renamed to dir when complete, so that no file of an older bundle
// mixes with it and no link planted in dir — by anyone who can write
// where dir is, such as /tmp — is written through.
func Write(dir string, b Bundle) (err error) {
	dir = filepath.Clean(dir)
	if err := CheckTarget(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	defer root.Close()
	if err := writeFiles(root, b); err != nil {
		return fmt.Errorf("write bundle %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o750); err != nil { // MkdirTemp's is 0700
		return fmt.Errorf("write bundle: %w", err)
	}
	// rename(2), not os.Rename (which refuses any existing directory): in
	// one step it replaces an empty directory and fails on anything else
	// made at dir since the check (a directory with files, a link).
	if err := syscall.Rename(tmp, dir); err != nil {
		if cerr := CheckTarget(dir); cerr != nil {
			return cerr
		}
		return fmt.Errorf("write bundle: rename %s to %s: %w", tmp, dir, err)
	}
	return nil
}

// CheckTarget says why Write would refuse dir: a link, something that is
// not a directory, or a directory that is not empty. collect checks before
// it polls, so that the operator does not wait for a bundle it cannot
// write.
func CheckTarget(dir string) error {
	dir = filepath.Clean(dir)
	info, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("bundle directory %s: %w", dir, err)
	case info.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("bundle directory %s is a symbolic link; collect does not write through links: give a new directory", dir)
	case !info.IsDir():
		return fmt.Errorf("bundle directory %s exists and is not a directory: give a new directory", dir)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("bundle directory %s: %w", dir, err)
	}
	defer d.Close()
	if names, err := d.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("bundle directory %s already exists and is not empty: give a new directory, or remove the old bundle first (its files would mix with the new one's)", dir)
	} else if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("bundle directory %s: %w", dir, err)
	}
	return nil
}

// writeFiles writes b's files into root, creating each: none is there
// before, and none is reached through a link.
func writeFiles(root *os.Root, b Bundle) error {
	write := func(rel string, data []byte) error {
		if err := root.MkdirAll(filepath.Dir(rel), 0o750); err != nil {
			return err
		}
		f, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	meta, _ := json.MarshalIndent(b.Meta, "", "  ")
	if err := write("meta.json", append(meta, '\n')); err != nil {
		return err
	}
	for source, regions := range b.AWS {
		for region, files := range regions {
			for name, body := range files {
				if err := write(filepath.Join("aws", source, region, name), aws.Redact(body)); err != nil {
					return err
				}
			}
		}
	}
	for router, outs := range b.RTX {
		for cmd, text := range outs {
			if cmd == rtx.CmdConfig {
				text = rtx.RedactConfig(text)
			}
			if err := write(filepath.Join("rtx", router, CommandFile(cmd)), []byte(text)); err != nil {
				return err
			}
		}
	}
	for gw, outs := range b.StrongSwan {
		for name, data := range outs {
			if err := write(filepath.Join("strongswan", gw, name), data); err != nil {
				return err
			}
		}
	}
	for name, data := range b.Probes {
		if err := write(filepath.Join("probe", name+".json"), data); err != nil {
			return err
		}
	}
	return nil
}

// Read loads a bundle directory. Missing parts are fine; files and
// directories that are not part of the format are listed in Ignored. Only
// regular files inside dir are read (no link is followed, not even within
// the bundle), each up to the limit of a live poll's answer (16 MiB for a
// router's or a strongSwan gateway's output, 64 MiB for an AWS answer) and
// at most MaxBytes in all; anything else where a bundle file or directory
// belongs is an error naming it.
func Read(dir string) (Bundle, error) { return read(dir, limits{bytes: MaxBytes, entries: MaxEntries}) }

// ReadAll reads the bundles of one diagnose, each as Read does and at most
// MaxBytesTogether in all: they are held in memory together to be put in
// time order.
func ReadAll(dirs []string) ([]Bundle, error) {
	return readAll(dirs, limits{bytes: MaxBytes, entries: MaxEntries}, MaxBytesTogether)
}

func readAll(dirs []string, l limits, together int64) ([]Bundle, error) {
	var out []Bundle
	var size int64
	for _, dir := range dirs {
		b, err := read(dir, limits{bytes: min(l.bytes, together-size), entries: l.entries})
		if err != nil {
			if size > 0 && together-size < l.bytes && errors.Is(err, errTooLarge) {
				return nil, fmt.Errorf("bundle %s: the bundles up to it are larger than %s together; diagnose reads at most that much at once: give it fewer", correlate.Printable(dir), mib(together))
			}
			return nil, err
		}
		size += b.Size
		out = append(out, b)
	}
	return out, nil
}

func read(dir string, l limits) (Bundle, error) {
	b := Bundle{Dir: dir, AWS: map[string]map[string]map[string][]byte{}, RTX: map[string]rtx.Outputs{}, StrongSwan: map[string]strongswan.Outputs{},
		Probes: map[string][]byte{}}
	fail := func(err error) (Bundle, error) { return b, fmt.Errorf("bundle %s: %w", correlate.Printable(dir), err) }
	st, err := os.Stat(dir)
	if err != nil {
		return fail(err)
	}
	if !st.IsDir() {
		return fail(errors.New("not a directory"))
	}
	f, err := openFiles(dir, l)
	if err != nil {
		return fail(err)
	}
	defer f.close()
	if data, err := f.read("meta.json", metaFile.limit); err == nil {
		if err := json.Unmarshal(data, &b.Meta); err != nil {
			return b, fmt.Errorf("%s: %w", filepath.Join(correlate.Printable(dir), "meta.json"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	err = f.walk(".", func(rel string, d fs.DirEntry) (bool, error) {
		parts := strings.Split(rel, "/")
		ignore := func(reason string) (bool, error) {
			b.Ignored = append(b.Ignored, Skipped{Path: rel, Reason: reason})
			return false, nil
		}
		if !printableName(d.Name()) {
			return ignore("a name with control characters")
		}
		if formatDir(parts) {
			if d.Type()&fs.ModeSymlink != 0 {
				return false, f.linkError(rel)
			}
			if d.IsDir() {
				return true, nil
			}
		}
		if d.IsDir() {
			return ignore("not a support bundle directory")
		}
		kind := fileOf(parts)
		switch {
		case kind == notAFile && d.Type()&fs.ModeSymlink != 0:
			return ignore("a symbolic link, not followed")
		case kind == notAFile:
			return ignore("not a support bundle file")
		case kind == metaFile: // read first
			return false, nil
		}
		data, err := f.read(rel, kind.limit)
		if err != nil {
			return false, err
		}
		switch kind {
		case awsFile:
			if b.AWS[parts[1]] == nil {
				b.AWS[parts[1]] = map[string]map[string][]byte{}
			}
			if b.AWS[parts[1]][parts[2]] == nil {
				b.AWS[parts[1]][parts[2]] = map[string][]byte{}
			}
			b.AWS[parts[1]][parts[2]][strings.Join(parts[3:], "/")] = data
		case rtxFile:
			if b.RTX[parts[1]] == nil {
				b.RTX[parts[1]] = rtx.Outputs{}
			}
			b.RTX[parts[1]][fileCommand(parts[2])] = string(data)
		case strongSwanFile:
			if b.StrongSwan[parts[1]] == nil {
				b.StrongSwan[parts[1]] = strongswan.Outputs{}
			}
			b.StrongSwan[parts[1]][parts[2]] = data
		case probeFile:
			b.Probes[strings.TrimSuffix(parts[1], ".json")] = data
		}
		return false, nil
	})
	if err != nil {
		return fail(err)
	}
	if len(b.AWS) == 0 && len(b.RTX) == 0 && len(b.StrongSwan) == 0 {
		return fail(errors.New("no aws/SOURCE/REGION/*.xml, rtx/ROUTER/*.txt or strongswan/GATEWAY/*.json files"))
	}
	if b.Meta.TakenAt.IsZero() {
		// A bundle made by hand has no meta.json: the time of its newest
		// file stands in.
		b.Meta.TakenAt = f.newest
	}
	b.Size = f.taken
	return b, nil
}

// formatDir reports whether the bundle path parts names a directory of the
// format: aws, aws/SOURCE, aws/SOURCE/REGION, aws/SOURCE/REGION/logs,
// rtx, rtx/ROUTER, strongswan, strongswan/GATEWAY, probe.
func formatDir(parts []string) bool {
	switch parts[0] {
	case "aws":
		return len(parts) <= 3 || len(parts) == 4 && parts[3] == "logs"
	case "rtx", "strongswan":
		return len(parts) <= 2
	case "probe":
		return len(parts) == 1
	}
	return false
}

// fileKind is a kind of bundle file and how much of one Read reads: the
// limit of a live poll's answer of that kind.
type fileKind struct {
	name  string
	limit int64
}

var (
	notAFile       = fileKind{}
	metaFile       = fileKind{"meta.json", maxSmallFile}
	awsFile        = fileKind{"aws", aws.DefaultMaxResponseBytes}
	rtxFile        = fileKind{"rtx", rtx.DefaultMaxOutput}
	strongSwanFile = fileKind{"strongswan", strongswan.MaxOutput}
	probeFile      = fileKind{"probe", maxSmallFile}
)

// fileOf says which bundle file the path parts names, if any.
func fileOf(parts []string) fileKind {
	n := len(parts)
	last := parts[n-1]
	switch {
	case n == 1 && last == "meta.json":
		return metaFile
	case parts[0] == "aws" && (n == 4 && strings.HasSuffix(last, ".xml") || n == 5 && parts[3] == "logs" && strings.HasSuffix(last, ".json")):
		return awsFile
	case parts[0] == "rtx" && n == 3 && strings.HasSuffix(last, ".txt"):
		return rtxFile
	case parts[0] == "strongswan" && n == 3 && slices.Contains(strongswan.Files(), last):
		return strongSwanFile
	case parts[0] == "probe" && n == 2 && strings.HasSuffix(last, ".json"):
		return probeFile
	}
	return notAFile
}
