package rtxsim

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"
)

// Start serves r on a loopback port for the rest of the test and writes a
// known_hosts file holding the server's host key. It returns the server and
// the known_hosts path.
func Start(t testing.TB, r *Router, user, password string) (*Server, string) {
	t.Helper()
	key, err := NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", r, key, user, password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, key.PublicKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, kh
}
