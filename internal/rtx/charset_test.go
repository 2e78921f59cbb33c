package rtx

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"
)

// japaneseSamples are the real Japanese console outputs (and the Japanese
// route header from a public note), with the parser that reads each.
var japaneseSamples = []struct {
	file  string
	text  string
	parse func(string) (any, error)
}{
	{file: "show-status-tunnel.3.txt", parse: func(s string) (any, error) { return ParseTunnelStatus(s, time.UTC) }},
	{text: "宛先ネットワーク    ゲートウェイ     インタフェース  種別  付加情報\n10.0.0.0/16         169.254.255.1    TUNNEL[1]       BGP  path=10124\n",
		parse: func(s string) (any, error) { return ParseIPRoute(s) }},
}

func encodings(t testing.TB, utf string) map[Charset]string {
	t.Helper()
	sj, err := japanese.ShiftJIS.NewEncoder().String(utf)
	if err != nil {
		t.Fatal(err)
	}
	euc, err := japanese.EUCJP.NewEncoder().String(utf)
	if err != nil {
		t.Fatal(err)
	}
	return map[Charset]string{CharsetShiftJIS: sj, CharsetEUCJP: euc, CharsetUTF8: utf}
}

// Every Japanese sample reads the same in Shift_JIS, EUC-JP and UTF-8, with
// or without a hint from earlier output, and the encoding is told right.
func TestJapaneseSamplesInEveryEncoding(t *testing.T) {
	for _, s := range japaneseSamples {
		text := s.text
		if s.file != "" {
			text = sample(t, s.file)
		}
		want, err := s.parse(text)
		if err != nil {
			t.Fatalf("%s: UTF-8: %v", s.file, err)
		}
		for cs, raw := range encodings(t, text) {
			if cs != CharsetUTF8 && raw == text {
				t.Fatalf("%v encoding changed nothing", cs)
			}
			for _, hint := range []Charset{CharsetUnknown, cs} {
				dec, got := DecodeConsole(raw, hint)
				if got != cs {
					t.Errorf("%s in %v (hint %v): detected %v", s.file, cs, hint, got)
				}
				v, err := s.parse(dec)
				if err != nil {
					t.Errorf("%s in %v: %v", s.file, cs, err)
					continue
				}
				if a, b := fmtAny(v), fmtAny(want); a != b {
					t.Errorf("%s in %v: parsed\n%s\nwant\n%s", s.file, cs, a, b)
				}
			}
		}
	}
}

// The seed's own model, an RTX1200 with a Japanese console: an Online tunnel
// in Shift_JIS must read Online, not unknown or down.
func TestShiftJISTunnelOnline(t *testing.T) {
	raw := encodings(t, sample(t, "show-status-tunnel.3.txt"))[CharsetShiftJIS]
	dec, _ := DecodeConsole(raw, CharsetUnknown)
	st, err := ParseTunnelStatus(dec, time.UTC)
	if err != nil || !st.Online() || st.RxPackets != 391 || st.Uptime != 2*time.Hour+5*time.Minute+10*time.Second || len(st.Warnings) > 0 {
		t.Errorf("%v %+v", err, st)
	}
	// Undecoded, the bytes are not understood: the state is unknown (never
	// "down") and the line is reported.
	st, _ = ParseTunnelStatus(raw, time.UTC)
	if st.Known() || len(st.Warnings) == 0 {
		t.Errorf("raw Shift_JIS read as %q, warnings %v", st.Status, st.Warnings)
	}
}

func TestDecodeConsole(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		hint Charset
		want string
		cs   Charset
	}{
		{"ascii keeps the hint", "Current status is Online.", CharsetShiftJIS, "Current status is Online.", CharsetShiftJIS},
		{"utf-8", "説明: とある接続先", CharsetUnknown, "説明: とある接続先", CharsetUTF8},
		{"half-width katakana in Shift_JIS", "\xb1\xb2\xb3", CharsetUnknown, "ｱｲｳ", CharsetShiftJIS},
		{"garbage in no set", "\xff\xfe\x80 x", CharsetUnknown, "\uFFFD x", CharsetUnknown},
		{"garbage keeps the hint's set", "ok \xff", CharsetShiftJIS, "ok \uFFFD", CharsetShiftJIS},
	} {
		got, cs := DecodeConsole(tc.in, tc.hint)
		if got != tc.want || cs != tc.cs {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, cs, tc.want, tc.cs)
		}
	}
}

func TestPagerAt(t *testing.T) {
	enc := encodings(t, "---つづく---")
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"line\n" + enc[CharsetShiftJIS], 5, true},
		{"line\n" + enc[CharsetEUCJP] + "  ", 5, true},
		{"line\n---つづく---", 5, true},
		{"line\n--- more ---", 5, true},
		{"line\n--More--", 5, true},
		{"line\n# ---", 0, false},
		{"ip filter 1 pass * * ---", 0, false},
		{"> ", 0, false},
	} {
		got, ok := pagerAt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %d %v, want %d %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzDecodeConsole(f *testing.F) {
	for _, s := range japaneseSamples {
		if s.text != "" {
			for _, raw := range encodings(f, s.text) {
				f.Add(raw, 0)
			}
		}
	}
	f.Add("\x82\xa0\xa4\xa2", 2)
	f.Fuzz(func(t *testing.T, in string, hint int) {
		out, cs := DecodeConsole(in, Charset(hint%5))
		if !utf8Valid(out) {
			t.Errorf("%q decoded to invalid UTF-8 %q (%v)", in, out, cs)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func fmtAny(v any) string { return fmt.Sprintf("%+v", v) }
