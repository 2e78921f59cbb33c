package alert

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// A receiver URL that answers with a redirect is a failed delivery that
// names where it points, retried like any other: a 301/302 would turn the
// POST into a GET without the alert (and count it delivered), a 307/308
// would carry the alert and its signature to a host nobody configured.
func TestRedirectIsAFailedDelivery(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, kind := range []string{"slack", "webhook", "alertmanager"} {
			t.Run(kind+" "+strconv.Itoa(code), func(t *testing.T) {
				// elsewhere is the host the redirect points to: it must
				// hear nothing.
				elsewhere := &recorder{}
				other := httptest.NewServer(elsewhere)
				defer other.Close()
				location := other.URL + "/moved/LOCATIONTOKEN?key=LOCATIONKEY"
				var mu sync.Mutex
				asked := 0
				redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					mu.Lock()
					asked++
					mu.Unlock()
					http.Redirect(w, r, location, code)
				}))
				defer redirecting.Close()
				// A client that follows redirects, as http.Client does by
				// default: the notifier must not.
				client := &http.Client{Timeout: 10 * time.Second}
				var n Notifier
				switch kind {
				case "slack":
					n = &Slack{WebhookURL: redirecting.URL + "/services/T0/B0/SLACKTOKEN", Client: client}
				case "webhook":
					n = &Webhook{URL: redirecting.URL + "/hooks/vpn", Secret: []byte("s3cret"), Client: client}
				case "alertmanager":
					n = &Alertmanager{URL: redirecting.URL, Client: client}
				}
				reg := prometheus.NewRegistry()
				m, err := NewManager(zaptest.NewLogger(t), t.TempDir(), Lifecycle{RepeatInterval: time.Hour, FlapWindow: time.Hour},
					[]Receiver{{Name: kind + "[0]", Integration: kind, Notifier: n}}, reg)
				if err != nil {
					t.Fatal(err)
				}
				var got error
				m.OnDelivery = func(_ string, _ int, err error) { got = err }
				now := time.Now()
				if err := m.Update([]correlate.Finding{seedFinding()}, now); err != nil {
					t.Fatal(err)
				}
				m.deliver(t.Context(), now)

				if elsewhere.count() != 0 {
					t.Errorf("the redirect target received %d requests (headers %v)", elsewhere.count(), elsewhere.hdrs)
				}
				if asked != 1 {
					t.Errorf("the receiver was asked %d times, want 1", asked)
				}
				if got == nil {
					t.Fatal("a redirect counted as delivered")
				}
				if !strings.Contains(got.Error(), strconv.Itoa(code)) || !strings.Contains(got.Error(), "redirect") || !strings.Contains(got.Error(), other.URL) {
					t.Errorf("error does not name the status and the new location %s: %v", other.URL, got)
				}
				for _, secret := range []string{"SLACKTOKEN", "LOCATIONKEY"} {
					if strings.Contains(got.Error(), secret) {
						t.Errorf("error shows %s: %v", secret, got)
					}
				}
				if kind == "slack" && strings.Contains(got.Error(), "LOCATIONTOKEN") {
					t.Errorf("a secret URL's redirect shows the location's path: %v", got)
				}
				if v := testutil.ToFloat64(m.sent.WithLabelValues(kind)); v != 0 {
					t.Errorf("vpnwatch_notifications_total{integration=%q} = %v, want 0", kind, v)
				}
				if v := testutil.ToFloat64(m.failed.WithLabelValues(kind, "retry")); v != 1 {
					t.Errorf("vpnwatch_notifications_failed_total{integration=%q,reason=\"retry\"} = %v, want 1", kind, v)
				}
				if m.outbox.Len() != 1 {
					t.Errorf("%d notifications queued after the redirect, want 1 (kept for retry)", m.outbox.Len())
				}
				// Retried like any failure: the receiver is asked again
				// after the backoff, and the target still hears nothing.
				m.deliver(context.Background(), now.Add(2*RetryMax))
				if asked != 2 || elsewhere.count() != 0 {
					t.Errorf("after the backoff: receiver asked %d times (want 2), target %d (want 0)", asked, elsewhere.count())
				}
			})
		}
	}
}
