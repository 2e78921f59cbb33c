package logging

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestLogfmt(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Config{Level: "info", Format: "logfmt"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Info("tunnel state changed", zap.String("router", "osaka-rtx1200"), zap.Int("tunnel", 1),
		zap.String("detail", `IPSEC IS UP "x"`), zap.Duration("hold", 90*time.Second),
		zap.Error(errors.New("show ipsec sa: read: i/o timeout")), zap.Strings("ips", []string{"a", "b"}))
	line := buf.String()
	for _, want := range []string{
		"level=info", `msg="tunnel state changed"`, "router=osaka-rtx1200", "tunnel=1",
		`detail="IPSEC IS UP \"x\""`, "hold=1m30s", `error="show ipsec sa: read: i/o timeout"`,
		`ips="[\"a\",\"b\"]"`, "caller=logging/logging_test.go:",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(line, "hidden") || strings.Count(line, "\n") != 1 {
		t.Errorf("want exactly one info line, got:\n%s", line)
	}
}

func TestJSONAndSlog(t *testing.T) {
	var buf bytes.Buffer
	l, err := New(Config{Level: "debug", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	Slog(l).Info("Listening on", "address", "127.0.0.1:10123")
	if got := buf.String(); !strings.Contains(got, `"msg":"Listening on"`) || !strings.Contains(got, `"address":"127.0.0.1:10123"`) {
		t.Errorf("slog through zap: %s", got)
	}
}

func TestBadFlags(t *testing.T) {
	for _, c := range []Config{{Level: "verbose", Format: "json"}, {Level: "info", Format: "text"}, {Level: "fatal", Format: "json"}} {
		if _, err := New(c, nil); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
}
