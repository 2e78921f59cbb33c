// Package alert turns findings into notifications people receive: the
// lifecycle (firing, repeats, resolved after a clear hold, flap damping,
// inhibition), message rendering, the notifiers (Slack, e-mail,
// Alertmanager, webhook) and a persisted outbox that survives restarts.
package alert

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// Statuses of an alert.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Alert is one notification about one finding.
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Status      string            `json:"status"`
	Finding     correlate.Finding `json:"finding"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at,omitzero"`
	// Repeat marks a reminder of a still-firing alert.
	Repeat bool `json:"repeat,omitempty"`
	// Flapping marks an alert that toggled too often: it is held firing and
	// not re-sent at every toggle.
	Flapping bool `json:"flapping,omitempty"`
	// Group names the group of a grouped message (Grouping); Changed marks
	// the alerts of the message that are new, changed or resolved since
	// the group's last message.
	Group   string `json:"group,omitempty"`
	Changed bool   `json:"changed,omitempty"`
}

// Notifier delivers alerts to one receiver. retry says whether a failure
// may succeed later (network errors, 5xx, 429).
type Notifier interface {
	Notify(ctx context.Context, alerts []Alert) (retry bool, err error)
}

// RetryAfterError carries a receiver's Retry-After.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return fmt.Sprintf("%v (retry after %s)", e.Err, e.After) }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// retryAfter returns the Retry-After of err, if any.
func retryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After, true
	}
	return 0, false
}
