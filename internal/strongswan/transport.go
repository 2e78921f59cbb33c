package strongswan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vpnwatchd/vpnwatchd/internal/backoff"
	"github.com/vpnwatchd/vpnwatchd/internal/sshlogin"
)

// transport reaches a gateway: its vici socket, and the read-only commands
// that say what strongSwan does not (interfaces, nftables, FRR).
type transport interface {
	dial(ctx context.Context) (net.Conn, error)
	run(ctx context.Context, c command) ([]byte, error)
	close()
}

// command is one read-only command on the gateway.
type command struct {
	name string
	args []string
}

func (c command) String() string { return c.name + " " + strings.Join(c.args, " ") }

// The only commands vpnwatchd runs on a gateway. Each only reads.
var (
	cmdAddresses = command{"ip", []string{"-d", "-j", "addr"}}
	cmdRuleset   = command{"nft", []string{"-j", "list", "ruleset"}}
)

// bgpSummary is FRR's BGP summary, with vtysh's socket directory if not
// the default.
func bgpSummary(vtySocket string) command {
	c := command{name: "vtysh"}
	if vtySocket != "" {
		c.args = append(c.args, "--vty_socket", vtySocket)
	}
	c.args = append(c.args, "-c", "show bgp ipv4 unicast summary json")
	return c
}

// allowed checks a command against the allowlist before it is run: what
// vpnwatchd sends a gateway must not depend on the call sites being right.
func allowed(c command) error {
	switch {
	case c.name == cmdAddresses.name && slices.Equal(c.args, cmdAddresses.args),
		c.name == cmdRuleset.name && slices.Equal(c.args, cmdRuleset.args):
		return nil
	case c.name == "vtysh":
		args := c.args
		if len(args) == 4 && args[0] == "--vty_socket" && strings.HasPrefix(args[1], "/") {
			args = args[2:]
		}
		if slices.Equal(args, []string{"-c", "show bgp ipv4 unicast summary json"}) {
			return nil
		}
	}
	return fmt.Errorf("%s: not an allowlisted read-only command", c)
}

// MaxOutput bounds one command's output (nft's ruleset of a busy firewall
// is the largest; a few MiB), live and in a support bundle.
const MaxOutput = 16 << 20

// local is a gateway on this host, its commands run in netns if set.
type local struct {
	socket string
	netns  string
}

func (l local) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", l.socket)
}

func (l local) run(ctx context.Context, c command) ([]byte, error) {
	if err := allowed(c); err != nil {
		return nil, err
	}
	name, args := c.name, c.args
	if l.netns != "" {
		args = append([]string{"netns", "exec", l.netns, name}, args...)
		name = "ip"
	}
	var stdout, stderr capped
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return output(c, cmd.Run(), &stdout, &stderr)
}

func (local) close() {}

// output is what a command that ended with err gave: its output, or an
// error with what it said on stderr, or that it said too much.
func output(c command, err error, stdout, stderr *capped) ([]byte, error) {
	if err != nil {
		if s := strings.TrimSpace(stderr.String()); s != "" {
			return nil, fmt.Errorf("%s: %w: %s", c, err, s)
		}
		return nil, fmt.Errorf("%s: %w", c, err)
	}
	if stdout.over {
		return nil, fmt.Errorf("%s: output larger than %d bytes", c, MaxOutput)
	}
	return stdout.Bytes(), nil
}

// capped keeps the first MaxOutput bytes written to it.
type capped struct {
	bytes.Buffer
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := MaxOutput - c.Len(); len(p) > room {
		c.over = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

// remote is a gateway reached over SSH: vici through stream-local
// forwarding (direct-streamlocal@openssh.com, what `ssh -L` does for a
// unix socket), commands as SSH exec requests. One SSH connection carries
// every session; it is made again after it breaks.
type remote struct {
	login     sshlogin.Config
	socket    string
	onConnect func(result string) // nil: not counted

	mu     sync.Mutex
	client *ssh.Client
	// After a failed login the next waits (5 s doubling to 5 min, as for
	// routers): the event watch retries every few seconds, and a gateway
	// that locks out repeated failures (fail2ban) must not see them.
	fails   int
	lastErr error
	until   time.Time
}

// Reconnecting after failed logins, as routers are.
const (
	reconnectBase = 5 * time.Second
	reconnectMax  = 5 * time.Minute
)

// connect returns the SSH connection, logging in if there is none.
func (r *remote) connect(ctx context.Context) (*ssh.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		return r.client, nil
	}
	if time.Now().Before(r.until) {
		return nil, fmt.Errorf("ssh %s@%s: not logging in again before %s after %d failed logins: %w",
			r.login.User, r.login.Address, r.until.Format(time.RFC3339), r.fails, r.lastErr)
	}
	c, err := sshlogin.Dial(ctx, r.login)
	if r.onConnect != nil {
		r.onConnect(sshlogin.Result(err))
	}
	if err != nil {
		r.fails++
		r.lastErr = err
		r.until = time.Now().Add(backoff.Policy{Base: reconnectBase, Max: reconnectMax}.Jittered(r.fails))
		return nil, fmt.Errorf("ssh %s@%s: %w", r.login.User, r.login.Address, err)
	}
	r.fails, r.lastErr = 0, nil
	r.client = c
	return c, nil
}

// broken drops c after a failure of the connection itself, so that the
// next use logs in again.
func (r *remote) broken(c *ssh.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == c {
		r.client.Close()
		r.client = nil
	}
}

func (r *remote) dial(ctx context.Context) (net.Conn, error) {
	c, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := c.DialContext(ctx, "unix", r.socket)
	if err != nil {
		// The server refusing the channel (no such socket, forwarding
		// not allowed) says the connection itself works.
		var refused *ssh.OpenChannelError
		if !errors.As(err, &refused) {
			r.broken(c)
		}
		return nil, fmt.Errorf("ssh %s@%s: forward to %s: %w (sshd must allow it: AllowStreamLocalForwarding yes, and AllowTcpForwarding yes or local — OpenSSH applies it to socket forwarding too; the user needs access to the socket)",
			r.login.User, r.login.Address, r.socket, err)
	}
	return withDeadlines(conn), nil
}

// withDeadlines bridges an SSH channel, which has no deadlines, to an
// in-memory pipe, which has: govici bounds its reads and writes with them
// (and fails at once on a connection without them).
func withDeadlines(ch net.Conn) net.Conn {
	near, far := net.Pipe()
	go func() {
		io.Copy(ch, far)
		ch.Close()
	}()
	go func() {
		io.Copy(far, ch)
		far.Close()
	}()
	return near
}

func (r *remote) run(ctx context.Context, c command) ([]byte, error) {
	if err := allowed(c); err != nil {
		return nil, err
	}
	client, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	// NewSession waits for the server without a deadline: a connection
	// that died silently would hold the poll forever.
	type opened struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		s, err := client.NewSession()
		ch <- opened{s, err}
	}()
	var sess *ssh.Session
	select {
	case o := <-ch:
		if o.err != nil {
			r.broken(client)
			return nil, fmt.Errorf("ssh %s@%s: session: %w", r.login.User, r.login.Address, o.err)
		}
		sess = o.s
	case <-ctx.Done():
		r.broken(client) // closing it ends the wait
		return nil, fmt.Errorf("ssh %s@%s: session: %w", r.login.User, r.login.Address, ctx.Err())
	}
	defer sess.Close()
	var stdout, stderr capped
	sess.Stdout, sess.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(shellLine(c)) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Close()
		return nil, fmt.Errorf("%s: %w", c, ctx.Err())
	}
	return output(c, err, &stdout, &stderr)
}

func (r *remote) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		r.client.Close()
		r.client = nil
	}
}

// shellLine quotes a command for the remote user's shell: every word in
// single quotes, so nothing in it is interpreted.
func shellLine(c command) string {
	words := []string{quote(c.name)}
	for _, a := range c.args {
		words = append(words, quote(a))
	}
	return strings.Join(words, " ")
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
