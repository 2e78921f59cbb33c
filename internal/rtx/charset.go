package rtx

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// Charset is a console character set, as `console character` sets it on
// the router. vpnwatchd never changes it (it is part of the running
// configuration); it reads what comes.
type Charset int

// The console character sets of RTX firmware. CharsetASCII also covers
// `en.ascii`: plain 7-bit output, readable under every other set.
const (
	CharsetUnknown Charset = iota
	CharsetASCII
	CharsetShiftJIS // ja.sjis: the default of Japanese models
	CharsetEUCJP    // ja.euc
	CharsetUTF8     // ja.utf8 on newer firmware
)

func (c Charset) String() string {
	switch c {
	case CharsetASCII:
		return "ascii"
	case CharsetShiftJIS:
		return "ja.sjis"
	case CharsetEUCJP:
		return "ja.euc"
	case CharsetUTF8:
		return "ja.utf8"
	}
	return "unknown"
}

// ParseCharset reads a `console character` value.
func ParseCharset(s string) (Charset, bool) {
	switch s {
	case "ascii", "en.ascii":
		return CharsetASCII, true
	case "ja.sjis", "sjis":
		return CharsetShiftJIS, true
	case "ja.euc", "euc":
		return CharsetEUCJP, true
	case "ja.utf8", "utf8":
		return CharsetUTF8, true
	}
	return CharsetUnknown, false
}

// Encoding returns the x/text encoding of a Japanese charset, nil for ASCII
// and UTF-8 (Go strings already are).
func (c Charset) Encoding() encoding.Encoding {
	switch c {
	case CharsetShiftJIS:
		return japanese.ShiftJIS
	case CharsetEUCJP:
		return japanese.EUCJP
	}
	return nil
}

// DecodeConsole turns console bytes into UTF-8 text. The character set is
// told from the bytes themselves, since asking the router (`show config`
// shows `console character` only when it was set) or setting it would
// change nothing we may change: hint is the set an earlier output of the
// same session was found in, and wins when the bytes are valid in it.
//
// Pure ASCII output is returned as it is (with the hint unchanged: it tells
// nothing). Otherwise valid UTF-8 is UTF-8; bytes valid only as Shift_JIS or
// only as EUC-JP are that; bytes valid as both (EUC-JP text is mostly valid
// Shift_JIS, read as half-width katakana) are EUC-JP when the Shift_JIS
// reading has half-width katakana, which RTX messages do not use. Bytes
// valid in no set are decoded in the hint's set (or UTF-8) with U+FFFD for
// what cannot be read, so that parsers report the line instead of
// guessing.
func DecodeConsole(s string, hint Charset) (string, Charset) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s, hint
	}
	if hint == CharsetShiftJIS && validShiftJIS(s) || hint == CharsetEUCJP && validEUCJP(s) {
		return decodeWith(s, hint), hint
	}
	if utf8.ValidString(s) {
		return s, CharsetUTF8
	}
	sj, kana := validShiftJIS(s), halfWidthKana(s)
	euc := validEUCJP(s)
	switch {
	case euc && (!sj || kana > 0):
		return decodeWith(s, CharsetEUCJP), CharsetEUCJP
	case sj:
		return decodeWith(s, CharsetShiftJIS), CharsetShiftJIS
	}
	if hint.Encoding() != nil {
		return decodeWith(s, hint), hint
	}
	return string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD"))), hint
}

func decodeWith(s string, c Charset) string {
	out, err := c.Encoding().NewDecoder().String(s)
	if err != nil {
		// x/text decoders replace what they cannot read; an error here
		// is not expected, but never lose the output over it.
		return string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD")))
	}
	return out
}

// validShiftJIS reports whether s is a sequence of Shift_JIS characters:
// ASCII, half-width katakana (A1–DF), or a lead byte 81–9F/E0–FC followed by
// a trail byte 40–7E/80–FC.
func validShiftJIS(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80, c >= 0xA1 && c <= 0xDF:
		case c >= 0x81 && c <= 0x9F, c >= 0xE0 && c <= 0xFC:
			if i+1 >= len(s) {
				return false
			}
			t := s[i+1]
			if t < 0x40 || t == 0x7F || t > 0xFC {
				return false
			}
			i++
		default:
			return false
		}
	}
	return true
}

// halfWidthKana counts the single-byte half-width katakana of s read as
// Shift_JIS.
func halfWidthKana(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0xA1 && c <= 0xDF:
			n++
		case c >= 0x81 && c <= 0x9F, c >= 0xE0 && c <= 0xFC:
			i++
		}
	}
	return n
}

// validEUCJP reports whether s is a sequence of EUC-JP characters: ASCII,
// two bytes A1–FE, 8E + a half-width katakana byte, or 8F + two bytes A1–FE
// (JIS X 0212).
func validEUCJP(s string) bool {
	in := func(b byte) bool { return b >= 0xA1 && b <= 0xFE }
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80:
		case c == 0x8E:
			if i+1 >= len(s) || s[i+1] < 0xA1 || s[i+1] > 0xDF {
				return false
			}
			i++
		case c == 0x8F:
			if i+2 >= len(s) || !in(s[i+1]) || !in(s[i+2]) {
				return false
			}
			i += 2
		case in(c):
			if i+1 >= len(s) || !in(s[i+1]) {
				return false
			}
			i++
		default:
			return false
		}
	}
	return true
}

// pagerWords are the words between the dashes of the pager prompt, in every
// console character set: "---つづく---" on Japanese consoles (in the
// console's own encoding), "--- more ---" as one English firmware has it.
var pagerWords = func() [][]byte {
	words := [][]byte{[]byte("つづく"), []byte("more"), []byte("More")}
	for _, c := range []Charset{CharsetShiftJIS, CharsetEUCJP} {
		b, err := c.Encoding().NewEncoder().Bytes([]byte("つづく"))
		if err != nil {
			panic(err) // a constant string every encoding has
		}
		words = append(words, b)
	}
	return words
}()

// pagerAt returns where a pager prompt starts when b ends with one
// ("---つづく---", "--- more ---", "--More--", then spaces), in raw console
// bytes of any character set.
func pagerAt(b []byte) (int, bool) {
	t := bytes.TrimRight(b, " \t\r\n")
	if !bytes.HasSuffix(t, []byte("--")) {
		return 0, false
	}
	end := len(t)
	for end > 0 && t[end-1] == '-' {
		end--
	}
	closing := len(t) - end
	body := bytes.TrimRight(t[:end], " ")
	for _, w := range pagerWords {
		if !bytes.HasSuffix(body, w) {
			continue
		}
		head := bytes.TrimRight(body[:len(body)-len(w)], " ")
		start := len(head)
		for start > 0 && head[start-1] == '-' {
			start--
		}
		opening := len(head) - start
		if opening >= 2 && closing >= 2 && opening <= 3 && closing <= 3 {
			return start, true
		}
	}
	return 0, false
}
