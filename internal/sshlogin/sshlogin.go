// Package sshlogin logs in to an SSH server the way vpnwatchd does for every
// device it reads: host keys always checked against an OpenSSH known_hosts
// file (only the key types known for the host are asked for), password or
// private key, a bounded login time, and legacy algorithms only on request
// for old router firmware.
package sshlogin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Config says how to log in to one host.
type Config struct {
	Address    string // host:port
	User       string
	Password   string
	PrivateKey []byte
	Passphrase []byte
	// KnownHosts is the OpenSSH known_hosts file the host key must be in.
	KnownHosts string
	// Legacy enables ssh-rsa (SHA-1) host keys, SHA-1 key exchanges and CBC
	// ciphers for old RTX firmware.
	Legacy bool
	// Timeout bounds the TCP connection and the login.
	Timeout time.Duration
}

// HostKeyError is a host key that is not in known_hosts (Unknown) or that
// differs from the one there (a changed key: a replaced host, or someone
// in the middle).
type HostKeyError struct {
	Address     string
	Fingerprint string // SHA256:… of the key the host offered
	KeyType     string
	Unknown     bool
	KnownHosts  string
	Want        []string // fingerprints and lines of the known keys
	keyscan     string
}

func (e *HostKeyError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("host key of %s is not in %s: the host offered %s %s; if that is the router's key (check it on its console), add it with: %s",
			e.Address, e.KnownHosts, e.KeyType, e.Fingerprint, e.keyscan)
	}
	return fmt.Sprintf("host key of %s CHANGED: the host offered %s %s but %s has %s; refusing to connect. If the host was replaced or re-keyed, replace the line with: %s",
		e.Address, e.KeyType, e.Fingerprint, e.KnownHosts, strings.Join(e.Want, ", "), e.keyscan)
}

// Result is a login's outcome as the connect counters label it: "ok" or
// "error".
func Result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// Dial connects and logs in.
func Dial(ctx context.Context, c Config) (*ssh.Client, error) {
	hostKeyCB, algos, err := hostKeyCheck(c)
	if err != nil {
		return nil, err
	}
	var auth []ssh.AuthMethod
	switch {
	case len(c.PrivateKey) > 0:
		var signer ssh.Signer
		if len(c.Passphrase) > 0 {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(c.PrivateKey, c.Passphrase)
		} else {
			signer, err = ssh.ParsePrivateKey(c.PrivateKey)
		}
		if err != nil {
			return nil, fmt.Errorf("private key: %w", err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	case c.Password != "":
		auth = append(auth, ssh.Password(c.Password),
			ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i := range qs {
					ans[i] = c.Password
				}
				return ans, nil
			}))
	default:
		return nil, errors.New("no password or private key")
	}
	cc := &ssh.ClientConfig{
		User: c.User, Auth: auth, HostKeyCallback: hostKeyCB, HostKeyAlgorithms: algos, Timeout: c.Timeout,
	}
	if c.Legacy {
		sup, ins := ssh.SupportedAlgorithms(), ssh.InsecureAlgorithms()
		cc.KeyExchanges = append(sup.KeyExchanges, ins.KeyExchanges...)
		cc.Ciphers = append(sup.Ciphers, ins.Ciphers...)
		cc.MACs = append(sup.MACs, ins.MACs...)
	}
	d := net.Dialer{Timeout: c.Timeout}
	conn, err := d.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	conn.SetDeadline(time.Now().Add(c.Timeout))
	sc, chans, reqs, err := ssh.NewClientConn(conn, c.Address, cc)
	if err != nil {
		conn.Close()
		var hk *HostKeyError
		if errors.As(err, &hk) {
			return nil, hk
		}
		return nil, fmt.Errorf("ssh login: %w", err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// hostKeyCheck builds the known_hosts check and the host key algorithms to
// ask for: only the types known for this host, so that a router offering a
// second key type is not mistaken for a changed key.
func hostKeyCheck(c Config) (ssh.HostKeyCallback, []string, error) {
	cb, err := knownhosts.New(c.KnownHosts)
	if err != nil {
		return nil, nil, fmt.Errorf("known_hosts %s: %w", c.KnownHosts, err)
	}
	host, port, _ := net.SplitHostPort(c.Address)
	keyscan := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, host, c.KnownHosts)
	var algos []string
	probe := cb(knownhosts.Normalize(c.Address), &net.TCPAddr{}, probeKey{})
	var ke *knownhosts.KeyError
	if errors.As(probe, &ke) {
		for _, k := range ke.Want {
			switch t := k.Key.Type(); t {
			case ssh.KeyAlgoRSA:
				algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256)
				if c.Legacy {
					algos = append(algos, ssh.KeyAlgoRSA)
				}
			default:
				algos = append(algos, t)
			}
		}
	}
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			return err
		}
		e := &HostKeyError{Address: c.Address, Fingerprint: ssh.FingerprintSHA256(key), KeyType: key.Type(),
			Unknown: len(ke.Want) == 0, KnownHosts: c.KnownHosts, keyscan: keyscan}
		for _, w := range ke.Want {
			e.Want = append(e.Want, fmt.Sprintf("%s %s (line %d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Line))
		}
		return e
	}
	return check, algos, nil
}

// probeKey is a key no known_hosts line holds, used to learn which keys are
// known for a host.
type probeKey struct{}

func (probeKey) Type() string                                 { return "vpnwatchd-probe" }
func (probeKey) Marshal() []byte                              { return []byte("vpnwatchd-probe") }
func (probeKey) Verify(data []byte, sig *ssh.Signature) error { return errors.New("probe") }
