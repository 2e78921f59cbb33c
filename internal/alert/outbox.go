package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Entry is one alert waiting for one receiver.
type Entry struct {
	ID        int64     `json:"id"`
	Receiver  string    `json:"receiver"`
	Alert     Alert     `json:"alert"`
	CreatedAt time.Time `json:"created_at"`
	NextAt    time.Time `json:"next_at"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
}

// outboxFile is what the outbox keeps on disk: the queue and the alert
// lifecycle, written together so that a restart neither loses nor repeats
// a notification.
type outboxFile struct {
	NextID    int64             `json:"next_id"`
	Entries   []Entry           `json:"entries"`
	Lifecycle map[string]*State `json:"lifecycle"`
}

// createTemp is os.CreateTemp; tests make it fail as a full or read-only
// file system does (root writes to a read-only directory all the same).
var createTemp = os.CreateTemp

// Outbox is a persisted queue of notifications.
type Outbox struct {
	path string
	mu   sync.Mutex
	data outboxFile
	// SetAside names where a damaged file was moved at open ("" if none).
	SetAside string
	// saveErr is the last failed save (nil once a save works again); the
	// state in memory is then ahead of the file and saved at the next
	// chance.
	saveErr error
}

// OpenOutbox loads the outbox in dir (state_dir), creating it if needed. A
// damaged file (truncated, empty, garbage, `null`) does not stop the daemon
// (under systemd that would be a restart loop): it is renamed aside with a
// timestamp, SetAside says where, and the outbox starts empty.
func OpenOutbox(dir string) (*Outbox, error) {
	o := &Outbox{path: filepath.Join(dir, "alerts.json")}
	b, err := os.ReadFile(o.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("alert outbox: %w", err)
	default:
		var f outboxFile
		err := json.Unmarshal(b, &f)
		if err == nil && (bytes.Equal(bytes.TrimSpace(b), []byte("null")) || f.Lifecycle == nil && f.Entries == nil && f.NextID == 0) {
			err = errors.New("no outbox in it")
		}
		if err != nil {
			aside := fmt.Sprintf("%s.damaged-%s", o.path, time.Now().UTC().Format("20060102T150405Z"))
			if rerr := os.Rename(o.path, aside); rerr != nil {
				return nil, fmt.Errorf("alert outbox %s is damaged (%v) and cannot be moved aside: %w", o.path, err, rerr)
			}
			o.SetAside = fmt.Sprintf("%s (%v)", aside, err)
			break
		}
		o.data = f
	}
	if o.data.Lifecycle == nil {
		o.data.Lifecycle = map[string]*State{}
	}
	return o, nil
}

// SaveError is the last failed save, nil when the file is current.
func (o *Outbox) SaveError() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.saveErr
}

// RetrySave saves the outbox again if the last save failed (a full or
// read-only state directory that recovered).
func (o *Outbox) RetrySave() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.saveErr == nil {
		return nil
	}
	return o.save()
}

// save writes the file atomically and notes whether it worked.
func (o *Outbox) save() error {
	o.saveErr = o.write()
	return o.saveErr
}

// write writes the file atomically: temp file, fsync, rename, fsync dir.
func (o *Outbox) write() error {
	b, err := json.Marshal(o.data)
	if err != nil {
		return err
	}
	tmp, err := createTemp(filepath.Dir(o.path), ".alerts-*.json")
	if err != nil {
		return fmt.Errorf("alert outbox: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("alert outbox: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("alert outbox: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("alert outbox: %w", err)
	}
	if err := os.Rename(tmp.Name(), o.path); err != nil {
		return fmt.Errorf("alert outbox: %w", err)
	}
	if d, err := os.Open(filepath.Dir(o.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Enqueue adds alerts for receivers and saves the lifecycle with them.
func (o *Outbox) Enqueue(now time.Time, lifecycle map[string]*State, items map[string][]Alert) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range slices.Sorted(maps.Keys(items)) {
		for _, a := range items[r] {
			o.data.NextID++
			o.data.Entries = append(o.data.Entries, Entry{ID: o.data.NextID, Receiver: r, Alert: a, CreatedAt: now, NextAt: now})
		}
	}
	o.data.Lifecycle = lifecycle
	return o.save()
}

// Lifecycle returns the lifecycle states saved with the outbox.
func (o *Outbox) Lifecycle() map[string]*State {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.data.Lifecycle
}

// Due returns the entries due at now, grouped by receiver.
func (o *Outbox) Due(now time.Time) map[string][]Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]Entry{}
	for _, e := range o.data.Entries {
		// An entry further ahead than any wait vpnwatchd sets was
		// scheduled before the clock stepped back: due now, not stuck.
		if !e.NextAt.After(now) || e.NextAt.Sub(now) > maxWait {
			out[e.Receiver] = append(out[e.Receiver], e)
		}
	}
	return out
}

// Len is the number of undelivered entries.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.data.Entries)
}

// Done removes delivered (or abandoned) entries.
func (o *Outbox) Done(ids []int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	drop := map[int64]bool{}
	for _, id := range ids {
		drop[id] = true
	}
	kept := o.data.Entries[:0]
	for _, e := range o.data.Entries {
		if !drop[e.ID] {
			kept = append(kept, e)
		}
	}
	o.data.Entries = kept
	return o.save()
}

// Retry schedules entries again.
func (o *Outbox) Retry(ids []int64, next time.Time, err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	set := map[int64]bool{}
	for _, id := range ids {
		set[id] = true
	}
	for i := range o.data.Entries {
		if set[o.data.Entries[i].ID] {
			o.data.Entries[i].Attempts++
			o.data.Entries[i].NextAt = next
			o.data.Entries[i].LastError = err.Error()
		}
	}
	return o.save()
}
