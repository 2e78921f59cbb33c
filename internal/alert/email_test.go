package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/vpnwatchd/vpnwatchd/internal/testenv"
)

// smtpServer is a real SMTP server (emersion/go-smtp) on loopback that
// requires STARTTLS and AUTH PLAIN before accepting mail.
type smtpServer struct {
	mu    sync.Mutex
	mails [][]byte
	auth  []string
	tls   bool
}

func (s *smtpServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.Conn().(*tls.Conn)
	s.mu.Lock()
	s.tls = s.tls || isTLS
	s.mu.Unlock()
	return &smtpSession{s: s}, nil
}

type smtpSession struct {
	s      *smtpServer
	authed bool
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "vpnwatchd" || pass != "smtp-pass" {
			return errors.New("bad credentials")
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.auth = append(ss.s.auth, user)
		ss.s.mu.Unlock()
		return nil
	}), nil
}
func (ss *smtpSession) Mail(string, *smtp.MailOptions) error {
	if !ss.authed {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	return nil
}
func (ss *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, b)
	ss.s.mu.Unlock()
	return err
}
func (ss *smtpSession) Reset()        {}
func (ss *smtpSession) Logout() error { return nil }

func TestEmailSTARTTLSAuthMultipart(t *testing.T) {
	c := testenv.SelfSigned(t)
	cert, pool := c.TLS, c.Pool
	backend := &smtpServer{}
	srv := smtp.NewServer(backend)
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.AllowInsecureAuth = false
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	e := &Email{Smarthost: ln.Addr().String(), From: "vpnwatchd@example.com", To: []string{"noc@example.com"},
		Username: "vpnwatchd", Password: "smtp-pass", RequireTLS: true, RootCAs: pool}
	a := Alert{Fingerprint: "BGPDownIPsecUp|vpn-0a1b2c3d4e5f67890", Status: StatusFiring, Finding: seedFinding(), StartsAt: t0}
	resolved := a
	resolved.Status, resolved.EndsAt = StatusResolved, t0.Add(time.Hour)
	if _, err := e.Notify(context.Background(), []Alert{a, resolved}); err != nil {
		t.Fatal(err)
	}
	if len(backend.mails) != 2 || len(backend.auth) != 1 {
		t.Fatalf("%d mails, auth %v", len(backend.mails), backend.auth)
	}
	var threads []string
	for i, raw := range backend.mails {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		dec := new(mime.WordDecoder)
		subj, _ := dec.DecodeHeader(m.Header.Get("Subject"))
		if i == 0 && subj != "[FIRING critical] BGPDownIPsecUp — vpn-0a1b2c3d4e5f67890 (osaka-office), tunnel 203.0.113.10, RTX osaka-rtx1200 tunnel 1" {
			t.Errorf("subject %q", subj)
		}
		if _, err := m.Header.Date(); err != nil || m.Header.Get("Message-ID") == "" {
			t.Errorf("headers: %v", m.Header)
		}
		threads = append(threads, m.Header.Get("In-Reply-To"))
		mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/alternative" {
			t.Fatalf("content type %q %v", mt, err)
		}
		mr := multipart.NewReader(m.Body, params["boundary"])
		var types []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(quotedprintable.NewReader(p))
			types = append(types, strings.Split(p.Header.Get("Content-Type"), ";")[0])
			if i == 0 && strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") &&
				(!strings.Contains(string(body), "AWS side:") || !strings.Contains(string(body), "RTX side:") || !strings.Contains(string(body), "ip tunnel tcp mss limit 1240")) {
				t.Errorf("text part:\n%s", body)
			}
			if i == 0 && strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") && !strings.Contains(string(body), "<th align=\"left\">RTX side</th>") {
				t.Errorf("html part:\n%s", body)
			}
		}
		if strings.Join(types, ",") != "text/plain,text/html" {
			t.Errorf("parts %v", types)
		}
	}
	if threads[0] == "" || threads[0] != threads[1] {
		t.Errorf("firing and resolved do not thread together: %q", threads)
	}
	// A server without STARTTLS is refused while require_tls is on.
	plain := smtp.NewServer(backend)
	plain.AllowInsecureAuth = true
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	go plain.Serve(ln2)
	defer plain.Close()
	e.Smarthost = ln2.Addr().String()
	if retry, err := e.Notify(context.Background(), []Alert{a}); err == nil || retry || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Errorf("no STARTTLS: %v %v", retry, err)
	}
}
