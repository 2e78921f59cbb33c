package metrics

import (
	"bufio"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// textSink renders series straight into the text exposition format
// (version 0.0.4), family by family, as Gather and the text encoder would,
// at a fraction of their cost: the body of 33,000 series is rebuilt every
// cycle. A series repeated in a family is written once (a registry would
// fail the whole scrape on it); a wrong number of label values is an error.
type textSink struct {
	fams map[*family]*familyText
	err  error
	line []byte
	// sizes are each family's bytes and series in the previous rendering,
	// to size its buffers once instead of growing them.
	sizes map[*family][2]int
}

type familyText struct {
	buf []byte
	// seen holds a hash of each series' labels written: a repeated series
	// is dropped (two different series colliding in 64 bits, about 1 in
	// 10^10 for a body of 33,000, would lose one).
	seen map[uint64]struct{}
}

var seriesSeed = maphash.MakeSeed()

func newTextSender(sizes map[*family][2]int) (*sender, *textSink) {
	t := &textSink{fams: map[*family]*familyText{}, sizes: sizes}
	return &sender{text: t}, t
}

func (t *textSink) write(f *family, v float64, values []string) {
	if len(values) != len(f.labels) {
		if t.err == nil {
			t.err = fmt.Errorf("collected metric %s: %d label values %q for the labels %q", f.name, len(values), values, f.labels)
		}
		return
	}
	l := append(t.line[:0], f.name...)
	if len(values) > 0 {
		l = append(l, '{')
		for i, j := range f.order {
			if i > 0 {
				l = append(l, ',')
			}
			l = append(l, f.labels[j]...)
			l = append(l, '=', '"')
			l = appendLabelValue(l, values[j])
			l = append(l, '"')
		}
		l = append(l, '}')
	}
	t.line = l
	ft := t.fams[f]
	if ft == nil {
		size := t.sizes[f]
		ft = &familyText{buf: make([]byte, 0, size[0]+size[0]/8), seen: make(map[uint64]struct{}, size[1]+size[1]/8)}
		t.fams[f] = ft
	}
	h := maphash.Bytes(seriesSeed, l)
	if _, dup := ft.seen[h]; dup {
		return
	}
	ft.seen[h] = struct{}{}
	ft.buf = append(ft.buf, l...)
	ft.buf = append(ft.buf, ' ')
	ft.buf = appendValue(ft.buf, v)
	ft.buf = append(ft.buf, '\n')
}

// writeTo writes the families in name order, each with its HELP and TYPE,
// and returns their sizes.
func (t *textSink) writeTo(w io.Writer) (map[*family][2]int, error) {
	if t.err != nil {
		return nil, t.err
	}
	b := bufio.NewWriterSize(w, 64<<10)
	sizes := make(map[*family][2]int, len(t.fams))
	fams := make([]*family, 0, len(t.fams))
	for f := range t.fams {
		fams = append(fams, f)
	}
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	for _, f := range fams {
		b.WriteString("# HELP ")
		b.WriteString(f.name)
		b.WriteByte(' ')
		b.WriteString(helpEscaper.Replace(f.help))
		b.WriteString("\n# TYPE ")
		b.WriteString(f.name)
		if f.typ == prometheus.CounterValue {
			b.WriteString(" counter\n")
		} else {
			b.WriteString(" gauge\n")
		}
		ft := t.fams[f]
		b.Write(ft.buf)
		sizes[f] = [2]int{len(ft.buf), len(ft.seen)}
	}
	return sizes, b.Flush()
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// appendLabelValue escapes a label value as the text format wants it,
// replacing bytes that are not UTF-8 (a router's) as the sender does.
func appendLabelValue(b []byte, v string) []byte {
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendValue formats a sample value as the text encoder does.
func appendValue(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, '-', '1')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
