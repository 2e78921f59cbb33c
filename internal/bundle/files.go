package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// A bundle usually comes from someone else (a customer, a colleague's
// tarball) and is read on an engineer's own machine, so diagnose reads it as
// untrusted input: no link is followed, nothing but regular files is
// opened, and no file or bundle can make it buffer without bound.
const (
	// MaxBytes bounds the files diagnose reads from one bundle, all
	// together. collect's bundles are a few MiB even for a thousand VPN
	// connections and a couple of hundred routers (each `show config` tens
	// of KiB); 256 MiB leaves room for the largest and keeps a hostile
	// bundle from costing more than a few hundred MiB of memory.
	MaxBytes = 256 << 20
	// MaxBytesTogether bounds the bundles one diagnose reads, all
	// together: they are kept in memory to be put in time order.
	MaxBytesTogether = 4 * MaxBytes
	// MaxEntries bounds the files and directories of one bundle (a bundle
	// has a handful per router, gateway and AWS region).
	MaxEntries = 100_000
	// maxSmallFile bounds meta.json and a probe's result (hundreds of bytes).
	maxSmallFile = 1 << 20
)

// limits are what one Read may take; tests make them small.
type limits struct {
	bytes   int64
	entries int
}

// files reads the files of one bundle directory, confined to it: an
// os.Root refuses every path that leaves the directory, and a file is read
// only if it is a regular file — not a link, even to another file of the
// bundle: a bundle collect writes has none, and "regular files only" is one
// rule an engineer can check with ls.
type files struct {
	root    *os.Root
	limits  limits
	taken   int64 // bytes read so far
	entries int   // entries seen so far
	newest  time.Time
}

// openFiles opens dir. dir itself may be a link: the engineer named it.
func openFiles(dir string, l limits) (*files, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &files{root: root, limits: l}, nil
}

func (f *files) close() { f.root.Close() }

// fileError is a bundle file diagnose does not read, and why. Path is
// relative to the bundle, slash-separated; it is printed through
// correlate.Printable, as a name from the bundle is untrusted text.
type fileError struct {
	Path    string
	Problem string
	Err     error // the file system's error, if any
}

func (e *fileError) Error() string { return correlate.Printable(e.Path) + ": " + e.Problem }

func (e *fileError) Unwrap() error { return e.Err }

// ioError is a file system error on rel, said without the path the os.Root
// puts in it (fileError names the file).
func ioError(rel string, err error) *fileError {
	msg := err.Error()
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		msg = pe.Op + ": " + pe.Err.Error()
	}
	return &fileError{Path: rel, Problem: msg, Err: err}
}

// walk calls visit for every entry under the directory rel (slash-separated,
// "." for the bundle), in name order, and descends into the directories
// visit asks for. It reads directories in batches, so that one with
// millions of entries fails at the entry limit, not after listing them all.
func (f *files) walk(rel string, visit func(rel string, d fs.DirEntry) (descend bool, err error)) error {
	dir, err := f.root.Open(rel)
	if err != nil {
		return ioError(rel, err)
	}
	var ents []fs.DirEntry
	for {
		batch, err := dir.ReadDir(256)
		ents = append(ents, batch...)
		f.entries += len(batch)
		if f.entries > f.limits.entries {
			dir.Close()
			return &fileError{Path: rel, Problem: fmt.Sprintf("the bundle has more than %d files and directories; diagnose reads at most that many", f.limits.entries)}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(batch) == 0) {
			break
		}
		if err != nil {
			dir.Close()
			return ioError(rel, err)
		}
	}
	dir.Close()
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, d := range ents {
		p := path.Join(rel, d.Name())
		descend, err := visit(p, d)
		if err != nil {
			return err
		}
		if descend && d.IsDir() {
			if err := f.walk(p, visit); err != nil {
				return err
			}
		}
	}
	return nil
}

// read returns the content of the regular file rel, of at most limit
// bytes, and counts it against the bundle's limit. A link, a FIFO, a
// device or a larger file is refused with a *fileError before anything is
// read from it.
func (f *files) read(rel string, limit int64) ([]byte, error) {
	info, err := f.root.Lstat(rel)
	if err != nil {
		return nil, ioError(rel, err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return nil, f.linkError(rel)
	}
	if !info.Mode().IsRegular() {
		return nil, &fileError{Path: rel, Problem: fmt.Sprintf("not a regular file (%s), not read", typeOf(info.Mode()))}
	}
	if err := f.fits(rel, info.Size(), limit); err != nil {
		return nil, err
	}
	// Should rel become a FIFO after the Lstat, O_NONBLOCK keeps the open
	// from waiting for a writer; the open file's type is checked again.
	file, err := f.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, ioError(rel, err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, ioError(rel, err)
	}
	if !st.Mode().IsRegular() || !os.SameFile(info, st) {
		return nil, &fileError{Path: rel, Problem: "replaced while diagnose was reading the bundle, not read"}
	}
	if err := f.fits(rel, st.Size(), limit); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(st.Size()) + 1)
	// A file that grows while it is read stops one byte past what fits.
	if _, err := buf.ReadFrom(io.LimitReader(file, min(limit, f.limits.bytes-f.taken)+1)); err != nil {
		return nil, ioError(rel, err)
	}
	if err := f.fits(rel, int64(buf.Len()), limit); err != nil {
		return nil, err
	}
	f.taken += int64(buf.Len())
	if st.ModTime().After(f.newest) {
		f.newest = st.ModTime()
	}
	return buf.Bytes(), nil
}

// fits refuses a file of size bytes above its limit or the bundle's.
func (f *files) fits(rel string, size, limit int64) error {
	if size > limit {
		return &fileError{Path: rel, Problem: fmt.Sprintf("larger than %s, not read", mib(limit))}
	}
	if f.taken+size > f.limits.bytes {
		return &fileError{Path: rel, Problem: fmt.Sprintf("the bundle's files are larger than %s in all; diagnose reads at most that much of one bundle", mib(f.limits.bytes)), Err: errTooLarge}
	}
	return nil
}

// errTooLarge marks a bundle whose files went past the bytes it may take.
var errTooLarge = errors.New("bundle too large")

// linkError says where a link goes as far as its text shows: out of the
// bundle, or to another of its files. The target is neither opened nor
// printed.
func (f *files) linkError(rel string) error {
	target, err := f.root.Readlink(rel)
	if err == nil && !filepath.IsAbs(target) && filepath.IsLocal(filepath.Join(path.Dir(rel), target)) {
		return &fileError{Path: rel, Problem: "a symbolic link, not followed (a bundle holds the files themselves: copy the file in place of the link)"}
	}
	return &fileError{Path: rel, Problem: "a symbolic link leaving the bundle, not followed"}
}

func typeOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// mib says a limit in MiB, or in bytes below one MiB (tests' limits).
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// printableName reports whether a name prints as it is: one with control
// characters (an escape sequence that would set the terminal's title or
// clipboard) cannot name a router or a source in a finding.
func printableName(name string) bool { return correlate.Printable(name) == name }
