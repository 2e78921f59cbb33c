// Package logging builds the daemon's zap logger from the --log.level and
// --log.format flags, and bridges it to log/slog for libraries that take a
// *slog.Logger (exporter-toolkit).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
)

// Formats accepted by New.
const (
	FormatLogfmt = "logfmt"
	FormatJSON   = "json"
)

// Config selects the level and format of the logs.
type Config struct {
	Level  string // debug, info, warn, error
	Format string // logfmt or json
}

// New builds a logger writing to w (stderr when nil, which journald captures).
func New(c Config, w io.Writer) (*zap.Logger, error) {
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil || level > zapcore.ErrorLevel {
		return nil, fmt.Errorf("--log.level %q: must be debug, info, warn or error", c.Level)
	}
	ec := zapcore.EncoderConfig{
		TimeKey:        "ts",
		LevelKey:       "level",
		NameKey:        "logger",
		CallerKey:      "caller",
		MessageKey:     "msg",
		StacktraceKey:  "stacktrace",
		LineEnding:     "\n",
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeCaller:   zapcore.ShortCallerEncoder,
	}
	var enc zapcore.Encoder
	switch c.Format {
	case FormatJSON:
		enc = zapcore.NewJSONEncoder(ec)
	case FormatLogfmt:
		enc = newLogfmtEncoder(ec)
	default:
		return nil, fmt.Errorf("--log.format %q: must be logfmt or json", c.Format)
	}
	if w == nil {
		w = os.Stderr
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core, zap.AddCaller()), nil
}

// Slog returns a *slog.Logger that writes through l.
func Slog(l *zap.Logger) *slog.Logger {
	return slog.New(zapslog.NewHandler(l.Core(), zapslog.WithCaller(false)))
}

// Levels lists the accepted --log.level values, for help texts.
func Levels() string { return strings.Join([]string{"debug", "info", "warn", "error"}, ", ") }
