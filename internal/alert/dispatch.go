package alert

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/backoff"
	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Delivery bounds: the first retry after RetryBase, doubling to RetryMax,
// given up after MaxAge.
const (
	RetryBase = 2 * time.Second
	RetryMax  = 5 * time.Minute
	MaxAge    = 24 * time.Hour
	// maxRetryAfter caps a receiver's Retry-After; maxWait is the furthest
	// ahead an entry is ever scheduled.
	maxRetryAfter = time.Hour
	maxWait       = maxRetryAfter + time.Minute
)

// Receiver is one configured notifier with its name ("slack[0]") and
// integration ("slack").
type Receiver struct {
	Name         string
	Integration  string
	SendResolved bool
	Notifier     Notifier
}

// Manager ties the lifecycle, the outbox and the receivers together.
type Manager struct {
	log    *zap.Logger
	life   *Lifecycle
	outbox *Outbox
	// receivers is replaced whole on reload (main loop) while deliveries
	// read it (the dispatcher goroutine).
	recvMu    sync.RWMutex
	receivers map[string]Receiver
	sent      *prometheus.CounterVec
	failed    *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	wake      chan struct{}
	amSentAt  time.Time
	windows   []Window
	silenced  prometheus.Counter
	// busy: receivers being delivered to now (claim, release).
	busyMu sync.Mutex
	busy   map[string]bool
	// OnDelivery, when set, hears each delivery attempt (for the status
	// page's events).
	OnDelivery func(receiver string, alerts int, err error)
	// grouping and groups: the grouped messages of direct receivers
	// (group.go); used by Update only.
	grouping Grouping
	groups   map[string]*group
	heldBack map[string]bool // firing alerts a maintenance window held back
}

// NewManager loads the outbox and lifecycle from stateDir and registers the
// notification metrics with reg.
func NewManager(log *zap.Logger, stateDir string, life Lifecycle, receivers []Receiver, reg prometheus.Registerer) (*Manager, error) {
	ob, err := OpenOutbox(stateDir)
	if err != nil {
		return nil, err
	}
	life.States = ob.Lifecycle()
	m := &Manager{log: log, life: &life, outbox: ob, receivers: map[string]Receiver{}, wake: make(chan struct{}, 1), heldBack: map[string]bool{},
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vpnwatch", Name: "notifications_total",
			Help: "Notifications delivered, by integration."}, []string{"integration"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vpnwatch", Name: "notifications_failed_total",
			Help: "Failed notification attempts, by integration and reason (retry: will be tried again; permanent: given up)."}, []string{"integration", "reason"}),
		silenced: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vpnwatch", Name: "notifications_silenced_total",
			Help: "Notifications held back by a maintenance window."}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "vpnwatch", Name: "notification_latency_seconds",
			Help: "Time from a notification being queued to its delivery.", Buckets: []float64{.1, .5, 1, 5, 30, 60, 300, 1800}}, []string{"integration"}),
	}
	for _, r := range receivers {
		m.receivers[r.Name] = r
		m.sent.WithLabelValues(r.Integration)
	}
	damaged := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "vpnwatch", Name: "state_file_damaged_total",
		Help: "State files found damaged at start and set aside (renamed with a timestamp)."})
	if ob.SetAside != "" {
		damaged.Inc()
		log.Error("alert state file damaged; set aside, starting with no alert history", zap.String("file", ob.SetAside))
	}
	if reg != nil {
		reg.MustRegister(m.sent, m.failed, m.latency, m.silenced, damaged, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "vpnwatch", Name: "notification_queue_length",
			Help: "Notifications waiting in the outbox."}, func() float64 { return float64(m.outbox.Len()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "vpnwatch", Name: "state_writable",
				Help: "1 if the last write of the alert state (state_dir/alerts.json) worked; 0 if the directory is full or read-only."},
				func() float64 {
					if m.outbox.SaveError() != nil {
						return 0
					}
					return 1
				}))
	}
	return m, nil
}

// SetReceivers replaces the receivers (after a reload); queued entries for
// receivers that no longer exist are kept until MaxAge and logged.
func (m *Manager) SetReceivers(rs []Receiver) {
	next := map[string]Receiver{}
	for _, r := range rs {
		next[r.Name] = r
	}
	m.recvMu.Lock()
	m.receivers = next
	m.recvMu.Unlock()
}

// currentReceivers returns the receivers in force.
func (m *Manager) currentReceivers() map[string]Receiver {
	m.recvMu.RLock()
	defer m.recvMu.RUnlock()
	return m.receivers
}

// FiringFindings returns the findings of the alerts firing now (as loaded
// from the state directory at start), so that the correlator holds them
// while their sources have no current data instead of resolving them.
func (m *Manager) FiringFindings() []correlate.Finding {
	var out []correlate.Finding
	for _, a := range m.life.Firing() {
		out = append(out, a.Finding)
	}
	return out
}

// StateError is the last failed write of the alert state, nil when the file
// is current.
func (m *Manager) StateError() error { return m.outbox.SaveError() }

// Update feeds the active findings of a cycle and queues what must be sent.
// Call it from one goroutine.
func (m *Manager) Update(active []correlate.Finding, now time.Time) error {
	// A state directory that was full or read-only may have recovered:
	// catch the file up (StateError says whether it did).
	m.outbox.RetrySave()
	alerts := m.life.Step(active, now)
	// Maintenance windows hold alerts back; one still firing afterwards is
	// sent then (its last-sent time is cleared, so the next step repeats it).
	kept := alerts[:0:0]
	for _, a := range alerts {
		if w, ok := silenced(m.windows, a, now); ok {
			m.silenced.Inc()
			if st := m.life.States[a.Fingerprint]; st != nil && a.Status == StatusFiring {
				st.LastSent = time.Time{}
				m.heldBack[a.Fingerprint] = true
			}
			m.log.Info("notification held back by a maintenance window", zap.String("window", w.Name), zap.String("rule", a.Finding.Rule),
				zap.String("subject", a.Finding.Subject.String()), zap.String("status", a.Status))
			continue
		}
		kept = append(kept, a)
	}
	alerts = kept
	for i, a := range alerts {
		if a.Repeat && m.heldBack[a.Fingerprint] {
			alerts[i].Repeat = false // held back by a window: news, not a reminder
		}
		delete(m.heldBack, a.Fingerprint)
	}
	items := map[string][]Alert{}
	receivers := m.currentReceivers()
	// Direct receivers get one message per group; Alertmanager one alert
	// per finding (it groups them itself).
	messages := m.groupMessages(alerts, now)
	for _, r := range receivers {
		if r.Integration != "alertmanager" {
			for _, msg := range messages {
				var out []Alert
				firing := false
				for _, a := range msg {
					if a.Status == StatusResolved && !r.SendResolved {
						continue
					}
					firing = firing || a.Status == StatusFiring
					out = append(out, a)
				}
				if firing || len(out) > 0 && r.SendResolved {
					items[r.Name] = append(items[r.Name], out...)
				}
			}
			continue
		}
		for _, a := range alerts {
			if a.Repeat {
				continue // Alertmanager gets the regular resend below instead
			}
			items[r.Name] = append(items[r.Name], a)
		}
	}
	// Alertmanager forgets alerts not re-sent within resolve_timeout.
	if now.Sub(m.amSentAt) >= AlertmanagerResend {
		m.amSentAt = now
		for _, r := range receivers {
			if r.Integration != "alertmanager" {
				continue
			}
			have := map[string]bool{}
			for _, a := range items[r.Name] {
				have[a.Fingerprint] = true
			}
			for _, a := range m.life.Firing() {
				if !have[a.Fingerprint] {
					items[r.Name] = append(items[r.Name], a)
				}
			}
		}
	}
	if len(items) == 0 && len(alerts) == 0 {
		return nil
	}
	if err := m.outbox.Enqueue(now, m.life.States, items); err != nil {
		return err
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// NextDue is when a group's message waiting for group_wait or
// group_interval is due (ok false when none waits): the caller feeds Update
// again then, not only at its next poll.
func (m *Manager) NextDue() (time.Time, bool) {
	next := m.nextDue()
	return next, !next.IsZero()
}

// Run delivers queued notifications until ctx ends. Each receiver has its
// own worker: a Slack that hangs or an SMTP server that tarpits delays its
// own notifications only, never another receiver's.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	running := 0
	done := make(chan struct{})
	for {
		for name, entries := range m.outbox.Due(time.Now()) {
			if !m.claim(name) {
				continue // its worker (or a Flush) is still at it
			}
			running++
			go func() {
				m.deliverTo(ctx, time.Now(), name, entries)
				m.release(name)
				done <- struct{}{}
			}()
		}
		select {
		case <-ctx.Done():
			for ; running > 0; running-- {
				<-done // the workers see ctx end too
			}
			return
		case <-done:
			running--
		case <-t.C:
		case <-m.wake:
		}
	}
}

// claim marks a receiver as being delivered to, so that Run's workers and a
// Flush (at shutdown) never send the same entries twice; false when it is
// already.
func (m *Manager) claim(name string) bool {
	m.busyMu.Lock()
	defer m.busyMu.Unlock()
	if m.busy[name] {
		return false
	}
	if m.busy == nil {
		m.busy = map[string]bool{}
	}
	m.busy[name] = true
	return true
}

func (m *Manager) release(name string) {
	m.busyMu.Lock()
	delete(m.busy, name)
	m.busyMu.Unlock()
}

// Flush delivers what is due now (check, alert test, shutdown), to every
// receiver at once, and returns when all are done. A receiver Run is
// delivering to is left to it.
func (m *Manager) Flush(ctx context.Context) { m.deliver(ctx, time.Now()) }

func (m *Manager) deliver(ctx context.Context, now time.Time) {
	var wg sync.WaitGroup
	for name, entries := range m.outbox.Due(now) {
		if !m.claim(name) {
			continue
		}
		wg.Go(func() {
			defer m.release(name)
			m.deliverTo(ctx, now, name, entries)
		})
	}
	wg.Wait()
}

// DeliveryTimeout bounds one delivery attempt to one receiver.
const DeliveryTimeout = 30 * time.Second

// deliverTo delivers a receiver's due entries: one message per group (in
// the order they were queued), each its own attempt.
func (m *Manager) deliverTo(ctx context.Context, now time.Time, name string, entries []Entry) {
	var order []string
	byGroup := map[string][]Entry{}
	for _, e := range entries {
		if _, ok := byGroup[e.Alert.Group]; !ok {
			order = append(order, e.Alert.Group)
		}
		byGroup[e.Alert.Group] = append(byGroup[e.Alert.Group], e)
	}
	for _, g := range order {
		if ctx.Err() != nil {
			return
		}
		m.deliverMessage(ctx, now, name, byGroup[g])
	}
}

// deliverMessage makes one delivery attempt of one message.
func (m *Manager) deliverMessage(ctx context.Context, now time.Time, name string, entries []Entry) {
	var ids []int64
	var alerts []Alert
	at := map[string]int{} // a grouped message queued twice (a retry backlog) says each alert once, as last queued
	for _, e := range entries {
		ids = append(ids, e.ID)
		if i, ok := at[e.Alert.Fingerprint]; ok && e.Alert.Group != "" {
			changed := alerts[i].Changed || e.Alert.Changed
			alerts[i] = e.Alert
			alerts[i].Changed = changed
			continue
		}
		at[e.Alert.Fingerprint] = len(alerts)
		alerts = append(alerts, e.Alert)
	}
	if alerts[0].Group != "" {
		alerts = OrderByCause(alerts)
	}
	r, ok := m.currentReceivers()[name]
	report := func(err error) {
		if m.OnDelivery != nil {
			m.OnDelivery(name, len(alerts), err)
		}
	}
	if !ok {
		if now.Sub(entries[0].CreatedAt) > MaxAge {
			m.outbox.Done(ids)
		}
		return
	}
	cctx, cancel := context.WithTimeout(ctx, DeliveryTimeout)
	retry, err := r.Notifier.Notify(cctx, alerts)
	cancel()
	if ctx.Err() == nil {
		report(err)
	}
	if err == nil {
		m.sent.WithLabelValues(r.Integration).Add(float64(len(alerts)))
		for _, e := range entries {
			m.latency.WithLabelValues(r.Integration).Observe(now.Sub(e.CreatedAt).Seconds())
		}
		if err := m.outbox.Done(ids); err != nil {
			m.log.Error("alert outbox not saved; a notification may be sent twice", zap.Error(err))
		}
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the entries stay queued
	}
	oldest := entries[0].CreatedAt
	if !retry || now.Sub(oldest) > MaxAge {
		m.failed.WithLabelValues(r.Integration, "permanent").Inc()
		m.log.Error("notification failed; giving up", zap.String("receiver", name), zap.Int("alerts", len(alerts)), zap.Error(err))
		m.outbox.Done(ids)
		return
	}
	m.failed.WithLabelValues(r.Integration, "retry").Inc()
	wait := backoff.Policy{Base: RetryBase, Max: RetryMax}.Jittered(entries[0].Attempts + 1)
	if ra, ok := retryAfter(err); ok {
		wait = max(wait, min(ra, maxRetryAfter))
	}
	if entries[0].Attempts == 0 {
		m.log.Warn("notification failed; will retry", zap.String("receiver", name), zap.Duration("in", wait), zap.Error(err))
	}
	m.outbox.Retry(ids, now.Add(wait), err)
}
