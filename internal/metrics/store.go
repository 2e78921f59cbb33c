package metrics

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// store keeps the latest snapshot of each source and when it last
// succeeded, for the collectors of the sources (AWS regions, routers).
type store[S any] struct {
	mu      sync.RWMutex
	latest  map[string]S
	success map[string]time.Time
}

func newStore[S any]() store[S] {
	return store[S]{latest: map[string]S{}, success: map[string]time.Time{}}
}

func (s *store[S]) update(key string, snap S, ok bool, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest[key] = snap
	if ok {
		s.success[key] = at
	}
}

// retain drops the sources keep rejects (after a reload).
func (s *store[S]) retain(keep func(S) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, snap := range s.latest {
		if !keep(snap) {
			delete(s.latest, k)
			delete(s.success, k)
		}
	}
}

// each calls f for every source in key order, under the read lock.
func (s *store[S]) each(f func(snap S, lastSuccess time.Time, succeeded bool)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := slices.Sorted(maps.Keys(s.latest))
	for _, k := range keys {
		last, ok := s.success[k]
		f(s.latest[k], last, ok)
	}
}
