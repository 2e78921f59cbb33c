package rtx

import (
	"regexp"
	"strings"
	"testing"
)

// normaliseRef is the straightforward definition normalise must agree
// with: CRLF to LF, escape sequences out, then stray CRs and NULs out.
func normaliseRef(b []byte) string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	s = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`).ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\x00", "")
}

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{
		"show ipsec sa\r\nTotal: 2\r\n\r\n":              "show ipsec sa\nTotal: 2\n\n",
		"\x1b[7m--More--\x1b[m\r        \rnext line\r\n": "--More--        next line\n",
		"a\x00b\x1b[?25lc\x1b[1;32md":                    "abcd",
		"broken \x1b[12 escape and \x1b alone\x1b":       "broken \x1b[12 escape and \x1b alone\x1b",
		"# ": "# ",
		"日本語の\r\n--- つづく ---\x1b[K\r\n": "日本語の\n--- つづく ---\n",
		"\x1b[": "\x1b[",
	} {
		if got := normalise([]byte(in)); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
		if ref := normaliseRef([]byte(in)); ref != want {
			t.Errorf("reference(%q) = %q, want %q", in, ref, want)
		}
	}
}

func TestStripEcho(t *testing.T) {
	got := stripEcho("show ipsec sa  \nTotal Number of SA: 2   \n        \n\nsa 1\n", "show ipsec sa")
	if want := "Total Number of SA: 2\n\nsa 1\n"; got != want {
		t.Errorf("stripEcho = %q, want %q", got, want)
	}
	if got := stripEcho("banner\n", ""); got != "banner\n" {
		t.Errorf("stripEcho without a command = %q", got)
	}
}

// FuzzNormalise holds the one-pass normalise to the regexp definition on
// any input where the two can agree: escape sequences that do not contain
// CR or NUL (a CR inside ESC [ ... is not a sequence a terminal sends).
func FuzzNormalise(f *testing.F) {
	addSamples(f)
	f.Add("\x1b[7m--More--\x1b[m\r        \r")
	f.Fuzz(func(t *testing.T, s string) {
		if regexp.MustCompile(`\x1b\[[0-9;?\r\x00]*[\r\x00]`).MatchString(s) {
			t.Skip()
		}
		if got, want := normalise([]byte(s)), normaliseRef([]byte(s)); got != want {
			t.Fatalf("normalise(%q) = %q, reference %q", s, got, want)
		}
	})
}
