package rtx

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// addSamples seeds the corpus with every sample, and each sample that has
// Japanese text also as a Japanese console sends it: Shift_JIS and EUC-JP
// bytes, raw and decoded as a session would.
func addSamples(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		text := sample(f, filepath.Base(file))
		f.Add(text)
		if utf8.ValidString(text) && strings.IndexFunc(text, func(r rune) bool { return r > 0x7f }) >= 0 {
			for cs, raw := range encodings(f, text) {
				if cs != CharsetUTF8 {
					f.Add(raw)
				}
			}
		}
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
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseTunnelStatus(s, time.UTC)
		if err == nil && st.Online() && !strings.Contains(s, "Online") && !strings.Contains(s, jaConnected) {
			t.Errorf("read Online without saying so: %q", s)
		}
		dec, _ := DecodeConsole(s, CharsetUnknown)
		ParseTunnelStatus(dec, time.UTC)
	})
}

func FuzzParseReceivedRoutes(f *testing.F) {
	addSamples(f)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReceivedRoutes(s)
		if err == nil && r.Total < -1 {
			t.Errorf("total %d", r.Total)
		}
	})
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
