package rtx

import (
	"path/filepath"
	"testing"
	"time"
)

func addSamples(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		f.Add(sample(f, filepath.Base(file)))
	}
}

// Every parser takes any text and returns a value or an error: no panic,
// no hang.

func FuzzParseIPsecSA(f *testing.F) {
	addSamples(f)
	f.Fuzz(func(t *testing.T, s string) { ParseIPsecSA(s) })
}

func FuzzParseTunnelStatus(f *testing.F) {
	addSamples(f)
	f.Fuzz(func(t *testing.T, s string) { ParseTunnelStatus(s, time.UTC) })
}

func FuzzParseBGPNeighbors(f *testing.F) {
	addSamples(f)
	f.Fuzz(func(t *testing.T, s string) { ParseBGPNeighbors(s) })
}

func FuzzParseIPRoute(f *testing.F) {
	addSamples(f)
	f.Fuzz(func(t *testing.T, s string) { ParseIPRoute(s) })
}

func FuzzParseConfig(f *testing.F) {
	addSamples(f)
	f.Fuzz(func(t *testing.T, s string) { ParseConfig(s) })
}
