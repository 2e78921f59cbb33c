// Package bundle writes and reads support bundles: the raw EC2 responses,
// RTX command outputs and strongSwan answers of one moment, secrets redacted, laid out as
// DESIGN.md specifies, so that `diagnose` can run the correlator offline —
// on bundles `collect` wrote or on files copied by hand.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/aws"
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
	// Ignored lists files that are not part of the format.
	Ignored []string
}

// CommandFile is the file name of a command's output: spaces become "_".
func CommandFile(cmd string) string { return strings.ReplaceAll(cmd, " ", "_") + ".txt" }

func fileCommand(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, ".txt"), "_", " ")
}

// Write creates dir and writes b into it, redacting secrets: tunnel
// pre-shared keys in EC2 responses, pre-shared keys and passwords in
// `show config`.
func Write(dir string, b Bundle) error {
	write := func(rel string, data []byte) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		if err := os.WriteFile(p, data, 0o640); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		return nil
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

// Read loads a bundle directory. Missing parts are fine; files that are not
// part of the format are listed in Ignored.
func Read(dir string) (Bundle, error) {
	b := Bundle{Dir: dir, AWS: map[string]map[string]map[string][]byte{}, RTX: map[string]rtx.Outputs{}, StrongSwan: map[string]strongswan.Outputs{},
		Probes: map[string][]byte{}}
	st, err := os.Stat(dir)
	if err != nil {
		return b, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if !st.IsDir() {
		return b, fmt.Errorf("bundle %s: not a directory", dir)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "meta.json")); err == nil {
		if err := json.Unmarshal(data, &b.Meta); err != nil {
			return b, fmt.Errorf("%s: %w", filepath.Join(dir, "meta.json"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		switch {
		case rel == "meta.json":
			return nil
		case len(parts) == 4 && parts[0] == "aws" && strings.HasSuffix(parts[3], ".xml"),
			len(parts) == 5 && parts[0] == "aws" && parts[3] == "logs" && strings.HasSuffix(parts[4], ".json"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if b.AWS[parts[1]] == nil {
				b.AWS[parts[1]] = map[string]map[string][]byte{}
			}
			if b.AWS[parts[1]][parts[2]] == nil {
				b.AWS[parts[1]][parts[2]] = map[string][]byte{}
			}
			b.AWS[parts[1]][parts[2]][strings.Join(parts[3:], "/")] = data
		case len(parts) == 3 && parts[0] == "rtx" && strings.HasSuffix(parts[2], ".txt"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if b.RTX[parts[1]] == nil {
				b.RTX[parts[1]] = rtx.Outputs{}
			}
			b.RTX[parts[1]][fileCommand(parts[2])] = string(data)
		case len(parts) == 3 && parts[0] == "strongswan" && slices.Contains(strongswan.Files(), parts[2]):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if b.StrongSwan[parts[1]] == nil {
				b.StrongSwan[parts[1]] = strongswan.Outputs{}
			}
			b.StrongSwan[parts[1]][parts[2]] = data
		case len(parts) == 2 && parts[0] == "probe" && strings.HasSuffix(parts[1], ".json"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			b.Probes[strings.TrimSuffix(parts[1], ".json")] = data
		default:
			b.Ignored = append(b.Ignored, rel)
		}
		return nil
	})
	if err != nil {
		return b, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if len(b.AWS) == 0 && len(b.RTX) == 0 && len(b.StrongSwan) == 0 {
		return b, fmt.Errorf("bundle %s: no aws/SOURCE/REGION/*.xml, rtx/ROUTER/*.txt or strongswan/GATEWAY/*.json files", dir)
	}
	if b.Meta.TakenAt.IsZero() {
		b.Meta.TakenAt = newestFile(dir)
	}
	return b, nil
}

// newestFile stands in for taken_at when meta.json is absent (a bundle made
// by hand): the time of its newest file.
func newestFile(dir string) time.Time {
	var t time.Time
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil && info.ModTime().After(t) {
				t = info.ModTime()
			}
		}
		return nil
	})
	return t
}
