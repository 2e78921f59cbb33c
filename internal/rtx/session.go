package rtx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vpnwatchd/vpnwatchd/internal/sshlogin"
)

// SessionConfig says how to log in to one router, and how much output
// to accept.
type SessionConfig struct {
	sshlogin.Config
	// MaxOutput bounds one command's output; DefaultMaxOutput when zero.
	MaxOutput int
}

// DefaultMaxOutput bounds one command's output. The longest answer vpnwatchd
// asks for is `show config` (tens of KiB on a busy router); a router that
// streams without ever returning its prompt must not grow the buffer until
// the command times out (3 GB were seen in a fault test).
const DefaultMaxOutput = 16 << 20

// ErrOutputTooLarge is a command whose output passed the limit before the
// prompt came back.
var ErrOutputTooLarge = errors.New("output larger than vpnwatchd accepts without the prompt coming back")

// HostKeyError is sshlogin's: a host key not in known_hosts, or changed.
type HostKeyError = sshlogin.HostKeyError

// Session is one interactive console session on a router. Run may not be
// called concurrently.
type Session struct {
	client *ssh.Client
	sess   *ssh.Session
	stdin  io.Writer
	stdout io.Reader
	buf    []byte
	prompt string
	closed bool
	max    int
	// charset is the console character set the session's output was
	// found in so far (DecodeConsole).
	charset Charset
}

// promptRE finds the prompt, a whole last line, at the end of the output:
// "> ", "# ", "RTX1200> ", "[RTX1210] > ".
var promptRE = regexp.MustCompile(`\n([^\n]{0,64}?[>#] ?)$`)

// Dial logs in, opens a shell on a PTY, waits for the prompt and turns the
// pager off.
func Dial(ctx context.Context, c SessionConfig) (*Session, error) {
	client, err := sshlogin.Dial(ctx, c.Config)
	if err != nil {
		return nil, err
	}
	s := &Session{client: client, max: c.MaxOutput}
	if s.max <= 0 {
		s.max = DefaultMaxOutput
	}
	if err := s.open(ctx, c.Timeout); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

func (s *Session) open(ctx context.Context, timeout time.Duration) error {
	// Every step from the session channel to the first prompt is bounded:
	// a router that takes the login and then leaves the channel open, the
	// PTY or the shell request unanswered would hold the poll for ever.
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer s.bound(tctx)()
	step := func(what string, err error) error {
		if tctx.Err() != nil {
			return &NoAnswerError{Step: what, Timeout: timeout, err: tctx.Err()}
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	sess, err := s.client.NewSession()
	if err != nil {
		return step("ssh session", err)
	}
	s.sess = sess
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("vt100", 200, 200, modes); err != nil {
		return step("ssh pty", err)
	}
	if s.stdin, err = sess.StdinPipe(); err != nil {
		return fmt.Errorf("ssh stdin: %w", err)
	}
	if s.stdout, err = sess.StdoutPipe(); err != nil {
		return fmt.Errorf("ssh stdout: %w", err)
	}
	// With a PTY the router writes nothing to stderr. Asking for the pipe
	// and never reading it spares the goroutine and the 8 KiB buffer
	// x/crypto/ssh would otherwise spend per session copying it to
	// io.Discard. (A router that did write more than the channel window,
	// 2 MiB, there would stall; the command times out and the session is
	// dialled afresh.)
	if _, err := sess.StderrPipe(); err != nil {
		return fmt.Errorf("ssh stderr: %w", err)
	}
	if err := sess.Shell(); err != nil {
		return step("ssh shell", err)
	}
	// The login banner ends with the first prompt.
	if _, err := s.readUntilPrompt(tctx, ""); err != nil {
		return step("waiting for the first prompt", err)
	}
	for _, cmd := range []string{"console lines infinity", "console columns 200"} {
		if _, err := s.run(tctx, cmd); err != nil {
			return step(cmd, err)
		}
	}
	return nil
}

// NoAnswerError is a step of opening the session (the channel, the PTY,
// the shell, the first prompt) that the router did not answer in time.
type NoAnswerError struct {
	Step    string
	Timeout time.Duration
	err     error // the context's
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("%s: no answer within %s", e.Step, e.Timeout)
}

// Unwrap returns the context's error (context.DeadlineExceeded when the
// timeout ran out).
func (e *NoAnswerError) Unwrap() error { return e.err }

// bound closes the connection when ctx ends, which ends whatever step is
// waiting on the router: a read, a write into a channel window the router
// never opens, a request it never answers. The function it returns stops
// the watch; when the context had ended, the session is closed for good
// (its console is in an unknown state).
func (s *Session) bound(ctx context.Context) func() {
	stop := context.AfterFunc(ctx, func() { s.client.Close() })
	return func() {
		if !stop() {
			s.Close()
		}
	}
}

// Run sends one allowlisted command and returns its output without the
// echo, the prompt, CRs, escape sequences and pager prompts.
func (s *Session) Run(ctx context.Context, cmd string) (string, error) {
	if err := CheckAllowed(cmd); err != nil {
		return "", err
	}
	defer s.bound(ctx)()
	out, err := s.run(ctx, cmd)
	if err != nil {
		return "", fmt.Errorf("%s: %w", cmd, err)
	}
	return out, nil
}

// run sends cmd and reads its output; the caller bounds it (bound).
func (s *Session) run(ctx context.Context, cmd string) (string, error) {
	if s.closed {
		return "", errors.New("session closed")
	}
	if _, err := io.WriteString(s.stdin, cmd+"\r"); err != nil {
		s.Close()
		return "", fmt.Errorf("write: %w", err)
	}
	out, err := s.readUntilPrompt(ctx, cmd)
	if err != nil {
		s.Close() // the console is in an unknown state: start afresh next time
		return "", err
	}
	return out, nil
}

// readUntilPrompt collects output until the prompt returns, answering pager
// prompts with a space.
func (s *Session) readUntilPrompt(ctx context.Context, cmd string) (string, error) {
	// A read waits for the router as long as it takes; the caller's bound
	// closes the connection under it when the context ends.
	for {
		if out, pager, done := s.atPrompt(cmd); done {
			return out, nil
		} else if pager {
			if _, err := io.WriteString(s.stdin, " "); err != nil {
				return "", fmt.Errorf("answer the pager: %w", err)
			}
			// The pager prompt is the end of the output so far: cut it
			// (and the escape sequences around it) off.
			clean := normalise(s.buf)
			if i, ok := pagerAt([]byte(clean)); ok {
				clean = clean[:i]
			}
			s.buf = append(s.buf[:0], clean...)
			continue
		}
		// Read straight into the output: no reader goroutine, no copy of
		// each chunk. The channel hands over what it has buffered.
		if s.buf == nil {
			s.buf = (*readBufs.Get().(*[]byte))[:0]
		}
		if len(s.buf) > s.max {
			s.buf = nil // not kept with a session that is being closed
			return "", fmt.Errorf("%w (%d MiB)", ErrOutputTooLarge, s.max>>20)
		}
		if len(s.buf) == cap(s.buf) {
			s.buf = slices.Grow(s.buf, readChunk)
		}
		n, err := s.stdout.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("no prompt after the output: %w", ctx.Err())
			}
			return "", fmt.Errorf("the router closed the session: %w", err)
		}
	}
}

// readChunk is how much room a read gets at least.
const readChunk = 4 << 10

// readBufs hold the output of the commands running now. The output is
// copied out (normalise) when the prompt returns, so the buffer serves the
// next command of any router instead of every command growing its own from
// nothing (11 MB of garbage per cycle at 200 routers) or every session
// keeping one. Buffers grown past maxPooledBuf (a long `show config`) are
// left to the collector.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, readChunk); return &b }}

const maxPooledBuf = 64 << 10

// atPrompt checks whether the output so far ends with the prompt (then it
// returns the output and done) or with a pager prompt.
func (s *Session) atPrompt(cmd string) (out string, pager, done bool) {
	// Output arrives line by line; only one ending in '>', '#', '-' (the
	// pagers) or an escape sequence can be either, so skip the rest cheaply.
	last := bytes.TrimRight(s.buf, " \r\n")
	if len(last) == 0 || !bytes.ContainsAny(last[len(last)-1:], ">#-") && !bytes.Contains(last[max(0, len(last)-16):], []byte{0x1b}) {
		return "", false, false
	}
	// Only the end of the output can be a pager or the prompt: look at the
	// tail, so that a long `show config` is not rescanned whole.
	start := max(0, len(s.buf)-tailBytes)
	tail := normalise(s.buf[start:])
	if start == 0 {
		tail = "\n" + tail // the first line starts a line
	}
	if _, ok := pagerAt([]byte(tail)); ok {
		return "", true, false
	}
	m := promptRE.FindStringSubmatch(tail)
	if m == nil || (s.prompt != "" && m[1] != s.prompt) {
		return "", false, false
	}
	if s.prompt == "" {
		s.prompt = m[1]
	}
	// Japanese consoles answer in their own character set (Shift_JIS by
	// default): the prompt and pager are ASCII, the rest is decoded here.
	clean, cs := DecodeConsole(normalise(s.buf), s.charset)
	s.charset = cs
	if cap(s.buf) <= maxPooledBuf {
		b := s.buf[:0]
		readBufs.Put(&b)
	}
	s.buf = nil // nothing stays with the session between commands
	return stripEcho(strings.TrimSuffix(clean, m[1]), cmd), false, true
}

// tailBytes is how much of the end of the output is searched for the
// prompt or the pager: far more than either.
const tailBytes = 512

// normalise drops CRs, NULs, escape sequences (ESC [ params letter) and
// so backspace-erased pager prompts (CR + spaces + CR) leave only spaces;
// RTX ends lines with CRLF. One pass, one copy: it runs on every output.
func normalise(b []byte) string {
	var out strings.Builder
	out.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\r' || c == 0:
			continue
		case c == 0x1b && i+1 < len(b) && b[i+1] == '[':
			j := i + 2
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == ';' || b[j] == '?') {
				j++
			}
			if j < len(b) && (b[j] >= 'A' && b[j] <= 'Z' || b[j] >= 'a' && b[j] <= 'z') {
				i = j
				continue
			}
		}
		out.WriteByte(c)
	}
	return out.String()
}

// stripEcho drops the echoed command line, lines that were only an erased
// pager prompt (now blanks of spaces) and trailing spaces.
func stripEcho(out, cmd string) string {
	if cmd == "" {
		return out
	}
	first, rest, _ := strings.Cut(out, "\n")
	if strings.TrimSpace(first) == cmd {
		out = rest
	}
	var b strings.Builder
	b.Grow(len(out))
	n := 0
	for l := range strings.SplitSeq(out, "\n") {
		if strings.TrimSpace(l) == "" && len(l) > 0 {
			continue
		}
		if n > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimRight(l, " "))
		n++
	}
	return b.String()
}

// Close ends the session.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	// The connection first: closing the channel alone writes to a router
	// that may not be reading.
	err := s.client.Close()
	if s.sess != nil {
		s.sess.Close()
	}
	return err
}
