package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// Email sends alerts over SMTP: implicit TLS on port 465, else STARTTLS
// (required unless RequireTLS is false), AUTH PLAIN or LOGIN when a user is
// set, one multipart text + HTML message per alert. Messages about the same
// finding thread together (In-Reply-To/References on its fingerprint).
type Email struct {
	Smarthost  string
	From       string
	To         []string
	Username   string
	Password   string
	RequireTLS bool
	// RootCAs verifies the server's certificate; nil uses the system's.
	RootCAs *x509.CertPool
	Hello   string
	Now     func() time.Time
}

// Notify sends one message per alert over one connection.
func (e *Email) Notify(ctx context.Context, alerts []Alert) (bool, error) {
	host, port, err := net.SplitHostPort(e.Smarthost)
	if err != nil {
		return false, fmt.Errorf("smarthost %q: %w", e.Smarthost, err)
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	tlsCfg := &tls.Config{ServerName: host, RootCAs: e.RootCAs, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	if port == "465" {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", e.Smarthost)
	} else {
		conn, err = d.DialContext(ctx, "tcp", e.Smarthost)
	}
	if err != nil {
		return true, fmt.Errorf("connect %s: %w", e.Smarthost, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A server that never answers holds the delivery until its deadline;
	// shutting down ends it at once.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return true, fmt.Errorf("smtp %s: %w", e.Smarthost, err)
	}
	defer c.Close()
	if e.Hello != "" {
		if err := c.Hello(e.Hello); err != nil {
			return true, fmt.Errorf("smtp HELO: %w", err)
		}
	}
	if _, isTLS := conn.(*tls.Conn); !isTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return true, fmt.Errorf("smtp STARTTLS: %w", err)
			}
		} else if e.RequireTLS {
			return false, fmt.Errorf("smtp %s does not offer STARTTLS and require_tls is on", e.Smarthost)
		}
	}
	if e.Username != "" {
		auth := smtp.PlainAuth("", e.Username, e.Password, host)
		if ok, mechs := c.Extension("AUTH"); ok && !strings.Contains(mechs, "PLAIN") && strings.Contains(mechs, "LOGIN") {
			auth = &loginAuth{e.Username, e.Password}
		}
		if err := c.Auth(auth); err != nil {
			return false, fmt.Errorf("smtp AUTH as %s: %w", e.Username, err)
		}
	}
	var msgs [][]byte
	if len(alerts) > 0 && alerts[0].Group != "" {
		msg, err := e.groupMessage(alerts)
		if err != nil {
			return false, err
		}
		msgs = append(msgs, msg)
	} else {
		for _, a := range alerts {
			msg, err := e.message(a)
			if err != nil {
				return false, err
			}
			msgs = append(msgs, msg)
		}
	}
	for _, msg := range msgs {
		if err := c.Mail(e.From); err != nil {
			return true, fmt.Errorf("smtp MAIL FROM: %w", err)
		}
		for _, to := range e.To {
			if err := c.Rcpt(to); err != nil {
				return false, fmt.Errorf("smtp RCPT TO %s: %w", to, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			return true, fmt.Errorf("smtp DATA: %w", err)
		}
		if _, err := w.Write(msg); err != nil {
			return true, fmt.Errorf("smtp DATA: %w", err)
		}
		if err := w.Close(); err != nil {
			return true, fmt.Errorf("smtp DATA: %w", err)
		}
	}
	if err := c.Quit(); err != nil {
		return false, nil // delivered; a failing QUIT loses nothing
	}
	return false, nil
}

// threadID is the Message-ID every message about one finding refers to.
func threadID(fingerprint string) string {
	h := sha256.Sum256([]byte(fingerprint))
	return "<" + hex.EncodeToString(h[:12]) + "@vpnwatchd>"
}

// groupMessage is one e-mail for a grouped message, threaded per group.
func (e *Email) groupMessage(alerts []Alert) ([]byte, error) {
	status := StatusResolved
	if firingOf(alerts) {
		status = StatusFiring
	}
	return e.compose(MessageTitle(alerts), MessageText(alerts), MessageHTML(alerts), alerts[0].Group, status)
}

func (e *Email) message(a Alert) ([]byte, error) {
	return e.compose(Title(a), Text(a), HTML(a), a.Fingerprint, a.Status)
}

// compose builds a multipart (text and HTML) e-mail in the thread of key.
func (e *Email) compose(subject, text, htmlText, key, status string) ([]byte, error) {
	now := time.Now()
	if e.Now != nil {
		now = e.Now()
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct{ typ, text string }{{"text/plain", text}, {"text/html", htmlText}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.typ + "; charset=UTF-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		qp.Write([]byte(part.text))
		qp.Close()
	}
	mw.Close()
	id := make([]byte, 12)
	rand.Read(id)
	var h bytes.Buffer
	fmt.Fprintf(&h, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", e.From, strings.Join(e.To, ", "), encodeHeader(subject), now.Format(time.RFC1123Z))
	fmt.Fprintf(&h, "Message-ID: <%s@vpnwatchd>\r\nIn-Reply-To: %s\r\nReferences: %s\r\n", hex.EncodeToString(id), threadID(key), threadID(key))
	fmt.Fprintf(&h, "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=%s\r\nX-Vpnwatchd-Status: %s\r\n\r\n", mw.Boundary(), status)
	return append(h.Bytes(), body.Bytes()...), nil
}

// encodeHeader Q-encodes a header that is not plain ASCII (the "—" in
// titles).
func encodeHeader(s string) string {
	for _, r := range s {
		if r > 127 {
			return mimeQ(s)
		}
	}
	return s
}

func mimeQ(s string) string { return mimeWordEncoder.Encode("UTF-8", s) }

// loginAuth is SMTP AUTH LOGIN, for servers that offer no PLAIN.
type loginAuth struct{ user, pass string }

func (a *loginAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS && !strings.HasPrefix(si.Name, "localhost") && si.Name != "127.0.0.1" {
		return "", nil, errors.New("refusing AUTH LOGIN without TLS")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(from []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(from))) {
	case "username:":
		return []byte(a.user), nil
	case "password:":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected AUTH LOGIN challenge %q", from)
}

var mimeWordEncoder = mime.QEncoding
