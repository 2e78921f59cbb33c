package rtxsim

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// pageLines is the console height before `console lines infinity`.
const pageLines = 24

// PagerPrompt is what the simulated console prints when a page is full on
// an English console: the English wording is not known for sure (a Node
// test matches "--- more ---"), so the simulator uses that. A Japanese
// console prints PagerPromptJa in its own character set, as scripts that
// drive RTX consoles expect (shared/notes/rtx.md, Paging).
const (
	PagerPrompt   = "--- more ---"
	PagerPromptJa = "---つづく---"
)

// encode renders UTF-8 text in a console character set's bytes.
func encode(text, charset string) string {
	var enc encoding.Encoding
	switch charset {
	case "ja.sjis":
		enc = japanese.ShiftJIS
	case "ja.euc":
		enc = japanese.EUCJP
	default:
		return text // ja.utf8; ascii consoles are sent only ASCII
	}
	out, err := enc.NewEncoder().String(text)
	if err != nil {
		panic(fmt.Sprintf("rtxsim: %s cannot encode %q: %v", charset, text, err))
	}
	return out
}

// Server serves one simulated router over SSH.
type Server struct {
	Router   *Router
	User     string
	Password string
	// AuthorizedKey, when set, is accepted for public-key login.
	AuthorizedKey ssh.PublicKey
	// KeepPaging ignores `console lines infinity`, as a firmware might.
	KeepPaging bool

	cfg      *ssh.ServerConfig
	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
	sessions int // logins so far
	commands []string
	// unreachable: see SetUnreachable.
	unreachable atomic.Bool
	// stall: see SetStall.
	stall atomic.Int32
}

// Stall is a step of an SSH session, after the login, that a wedged router
// never answers.
type Stall int32

// The steps SetStall can leave unanswered.
const (
	StallNone        Stall = iota
	StallChannelOpen       // the session channel is neither accepted nor refused
	StallPTY               // the channel opens; the PTY request gets no reply
	StallShell             // the PTY is granted; the shell request gets no reply
)

// SetStall makes the router take logins and then leave one step of every
// new session unanswered, as a router whose SSH daemon is wedged (or out of
// sessions) does: the login succeeds and nothing follows.
func (s *Server) SetStall(st Stall) { s.stall.Store(int32(st)) }

// NewHostKey returns a fresh Ed25519 host key.
func NewHostKey() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

// Option changes how the server speaks SSH.
type Option func(*ssh.ServerConfig)

// LegacyOnly makes the server offer only what old RTX firmware does: SHA-1
// key exchange, CBC ciphers and HMAC-SHA1. Pair it with an ssh-rsa host key
// (LegacyHostKey).
func LegacyOnly() Option {
	return func(c *ssh.ServerConfig) {
		c.KeyExchanges = []string{ssh.InsecureKeyExchangeDH14SHA1, ssh.InsecureKeyExchangeDH1SHA1}
		c.Ciphers = []string{ssh.InsecureCipherAES128CBC}
		c.MACs = []string{ssh.HMACSHA1}
	}
}

// LegacyHostKey returns an RSA host key that signs only with ssh-rsa
// (SHA-1), as RTX1210 and older firmware do.
func LegacyHostKey() (ssh.Signer, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	s, err := ssh.NewSignerFromKey(k)
	if err != nil {
		return nil, err
	}
	return ssh.NewSignerWithAlgorithms(s.(ssh.AlgorithmSigner), []string{ssh.KeyAlgoRSA})
}

// Listen starts serving r on addr (e.g. "127.0.0.1:0") with hostKey.
func Listen(addr string, r *Router, hostKey ssh.Signer, user, password string, opts ...Option) (*Server, error) {
	s := &Server{Router: r, User: user, Password: password, conns: map[net.Conn]bool{}}
	s.cfg = &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if c.User() == s.User && string(pw) == s.Password && s.Password != "" {
				return nil, nil
			}
			return nil, errors.New("login incorrect")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if s.AuthorizedKey != nil && c.User() == s.User && string(key.Marshal()) == string(s.AuthorizedKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("key not authorized")
		},
		ServerVersion: "SSH-2.0-OpenSSH",
	}
	for _, o := range opts {
		o(s.cfg)
	}
	s.cfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtxsim: listen: %w", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Logins returns how many SSH sessions have logged in.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Commands returns every command line received, in order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// SetUnreachable cuts the router off as a failed office line or a reboot
// does: sessions are dropped and logins fail until it is set back.
func (s *Server) SetUnreachable(on bool) {
	s.unreachable.Store(on)
	if !on {
		return
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// Close stops the server and drops every session.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if s.unreachable.Load() {
			c.Close() // a line that is down: the login never happens
			continue
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(c, s.cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		if Stall(s.stall.Load()) == StallChannelOpen {
			continue // never answered: the client waits for a confirmation
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		shell, gone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(gone) // the client left: its connection closed
			started := false
			for req := range creqs {
				switch st := Stall(s.stall.Load()); {
				case req.Type == "pty-req" && st == StallPTY, req.Type == "shell" && st == StallShell:
					continue // no reply: the client waits for one
				}
				switch req.Type {
				case "pty-req", "window-change", "env":
					req.Reply(true, nil)
				case "shell":
					req.Reply(!started, nil)
					if !started {
						started = true
						close(shell)
					}
				default: // exec and subsystems: RTX exec support is unreliable
					req.Reply(false, nil)
				}
			}
		}()
		// A client that never asks for a shell is dropped after a while;
		// a stalled router waits for as long as the client does.
		giveUp := time.After(10 * time.Second)
		if Stall(s.stall.Load()) != StallNone {
			giveUp = nil
		}
		select {
		case <-shell:
		case <-gone:
			ch.Close()
			continue
		case <-giveUp:
			ch.Close()
			continue
		}
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		s.console(ch, sc)
		ch.Close()
	}
}

// console runs the interactive command line of one session.
func (s *Server) console(ch ssh.Channel, conn *ssh.ServerConn) {
	paging := true
	s.Router.mu.Lock()
	charset := s.Router.charset
	s.Router.mu.Unlock()
	w := func(text string) error {
		_, err := io.WriteString(ch, encode(strings.ReplaceAll(text, "\n", "\r\n"), charset))
		return err
	}
	if w(fmt.Sprintf("\n%s\n  Copyright (c) 1994-2026 Yamaha Corporation. All Rights Reserved.\n\n> ", s.Router.model)) != nil {
		return
	}
	buf := make([]byte, 1)
	var line []byte
	for {
		if _, err := ch.Read(buf); err != nil {
			return
		}
		switch b := buf[0]; b {
		case '\r', '\n':
			if b == '\n' && len(line) == 0 {
				continue // the \n of a \r\n
			}
			cmd := strings.Join(strings.Fields(string(line)), " ")
			line = line[:0]
			if w("\n") != nil {
				return
			}
			if cmd == "" {
				if w("> ") != nil {
					return
				}
				continue
			}
			s.mu.Lock()
			s.commands = append(s.commands, cmd)
			s.mu.Unlock()
			if !s.answer(ch, conn, cmd, &paging, &charset, w) {
				return
			}
			if w("> ") != nil {
				return
			}
		case 0x7f, 0x08:
			if len(line) > 0 {
				line = line[:len(line)-1]
				w("\b \b")
			}
		default:
			line = append(line, b)
			if _, err := ch.Write(buf); err != nil { // echo
				return
			}
		}
	}
}

// answer writes the output of one command; false ends the session.
func (s *Server) answer(ch ssh.Channel, conn *ssh.ServerConn, cmd string, paging *bool, charset *string, w func(string) error) bool {
	r := s.Router
	r.mu.Lock()
	drop, garbage, slow, hung, flood := r.dropNext, r.garbage > 0, r.slow, r.hung, r.flood
	r.dropNext, r.flood = false, false
	if garbage {
		r.garbage--
	}
	r.mu.Unlock()
	if drop {
		conn.Close()
		return false
	}
	if hung {
		conn.Wait() // silent until the client (or Close) ends the connection
		return false
	}
	if flood {
		line := strings.Repeat("TUNNEL[1]: flood ", 60) + "\r\n"
		for {
			if _, err := io.WriteString(ch, line); err != nil {
				return false // until the client gives up
			}
		}
	}
	switch {
	case cmd == "console lines infinity":
		*paging = s.KeepPaging
		return true
	case strings.HasPrefix(cmd, "console character "):
		cs := strings.TrimPrefix(cmd, "console character ")
		if !slices.Contains(Charsets, cs) {
			return w("Invalid parameter\n") == nil
		}
		*charset = cs // for this session, as on the router
		return true
	case strings.HasPrefix(cmd, "console columns "):
		return true
	case cmd == "exit" || cmd == "quit":
		return false
	}
	out, ok := r.OutputIn(cmd, *charset)
	if !ok {
		return w("Invalid command name\n") == nil
	}
	if garbage {
		// Raw bytes, in no character set.
		_, err := io.WriteString(ch, "\x00\x1b[2J\xff\xfe#$%&TUNNEL[?]: Current status is\x07\r\n\x1b[0m garbage \x01\x02\r\n")
		return err == nil
	}
	ls := strings.SplitAfter(out, "\n")
	for i, l := range ls {
		if slow > 0 {
			time.Sleep(slow)
		}
		if w(l) != nil {
			return false
		}
		if *paging && (i+1)%pageLines == 0 && i+1 < len(ls) && ls[i+1] != "" {
			prompt := PagerPrompt
			if isJapanese(*charset) {
				prompt = PagerPromptJa
			}
			if w(prompt) != nil {
				return false
			}
			key := make([]byte, 1)
			if _, err := ch.Read(key); err != nil {
				return false
			}
			if w("\r"+strings.Repeat(" ", len(encode(prompt, *charset)))+"\r") != nil {
				return false
			}
			if key[0] == 'q' {
				return true
			}
		}
	}
	return true
}
