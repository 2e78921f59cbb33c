package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// logfmtEncoder renders each entry as one logfmt line
// (ts=… level=info msg="…" key=value …), the format Prometheus-family daemons
// log in. It lets zap's JSON encoder do the typed field encoding and then
// flattens that one JSON object, keeping key order, so every zap field type
// works without a second encoder implementation. Nested objects and arrays
// are written as quoted JSON.
type logfmtEncoder struct {
	zapcore.Encoder
	pool buffer.Pool
}

func newLogfmtEncoder(ec zapcore.EncoderConfig) zapcore.Encoder {
	return &logfmtEncoder{Encoder: zapcore.NewJSONEncoder(ec), pool: buffer.NewPool()}
}

func (e *logfmtEncoder) Clone() zapcore.Encoder {
	return &logfmtEncoder{Encoder: e.Encoder.Clone(), pool: e.pool}
}

func (e *logfmtEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	js, err := e.Encoder.EncodeEntry(ent, fields)
	if err != nil {
		return nil, err
	}
	defer js.Free()
	out := e.pool.Get()
	if err := jsonToLogfmt(js.Bytes(), out); err != nil {
		out.Free()
		return nil, fmt.Errorf("logfmt: %w", err)
	}
	out.AppendByte('\n')
	return out, nil
}

func jsonToLogfmt(js []byte, out *buffer.Buffer) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	first := true
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if !first {
			out.AppendByte(' ')
		}
		first = false
		out.AppendString(logfmtKey(key))
		out.AppendByte('=')
		out.AppendString(logfmtValue(raw))
	}
	_, err := dec.Token() // }
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

func logfmtKey(k string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '=' || r == '"' {
			return '_'
		}
		return r
	}, k)
}

func logfmtValue(raw json.RawMessage) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw)
		}
	} else {
		s = string(raw) // numbers, booleans, null, nested JSON
	}
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r <= ' ' || r == '=' || r == '"' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
