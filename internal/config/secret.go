package config

// Secret holds a password, key or URL read from a file. Every way of printing
// it (fmt, JSON, YAML, zap) shows "<redacted>"; only Reveal gives the value.
type Secret string

const redacted = "<redacted>"

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText redacts the secret in JSON, YAML and zap's reflection encoder.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself, for the one place that uses it.
func (s Secret) Reveal() string { return string(s) }
