// Package testenv lets tests that need real parts of the machine (promtool,
// prometheus, Alertmanager, network namespaces) say so: they skip with the
// reason on a developer's machine that lacks the part, and fail in CI, where
// `make test` installs everything.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips the test, or fails it in CI, because what names is missing.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is missing in CI: %s", what, hint)
	}
	t.Skipf("%s is missing (%s)", what, hint)
}

// Binary returns the path of a program the test needs.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "run `make test-deps` as root to install the Debian packages the tests use")
	}
	return p
}
