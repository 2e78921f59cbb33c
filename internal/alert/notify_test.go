package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vpnwatchd/vpnwatchd/internal/correlate"
)

// seedFinding is the seed incident's first finding, as the correlator
// renders it.
func seedFinding() correlate.Finding {
	return correlate.Finding{Rule: "BGPDownIPsecUp", Severity: correlate.SeverityCritical, Since: t0,
		Subject: correlate.Subject{VPNConnectionID: "vpn-0a1b2c3d4e5f67890", VPNName: "osaka-office", OutsideIP: "203.0.113.10", Router: "osaka-rtx1200", RTXTunnel: 1},
		Summary: "tunnel 203.0.113.10: AWS says DOWN / IPSEC IS UP, RTX osaka-rtx1200 tunnel 1 is Online, BGP Active: IPsec is up but BGP is not established",
		Evidence: correlate.Evidence{
			AWS: &correlate.AWSEvidence{Status: "DOWN", StatusMessage: "IPSEC IS UP", Routing: "bgp", LastStatusChange: t0.Add(-time.Hour), CustomerGatewayIP: "198.18.0.2"},
			RTX: &correlate.RTXEvidence{TunnelState: "Online", SAs: []correlate.SAEvidence{{ID: 3, Direction: "send", RemainingSeconds: 1944}, {ID: 4, Direction: "recv", RemainingSeconds: 1944}},
				BGPNeighbor: "169.254.10.1", BGPState: "Active", MTU: 1280, MSSLimit: "1379", DPD: "dpd 10 3"}},
		Remediation: "`bgp neighbor 1 64512 169.254.10.1 hold-time=30 local-address=169.254.10.2`; also `ip tunnel tcp mss limit 1240`"}
}

type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	hdrs   []http.Header
	status []int // answers to give, then 200
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bodies = append(r.bodies, b)
	r.hdrs = append(r.hdrs, req.Header.Clone())
	if len(r.status) > 0 {
		st := r.status[0]
		r.status = r.status[1:]
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(st)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func TestSlackBlockKitAndRetryAfter(t *testing.T) {
	rec := &recorder{status: []int{http.StatusTooManyRequests}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	dir := t.TempDir()
	m, err := NewManager(zaptest.NewLogger(t), dir, Lifecycle{RepeatInterval: time.Hour, ResolveHold: 0, FlapWindow: time.Hour},
		[]Receiver{{Name: "slack[0]", Integration: "slack", SendResolved: true, Notifier: &Slack{WebhookURL: srv.URL + "/services/T0/B0/secret", Channel: "#network", Client: srv.Client()}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := m.Update([]correlate.Finding{seedFinding()}, now); err != nil {
		t.Fatal(err)
	}
	m.deliver(context.Background(), now)
	if rec.count() != 1 || m.outbox.Len() != 1 {
		t.Fatalf("after a 429: %d requests, %d queued", rec.count(), m.outbox.Len())
	}
	m.deliver(context.Background(), now.Add(500*time.Millisecond))
	if rec.count() != 1 {
		t.Error("retried before Retry-After")
	}
	m.deliver(context.Background(), now.Add(3*time.Second))
	if rec.count() != 2 || m.outbox.Len() != 0 {
		t.Fatalf("after Retry-After: %d requests, %d queued", rec.count(), m.outbox.Len())
	}
	var msg struct {
		Channel string `json:"channel"`
		Text    string `json:"text"`
		Blocks  []struct {
			Type   string `json:"type"`
			Text   *struct{ Type, Text string }
			Fields []struct{ Type, Text string }
		} `json:"blocks"`
	}
	if err := json.Unmarshal(rec.bodies[1], &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Channel != "#network" || !strings.Contains(msg.Text, "[FIRING critical] vpn-0a1b2c3d4e5f67890 (osaka-office): BGPDownIPsecUp") || msg.Blocks[0].Type != "header" {
		t.Errorf("message: %s", rec.bodies[1])
	}
	var sides, fix bool
	for _, b := range msg.Blocks {
		if len(b.Fields) == 2 && strings.HasPrefix(b.Fields[0].Text, "*AWS side*") && strings.HasPrefix(b.Fields[1].Text, "*RTX side*") &&
			strings.Contains(b.Fields[0].Text, `"IPSEC IS UP"`) && strings.Contains(b.Fields[1].Text, "BGP 169.254.10.1: Active") {
			sides = true
		}
		if b.Text != nil && strings.Contains(b.Text.Text, "````bgp neighbor 1 64512") {
			fix = true
		}
	}
	if !sides || !fix {
		t.Errorf("blocks lack the two sides or the fix: %s", rec.bodies[1])
	}
	// Resolved: one more message, marked resolved.
	m.Update(nil, now.Add(time.Minute))
	m.deliver(context.Background(), now.Add(time.Minute))
	if rec.count() != 3 || !strings.Contains(string(rec.bodies[2]), "RESOLVED") {
		t.Errorf("resolved: %d %s", rec.count(), rec.bodies[len(rec.bodies)-1])
	}
}

func TestWebhookSignature(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: []byte("s3cret"), Client: srv.Client()}
	a := Alert{Fingerprint: "fp", Status: StatusFiring, Finding: seedFinding(), StartsAt: t0}
	if _, err := w.Notify(context.Background(), []Alert{a}); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write(rec.bodies[0])
	if got := rec.hdrs[0].Get(SignatureHeader); got != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %q", got)
	}
	var p WebhookPayload
	if err := json.Unmarshal(rec.bodies[0], &p); err != nil || p.Version != "1" || p.Status != StatusFiring || p.Alerts[0].Finding.Rule != "BGPDownIPsecUp" || !strings.Contains(p.Alerts[0].Text, "Fix:") {
		t.Errorf("payload: %v %s", err, rec.bodies[0])
	}
	// A 4xx is permanent; the URL's secret path never appears in errors.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	defer srv2.Close()
	retry, err := (&Webhook{URL: srv2.URL + "/hooks/TOKEN123", SecretURL: true, Client: srv2.Client()}).Notify(context.Background(), []Alert{a})
	if retry || err == nil || strings.Contains(err.Error(), "TOKEN123") {
		t.Errorf("403: retry %v, %v", retry, err)
	}
	// A URL written in the configuration itself is not a secret: its path
	// is shown (it tells which endpoint failed); credentials and query never.
	_, err = (&Webhook{URL: "http://ops:pw@" + strings.TrimPrefix(srv2.URL, "http://") + "/hooks/vpn?key=q", Client: srv2.Client()}).Notify(context.Background(), []Alert{a})
	if err == nil || !strings.Contains(err.Error(), "/hooks/vpn: 403") || strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "key=q") {
		t.Errorf("inline URL: %v", err)
	}
}

func TestOutboxSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	down := &recorder{status: []int{503, 503, 503, 503}}
	srv := httptest.NewServer(down)
	defer srv.Close()
	recv := func(url string) []Receiver {
		return []Receiver{{Name: "webhook[0]", Integration: "webhook", SendResolved: true, Notifier: &Webhook{URL: url, Client: srv.Client()}}}
	}
	life := Lifecycle{RepeatInterval: time.Hour, ResolveHold: time.Minute, FlapWindow: time.Hour}
	m, _ := NewManager(zaptest.NewLogger(t), dir, life, recv(srv.URL), nil)
	now := time.Now()
	m.Update([]correlate.Finding{seedFinding()}, now)
	m.deliver(context.Background(), now)
	if m.outbox.Len() != 1 {
		t.Fatalf("queued %d", m.outbox.Len())
	}
	// A restart: a new manager on the same state directory delivers the
	// queued notification once, and does not fire the same finding again.
	ok := &recorder{}
	srv2 := httptest.NewServer(ok)
	defer srv2.Close()
	m2, err := NewManager(zaptest.NewLogger(t), dir, life, recv(srv2.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	m2.Update([]correlate.Finding{seedFinding()}, now.Add(time.Minute))
	m2.deliver(context.Background(), now.Add(time.Hour))
	m2.deliver(context.Background(), now.Add(2*time.Hour))
	if ok.count() != 1 || m2.outbox.Len() != 0 {
		t.Errorf("after restart: %d deliveries, %d queued", ok.count(), m2.outbox.Len())
	}
}

// One slow receiver must not delay the others: with Slack hanging until
// its timeout and an SMTP server that accepts the connection and never
// answers, the webhook still gets the alert within a second.
func TestHangingReceiverDelaysNoOther(t *testing.T) {
	hang := make(chan struct{})
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slack.Close()
	tarpit, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tarpit.Close()
	go func() {
		for {
			c, err := tarpit.Accept()
			if err != nil {
				return
			}
			go func() { <-hang; c.Close() }() // never a greeting
		}
	}()
	got := make(chan time.Time, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- time.Now() }))
	defer hook.Close()
	defer close(hang) // first: the servers' Close waits for their handlers

	m, err := NewManager(zaptest.NewLogger(t), t.TempDir(), Lifecycle{RepeatInterval: time.Hour, FlapWindow: time.Hour}, []Receiver{
		{Name: "slack[0]", Integration: "slack", Notifier: &Slack{WebhookURL: slack.URL + "/services/x", Client: slack.Client()}},
		{Name: "email[0]", Integration: "email", Notifier: &Email{Smarthost: tarpit.Addr().String(), From: "a@example.com", To: []string{"b@example.com"}}},
		{Name: "webhook[0]", Integration: "webhook", Notifier: &Webhook{URL: hook.URL, Client: hook.Client()}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { m.Run(ctx); close(stopped) }()
	queued := time.Now()
	if err := m.Update([]correlate.Finding{seedFinding()}, queued); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		t.Logf("webhook delivered %s after queueing, Slack and SMTP still hanging", at.Sub(queued).Round(time.Millisecond))
	case <-time.After(time.Second):
		t.Fatal("the webhook waited for the hanging receivers")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return with receivers hanging")
	}
}

// Text that came from a router (a spoofable syslog line, an unreadable
// output line quoted in a summary) is inert in every receiver's format.
func TestUntrustedTextEscaped(t *testing.T) {
	f := seedFinding()
	hostile := "<!channel> see <http://evil.example|the fix> ``` <script>alert(1)</script> & \x1b[31m"
	f.Summary = "RTX osaka: line not understood: " + hostile
	f.Evidence.RTX.Syslog = []string{"2026-11-25T09:00:00Z IP Tunnel[1] Down " + hostile}
	f.Evidence.AWS.Log = []string{"2026-11-25T09:00:01Z " + hostile}
	a := Alert{Fingerprint: "x", Status: StatusFiring, Finding: f, StartsAt: t0}
	var texts []string
	for _, bl := range SlackPayload("#network", []Alert{a}).Blocks {
		if bl.Text != nil {
			texts = append(texts, bl.Text.Text)
		}
		for _, f := range bl.Fields {
			texts = append(texts, f.Text)
		}
	}
	slack := strings.Join(texts, "\n")
	for _, bad := range []string{"<!channel>", "<http://evil", "<script>", "``` <", "\x1b"} {
		if strings.Contains(slack, bad) {
			t.Errorf("Slack message carries %q raw: %s", bad, slack)
		}
	}
	if !strings.Contains(slack, "&lt;!channel&gt;") || !strings.Contains(slack, "log: 2026-11-25T09:00:00Z IP Tunnel[1] Down") {
		t.Errorf("Slack message lost the text: %s", slack)
	}
	html := HTML(a)
	if strings.Contains(html, "<script>") || strings.Contains(html, "<!channel>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("e-mail HTML: %s", html)
	}
	if txt := Text(a); strings.Contains(txt, "\x1b") {
		t.Errorf("text keeps a terminal escape: %q", txt)
	}
}

// A Flush at shutdown while Run's worker is still delivering to the same
// receiver leaves it to the worker: the alert arrives once.
func TestFlushDuringDeliverySendsOnce(t *testing.T) {
	var mu sync.Mutex
	got := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		got++
		mu.Unlock()
	}))
	defer hook.Close()
	m, err := NewManager(zaptest.NewLogger(t), t.TempDir(), Lifecycle{RepeatInterval: time.Hour, FlapWindow: time.Hour},
		[]Receiver{{Name: "webhook[0]", Integration: "webhook", Notifier: &Webhook{URL: hook.URL, Client: hook.Client()}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { m.Run(ctx); close(stopped) }()
	if err := m.Update([]correlate.Finding{seedFinding()}, time.Now()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // Run's worker is in the request now
	m.Flush(context.Background())
	time.Sleep(400 * time.Millisecond)
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	if got != 1 {
		t.Errorf("the alert arrived %d times", got)
	}
}
