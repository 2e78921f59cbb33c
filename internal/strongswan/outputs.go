package strongswan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/strongswan/govici/vici"
)

// Outputs are one poll's raw answers by file name, as a support bundle
// keeps them (strongswan/NAME/FILE), so that `diagnose` builds the same
// snapshot offline.
type Outputs map[string][]byte

// The files of Outputs. FILE+ErrorSuffix holds why FILE could not be read
// (a command that failed), so that an offline diagnosis says what was not
// checked, as the live poll did.
const (
	FileConns     = "list-conns.json"  // vici list-conns, one object per connection
	FileSAs       = "list-sas.json"    // vici list-sas, one object per IKE SA
	FileAddresses = "ip-addr.json"     // ip -d -j addr
	FileRuleset   = "nft-ruleset.json" // nft -j list ruleset
	FileBGP       = "bgp-summary.json" // vtysh -c 'show bgp ipv4 unicast summary json'
	FileEvents    = "events.json"      // the events and charon log lines kept per connection
	ErrorSuffix   = ".error"
)

// Files lists the file names Outputs may hold.
func Files() []string {
	var out []string
	for _, f := range []string{FileConns, FileSAs, FileAddresses, FileRuleset, FileBGP, FileEvents} {
		out = append(out, f, f+ErrorSuffix)
	}
	return out
}

// EncodeMessages writes vici messages as a JSON array of objects, keys in
// the order charon sent them (their order is meaningful: child SAs).
func EncodeMessages(msgs []*vici.Message) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		encodeMessage(&b, m)
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

func encodeMessage(b *bytes.Buffer, m *vici.Message) {
	b.WriteString("{")
	for i, k := range m.Keys() {
		if i > 0 {
			b.WriteString(",")
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteString(":")
		switch v := m.Get(k).(type) {
		case *vici.Message:
			encodeMessage(b, v)
		case []string:
			if v == nil {
				v = []string{} // an empty list, not null
			}
			data, _ := json.Marshal(v)
			b.Write(data)
		default: // a string
			data, _ := json.Marshal(v)
			b.Write(data)
		}
	}
	b.WriteString("}")
}

// DecodeMessages reads what EncodeMessages wrote.
func DecodeMessages(data []byte) ([]*vici.Message, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var out []*vici.Message
	for dec.More() {
		if err := expectDelim(dec, '{'); err != nil {
			return nil, err
		}
		m, err := decodeMessage(dec)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := expectDelim(dec, ']'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("offset %d: data after the list", dec.InputOffset())
	}
	return out, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("offset %d: want %q, got %v", dec.InputOffset(), want, tok)
	}
	return nil
}

// decodeMessage reads an object's members after its '{', in order.
func decodeMessage(dec *json.Decoder) (*vici.Message, error) {
	m := vici.NewMessage()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
		}
		key, _ := tok.(string)
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
		}
		var value any
		switch v := tok.(type) {
		case string:
			value = v
		case json.Delim:
			switch v {
			case '{':
				if value, err = decodeMessage(dec); err != nil {
					return nil, err
				}
			case '[':
				list := []string{}
				for dec.More() {
					tok, err := dec.Token()
					if err != nil {
						return nil, fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
					}
					s, ok := tok.(string)
					if !ok {
						return nil, fmt.Errorf("offset %d: %q: a list of strings holds %v", dec.InputOffset(), key, tok)
					}
					list = append(list, s)
				}
				if err := expectDelim(dec, ']'); err != nil {
					return nil, err
				}
				value = list
			}
		default:
			return nil, fmt.Errorf("offset %d: %q: vici values are strings, lists or sections, not %v", dec.InputOffset(), key, tok)
		}
		if err := m.Set(key, value); err != nil {
			return nil, fmt.Errorf("offset %d: %q: %w", dec.InputOffset(), key, err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return m, nil
}

// failed is the text of FILE+ErrorSuffix, one line.
func failed(outs Outputs, file string) (string, bool) {
	e, ok := outs[file+ErrorSuffix]
	return strings.TrimSpace(string(e)), ok
}
