package metrics

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// textFormat is the exposition format served: Prometheus text 0.0.4, which
// every Prometheus version and scraper reads.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// Body is the prebuilt part of /metrics: the series of the latest data
// (tens of thousands on a big estate), rendered once each time that data
// changes instead of at every scrape, and kept compressed. Build renders
// it; Handler serves it followed by the small registry gathered at each
// scrape (process, counters, probes). Safe for concurrent use: a scrape
// reads the body built last, a slow client never holds up the next Build.
type Body struct {
	built atomic.Pointer[builtBody]

	mu    sync.Mutex // one Build at a time
	sizes map[*family][2]int
}

// builtBody is one rendering, never changed once stored.
type builtBody struct {
	// deflated is the text compressed as the first part of a DEFLATE
	// stream: it ends in a sync flush, no final block, so that a scrape
	// appends the rest and a gzip trailer without compressing it again.
	deflated []byte
	crc      uint32 // CRC-32 of the text, which the trailer continues
	size     int    // of the text
	err      error  // a rendering error: the scrape fails as promhttp's would
}

// Build renders l's series (the Latest collector's) and stores them for
// the next scrapes. The text is compressed as it is written, never held
// whole.
func (b *Body) Build(l Latest) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	out, sink := newTextSender(b.sizes)
	latestCollector{l}.collect(out)
	var z bytes.Buffer
	if prev := b.built.Load(); prev != nil {
		z.Grow(len(prev.deflated) + len(prev.deflated)/8)
	}
	// A compressor is over 600 KB of tables: made for each build (once a
	// cycle) rather than kept for the daemon's whole life.
	fw, _ := flate.NewWriter(&z, flate.BestSpeed) // a valid level: no error
	crc := crc32.NewIEEE()
	counted := &countWriter{w: io.MultiWriter(fw, crc)}
	sizes, err := sink.writeTo(counted)
	if err == nil {
		err = fw.Flush()
	}
	if err != nil {
		b.built.Store(&builtBody{err: err})
		return err
	}
	b.sizes = sizes
	b.built.Store(&builtBody{deflated: z.Bytes(), crc: crc.Sum32(), size: counted.n})
	return nil
}

// storedBlocks is data as DEFLATE stored blocks (RFC 1951 3.2.4), the last
// one final; the stream before them ends byte-aligned (a sync flush).
func storedBlocks(data []byte) []byte {
	out := make([]byte, 0, len(data)+5*(len(data)/65535+1))
	for {
		n := min(len(data), 65535)
		final := byte(0)
		if n == len(data) {
			final = 1
		}
		out = append(out, final, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		out = append(out, data[:n]...)
		data = data[n:]
		if final == 1 {
			return out
		}
	}
}

type countWriter struct {
	w io.Writer
	n int
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// Handler serves the body built last, then what dynamic gathers now, as
// one exposition (their metric families must not overlap), gzipped when
// the client accepts it.
func Handler(b *Body, dynamic prometheus.Gatherer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		built := b.built.Load()
		if built == nil {
			built = &builtBody{deflated: emptyDeflate}
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
			// Rare (curl, a browser): inflate the body as it is sent.
			h.Set("Content-Length", strconv.Itoa(built.size+rest.Len()))
			fr := flate.NewReader(io.MultiReader(bytes.NewReader(built.deflated), bytes.NewReader(finalEmptyBlock)))
			io.Copy(w, fr)
			fr.Close()
			w.Write(rest.Bytes())
			return
		}
		h.Set("Content-Encoding", "gzip")
		// One gzip member (RFC 1952): header, the prebuilt DEFLATE blocks,
		// the rest as stored blocks ending in the final one, then CRC-32 and
		// size of the whole text. The rest (process, counters) is a few
		// dozen KB: storing it costs that much on the wire and spares a
		// compressor per scrape.
		w.Write(gzipHeader)
		w.Write(built.deflated)
		w.Write(storedBlocks(rest.Bytes()))
		var trailer [8]byte
		binary.LittleEndian.PutUint32(trailer[:4], crc32.Update(built.crc, crc32.IEEETable, rest.Bytes()))
		binary.LittleEndian.PutUint32(trailer[4:], uint32(built.size+rest.Len()))
		w.Write(trailer[:])
	})
}

// finalEmptyBlock ends a DEFLATE stream: an empty final stored block.
var finalEmptyBlock = []byte{1, 0, 0, 0xff, 0xff}

// gzipHeader is a gzip member header: deflate, no name, no time, unknown
// OS (as compress/gzip writes it).
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// emptyDeflate starts a DEFLATE stream with no data (before the first
// Build): an empty stored block that is not final, as a sync flush writes.
var emptyDeflate = []byte{0, 0, 0, 0xff, 0xff}

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
