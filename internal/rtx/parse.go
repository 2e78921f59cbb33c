package rtx

import (
	"fmt"
	"strings"
	"unique"
)

// intern returns the canonical copy of s. Parsed values are substrings of
// a command's output; stored as they are, each would keep the whole output
// alive until the next poll. The same addresses and states come back every
// poll, so interning also saves the copy.
func intern(s string) string { return unique.Make(s).Value() }

// ParseError is malformed input: a line a parser recognised but could not
// read. Lines a parser does not recognise at all are warnings instead.
type ParseError struct {
	Command string
	Line    int
	Text    string
	Msg     string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: line %d: %s: %q", e.Command, e.Line, e.Msg, e.Text)
}

// Unreadable is a line of a command's output that its parser did not
// understand. It never turns into a state: what it would have said is
// unknown, and the operator is shown the line to send for support.
type Unreadable struct {
	Command string
	Line    int
	Text    string
}

func (u Unreadable) String() string {
	return fmt.Sprintf("%s: line %d: not understood: %q", u.Command, u.Line, u.Text)
}

// lines splits console output into lines without CR, keeping numbering
// from 1. The first line of a captured sample may be a "# source:" note or
// the command itself; callers skip those as they see fit.
func lines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	return strings.Split(text, "\n")
}

// isEcho reports whether line is the command echoed after a prompt
// ("> show ipsec sa", "RTX1200# show config", "# show ipsec sa" in samples).
func isEcho(line, command string) bool {
	t := strings.TrimSpace(line)
	rest, ok := strings.CutSuffix(t, command)
	if !ok {
		return false
	}
	rest = strings.TrimSpace(rest)
	return rest == "" || strings.HasSuffix(rest, ">") || strings.HasSuffix(rest, "#")
}
