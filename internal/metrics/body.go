package metrics

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// textFormat is the exposition format served: Prometheus text 0.0.4, which
// every Prometheus version and scraper reads.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// Body is the prebuilt part of /metrics: the series of the latest data
// (tens of thousands on a big estate), rendered once each time that data
// changes instead of at every scrape. Build renders it; Handler serves it
// followed by the small registry gathered at each scrape (process,
// counters). Safe for concurrent use: a scrape reads the body built last,
// a slow client never holds up the next Build.
type Body struct {
	built atomic.Pointer[builtBody]
}

// builtBody is one rendering, never changed once stored.
type builtBody struct {
	text []byte
	// deflated is text compressed as the first part of a DEFLATE stream:
	// ends in a sync flush, no final block, so that a scrape appends the
	// rest and a gzip trailer without compressing text again.
	deflated []byte
	crc      uint32 // CRC-32 of text, which the trailer continues
	err      error  // a Gather error: the scrape fails as promhttp's would
}

// Build gathers g and stores its rendering for the next scrapes.
func (b *Body) Build(g prometheus.Gatherer) error {
	mfs, err := g.Gather()
	if err != nil {
		b.built.Store(&builtBody{err: err})
		return err
	}
	var text bytes.Buffer
	enc := expfmt.NewEncoder(&text, textFormat)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			err = fmt.Errorf("render %s: %w", mf.GetName(), err)
			b.built.Store(&builtBody{err: err})
			return err
		}
	}
	var z bytes.Buffer
	z.Grow(text.Len() / 8)
	fw, _ := flate.NewWriter(&z, flate.BestSpeed) // a valid level: no error
	fw.Write(text.Bytes())
	fw.Flush()
	b.built.Store(&builtBody{text: text.Bytes(), deflated: z.Bytes(), crc: crc32.ChecksumIEEE(text.Bytes())})
	return nil
}

// Handler serves the body built last, then what dynamic gathers now, as
// one exposition (their metric families must not overlap), gzipped when
// the client accepts it.
func Handler(b *Body, dynamic prometheus.Gatherer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		built := b.built.Load()
		if built == nil {
			built = &builtBody{}
			built.deflated = emptyDeflate
		}
		mfs, err := dynamic.Gather()
		if err == nil {
			err = built.err
		}
		if err != nil {
			http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		var rest bytes.Buffer
		enc := expfmt.NewEncoder(&rest, textFormat)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Type", string(textFormat))
		h.Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Length", strconv.Itoa(len(built.text)+rest.Len()))
			w.Write(built.text)
			w.Write(rest.Bytes())
			return
		}
		h.Set("Content-Encoding", "gzip")
		// One gzip member (RFC 1952): header, the prebuilt DEFLATE blocks,
		// the rest's blocks ending in the final one, then CRC-32 and size
		// of the whole text.
		w.Write(gzipHeader)
		w.Write(built.deflated)
		fw, _ := flate.NewWriter(w, flate.BestSpeed)
		fw.Write(rest.Bytes())
		fw.Close()
		var trailer [8]byte
		binary.LittleEndian.PutUint32(trailer[:4], crc32.Update(built.crc, crc32.IEEETable, rest.Bytes()))
		binary.LittleEndian.PutUint32(trailer[4:], uint32(len(built.text)+rest.Len()))
		w.Write(trailer[:])
	})
}

// gzipHeader is a gzip member header: deflate, no name, no time, unknown
// OS (as compress/gzip writes it).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// emptyDeflate starts a DEFLATE stream with no data (before the first Build).
var emptyDeflate = func() []byte {
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestSpeed)
	fw.Flush()
	return z.Bytes()
}()

// acceptsGzip reports whether an Accept-Encoding header allows gzip (not
// with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(coding) != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}
