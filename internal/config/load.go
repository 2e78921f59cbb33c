package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file, located by line and key path.
type Error struct {
	File string
	Line int
	Path string
	Msg  string
}

// Error renders "file:line: path: message", the form editors and CI logs link.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads, validates and resolves the configuration file at path: every
// problem is reported at once, joined, each as an *Error. Secrets named by
// *_file keys are read; the files they name must exist.
func Load(path string) (*Config, error) { return LoadChecked(path, nil) }

// LoadChecked is Load that also checks the rule overrides against the
// rules there are (they live downstream of the configuration, so their
// owner names them), reporting the problems of every phase at once.
func LoadChecked(path string, ruleNames []string) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data, path)
	if c == nil {
		return nil, err // not YAML at all
	}
	// The files named are checked even when keys are wrong, so that one run
	// reports every problem of every phase.
	if ferr := c.resolveFiles(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if ruleNames != nil {
		if rerr := c.CheckRuleNames(ruleNames); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// MaxFileSize bounds a configuration file. Decoding costs several times
// the file's size in memory (100 MiB of comments took 500 MiB, 100 MiB of
// list items 2.4 GiB), and the configuration of a large estate is tens of
// KiB: a bigger file is a mistake (a log or a dump named by --config.file),
// refused before it is read.
const MaxFileSize = 4 << 20

// readConfig reads the configuration file, refusing one over MaxFileSize
// by its size before reading it, and reading at most that much of what
// has no size (a pipe).
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxFileSize {
		return nil, tooLarge(path, st.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load config: read %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path, -1)
	}
	return data, nil
}

// tooLarge is the error for a configuration of size bytes (-1: unknown,
// more than MaxFileSize).
func tooLarge(file string, size int64) error {
	const mib = 1 << 20
	is := fmt.Sprintf("more than %d MiB", MaxFileSize/mib)
	if size >= 0 {
		// Rounded up, so that a file just over the limit does not read as
		// the limit itself.
		is = strings.TrimSuffix(fmt.Sprintf("%.1f", math.Ceil(float64(size)*10/mib)/10), ".0") + " MiB"
	}
	return &Error{File: file, Msg: fmt.Sprintf("the configuration is %s; vpnwatchd reads at most %d MiB", is, MaxFileSize/mib)}
}

// Parse decodes and validates a configuration without touching the file
// system; file names the source in error messages. Secrets are not read: use
// Load for a configuration the daemon can run with.
func Parse(data []byte, file string) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(file, int64(len(data)))
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the file is empty (see configs/example.yaml)"}
		}
		return nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		return nil, &Error{File: file, Msg: "the file has no settings (see configs/example.yaml)"}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: file, Line: extra.Line, Msg: "more than one YAML document; vpnwatchd reads exactly one"}
	}
	c := Default()
	c.File = file
	d := &decoder{file: file, pos: map[string]int{}}
	d.decode(doc.Content[0], reflectValue(c), "")
	// Every problem at once: the keys that decoded are validated even when
	// others did not (a field that failed keeps its default).
	c.pos = d.pos
	v := &validator{file: file, pos: d.pos}
	v.validate(c)
	if errs := append(d.errs, v.errs...); len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// syntaxError turns yaml.v3's "yaml: line 3: msg" into "file:3: msg".
// yaml.v3 counts lines from 1 for scanner errors but from 0 for parser
// errors ("did not find expected key", …: it prints the 0-based line of
// the structure being parsed, or of the problem), and prints no line at
// all for line 1: corrected here so the line named is the one to look at.
func syntaxError(file string, err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: file, Line: 1, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	if yamlParserProblem(m[2]) {
		line++
	}
	return &Error{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
}

// yamlParserProblem reports whether a yaml.v3 message comes from its parser
// (parserc.go), whose line numbers start at 0, rather than its scanner.
func yamlParserProblem(msg string) bool {
	for _, p := range []string{"did not find expected ", "found undefined tag handle", "found duplicate %YAML directive",
		"found incompatible YAML document", "found duplicate %TAG directive"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// CheckRuleNames reports rule overrides that name no known rule. The rules
// live downstream of the configuration, so their owner calls this.
func (c *Config) CheckRuleNames(known []string) error {
	v := &validator{file: c.File, pos: c.pos}
	for _, name := range slices.Sorted(maps.Keys(c.Rules)) {
		if !slices.Contains(known, name) {
			v.errorf("rules."+name, "unknown rule (known rules: %s)", strings.Join(known, ", "))
		}
	}
	return errors.Join(v.errs...)
}

// resolveFiles reads every secret named by a *_file key and checks that the
// other files the daemon will need exist.
func (c *Config) resolveFiles() error {
	v := &validator{file: c.File, pos: c.pos}
	read := func(path, name string) Secret {
		if name == "" {
			return ""
		}
		fp, err := c.path(name)
		if err == nil {
			c.files = append(c.files, fileUse{key: path, path: fp, secret: true})
		}
		s, err := readSecret(fp, err)
		if err != nil {
			v.errorf(path, "%v%s", err, c.credentialsHint(fp))
		} else if st, err := os.Stat(fp); err == nil && st.Mode().Perm()&0o077 != 0 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %s: permissions %04o let group or others read a secret (chmod 600 %s)", path, fp, st.Mode().Perm(), fp))
		}
		return s
	}
	login := func(p string, l *SSHLogin) {
		l.Password = read(p+".password_file", l.PasswordFile)
		if l.PrivateKeyFile != "" {
			kp, err := c.path(l.PrivateKeyFile)
			if err == nil {
				c.files = append(c.files, fileUse{key: p + ".private_key_file", path: kp, secret: true})
			}
			if l.PrivateKey, err = readSecretFile(kp, err, true); err != nil {
				v.errorf(p+".private_key_file", "%v%s", err, c.credentialsHint(kp))
			}
		}
		l.PrivateKeyPassphrase = read(p+".private_key_passphrase_file", l.PrivateKeyPassphraseFile)
		if kh, err := c.path(l.KnownHosts); err != nil {
			v.errorf(p+".known_hosts", "%v", err)
		} else if _, err := os.Stat(kh); err != nil {
			v.errorf(p+".known_hosts", "%v (create it with: ssh-keyscan -p PORT HOST >> %s)", err, kh)
		} else {
			l.KnownHosts = kh
			c.files = append(c.files, fileUse{key: p + ".known_hosts", path: kh})
		}
	}
	for i := range c.Routers {
		login(fmt.Sprintf("routers[%d]", i), &c.Routers[i].SSHLogin)
	}
	for i := range c.StrongSwan {
		if _, remote := c.StrongSwan[i].Remote(); remote {
			login(fmt.Sprintf("strongswan[%d]", i), &c.StrongSwan[i].SSHLogin)
		}
	}
	for i := range c.Alerting.Slack {
		s := &c.Alerting.Slack[i]
		p := fmt.Sprintf("alerting.slack[%d].webhook_url_file", i)
		s.WebhookURL = read(p, s.WebhookURLFile)
		if s.WebhookURL != "" {
			if problem := urlProblem(s.WebhookURL.Reveal()); problem != "" {
				v.errorf(p, "the file's content is %s", problem)
			}
		}
	}
	for i := range c.Alerting.Email {
		e := &c.Alerting.Email[i]
		e.Password = read(fmt.Sprintf("alerting.email[%d].password_file", i), e.PasswordFile)
		if e.CAFile != "" {
			if p, err := c.path(e.CAFile); err != nil {
				v.errorf(fmt.Sprintf("alerting.email[%d].ca_file", i), "%v", err)
			} else if _, err := os.Stat(p); err != nil {
				v.errorf(fmt.Sprintf("alerting.email[%d].ca_file", i), "%v", err)
			} else {
				e.CAFile = p
				c.files = append(c.files, fileUse{key: fmt.Sprintf("alerting.email[%d].ca_file", i), path: p})
			}
		}
	}
	for i := range c.Alerting.Webhook {
		w := &c.Alerting.Webhook[i]
		p := fmt.Sprintf("alerting.webhook[%d]", i)
		w.ResolvedURL = Secret(w.URL)
		if w.URLFile != "" {
			w.ResolvedURL = read(p+".url_file", w.URLFile)
			if w.ResolvedURL != "" {
				if problem := urlProblem(w.ResolvedURL.Reveal()); problem != "" {
					v.errorf(p+".url_file", "the file's content is %s", problem)
				}
			}
		}
		w.HMACSecret = read(p+".secret_file", w.SecretFile)
	}
	return errors.Join(v.errs...)
}

// path expands $CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=) and
// makes a relative path relative to the configuration file's directory.
func (c *Config) path(name string) (string, error) {
	var missing bool
	p := os.Expand(name, func(v string) string {
		if v != "CREDENTIALS_DIRECTORY" {
			missing = true
			return "$" + v
		}
		d := os.Getenv(v)
		if d == "" {
			missing = true
		}
		return d
	})
	if missing {
		return "", fmt.Errorf("%q: only $CREDENTIALS_DIRECTORY may be used in a path, and only when systemd sets it (LoadCredential=)", name)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(c.File), p)
	}
	return c.fromCredentials(p), nil
}

// readSecret reads a small regular file and trims the trailing newline that
// editors and `echo` add.
func readSecret(path string, err error) (Secret, error) {
	return readSecretFile(path, err, false)
}

// secretReadTimeout bounds reading one secret file: a hung network mount
// must not freeze start-up or a reload.
const secretReadTimeout = 5 * time.Second

// readSecretFile reads a secret. It refuses anything but a regular file
// before opening it (opening a FIFO blocks until someone writes to it),
// opens without blocking, gives up after secretReadTimeout, and, for a
// private key, refuses a file that group or others can read, as OpenSSH
// does. Errors name the file, never its content.
func readSecretFile(path string, err error, privateKey bool) (Secret, error) {
	if err != nil {
		return "", err
	}
	type result struct {
		s   Secret
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := readRegular(path, privateKey)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-time.After(secretReadTimeout):
		return "", fmt.Errorf("%s: no answer from the file system within %s (a hung mount?)", path, secretReadTimeout)
	}
}

func readRegular(path string, privateKey bool) (Secret, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file (%s); a secret must be a plain file", path, fileKind(st.Mode()))
	}
	if privateKey && st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: permissions %04o are too open for a private key: it must not be readable by group or others (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() { // swapped for something else since the check
		return "", fmt.Errorf("%s: not a regular file (%s); a secret must be a plain file", path, fileKind(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > maxSecretFileSize {
		return "", fmt.Errorf("%s: larger than %d bytes, not a secret file", path, maxSecretFileSize)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s: file is empty", path)
	}
	return Secret(s), nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "not a plain file"
}
