package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

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
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	if err := c.resolveFiles(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes and validates a configuration without touching the file
// system; file names the source in error messages. Secrets are not read: use
// Load for a configuration the daemon can run with.
func Parse(data []byte, file string) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: file, Msg: "the file is empty (see configs/example.yaml)"}
		}
		return nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 {
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
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	v := &validator{file: file, pos: d.pos}
	v.validate(c)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	c.pos = d.pos
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// syntaxError turns yaml.v3's "yaml: line 3: msg" into "file:3: msg".
func syntaxError(file string, err error) error {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return &Error{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}
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
		s, err := readSecret(c.path(name))
		if err != nil {
			v.errorf(path, "%v", err)
		}
		return s
	}
	for i := range c.Routers {
		r := &c.Routers[i]
		p := fmt.Sprintf("routers[%d]", i)
		r.Password = read(p+".password_file", r.PasswordFile)
		r.PrivateKey = read(p+".private_key_file", r.PrivateKeyFile)
		r.PrivateKeyPassphrase = read(p+".private_key_passphrase_file", r.PrivateKeyPassphraseFile)
		if kh, err := c.path(r.KnownHosts); err != nil {
			v.errorf(p+".known_hosts", "%v", err)
		} else if _, err := os.Stat(kh); err != nil {
			v.errorf(p+".known_hosts", "%v (create it with: ssh-keyscan -p PORT HOST > %s)", err, kh)
		} else {
			r.KnownHosts = kh
		}
	}
	for i := range c.Alerting.Slack {
		s := &c.Alerting.Slack[i]
		s.WebhookURL = read(fmt.Sprintf("alerting.slack[%d].webhook_url_file", i), s.WebhookURLFile)
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
			}
		}
	}
	for i := range c.Alerting.Webhook {
		w := &c.Alerting.Webhook[i]
		p := fmt.Sprintf("alerting.webhook[%d]", i)
		w.ResolvedURL = Secret(w.URL)
		if w.URLFile != "" {
			w.ResolvedURL = read(p+".url_file", w.URLFile)
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
	return p, nil
}

// readSecret reads a small regular file and trims the trailing newline that
// editors and `echo` add.
func readSecret(path string, err error) (Secret, error) {
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
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
