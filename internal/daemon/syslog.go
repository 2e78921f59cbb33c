package daemon

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/vpnwatchd/vpnwatchd/internal/config"
	"github.com/vpnwatchd/vpnwatchd/internal/rtx"
)

// syslogReceiver takes the routers' syslog over UDP. Tunnel and BGP events
// trigger an immediate poll cycle; every event is kept (briefly) as
// evidence for the router's findings.
type syslogReceiver struct {
	conn     net.PacketConn
	log      *zap.Logger
	sources  atomic.Pointer[map[string]string] // source IP → router
	messages *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	trigger  func(router string)

	mu     sync.Mutex
	recent map[string][]rtx.Event // router → last events
}

// syslogKeep is how many recent events per router are kept as evidence.
const syslogKeep = 20

// newSyslogReceiverOn receives on conn: a socket of its own (syslog.listen)
// or the one systemd passed (vpnwatchd-syslog.socket).
func newSyslogReceiverOn(conn net.PacketConn, log *zap.Logger, reg prometheus.Registerer, trigger func(string)) *syslogReceiver {
	s := &syslogReceiver{conn: conn, log: log, trigger: trigger, recent: map[string][]rtx.Event{},
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vpnwatch", Name: "syslog_messages_total",
			Help: "Syslog messages received from routers, by kind (tunnel-up, tunnel-down, ike, bgp, other)."}, []string{"router", "kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "vpnwatch", Name: "syslog_dropped_total",
			Help: "Syslog messages dropped: from an unknown source, or unreadable."}, []string{"reason"}),
	}
	for _, reason := range []string{"unknown_source", "unreadable"} {
		s.dropped.WithLabelValues(reason) // exported at 0 from the start
	}
	reg.MustRegister(s.messages, s.dropped)
	return s
}

// addr is the address the receiver listens on, for the operator.
func (s *syslogReceiver) addr() string { return s.conn.LocalAddr().String() }

// setRouters maps each router's syslog source address (syslog_source, else
// the host of address when it is an IP) to its name.
func (s *syslogReceiver) setRouters(routers []config.Router) {
	m := map[string]string{}
	for _, r := range routers {
		src := r.SyslogSource
		if src == "" {
			src, _, _ = net.SplitHostPort(r.Address)
		}
		if ip := net.ParseIP(src); ip != nil {
			m[ip.String()] = r.Name
		}
	}
	s.sources.Store(&m)
}

func (s *syslogReceiver) run() error {
	buf := make([]byte, 2048)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return nil // closed at shutdown
		}
		host, _, _ := net.SplitHostPort(from.String())
		router, ok := (*s.sources.Load())[net.ParseIP(host).String()]
		if !ok {
			s.dropped.WithLabelValues("unknown_source").Inc()
			continue
		}
		ev, err := rtx.ParseSyslog(buf[:n])
		if err != nil {
			s.dropped.WithLabelValues("unreadable").Inc()
			continue
		}
		s.messages.WithLabelValues(router, ev.Kind).Inc()
		s.mu.Lock()
		ev.Time = time.Now().UTC()
		ev.Text = ev.Time.Format(time.RFC3339) + " " + ev.Text
		s.recent[router] = append(s.recent[router], ev)
		if len(s.recent[router]) > syslogKeep {
			s.recent[router] = s.recent[router][len(s.recent[router])-syslogKeep:]
		}
		s.mu.Unlock()
		s.log.Debug("syslog", zap.String("router", router), zap.String("kind", ev.Kind), zap.String("message", ev.Text))
		if ev.Urgent() {
			s.trigger(router)
		}
	}
}

// events returns a copy of the recent events of a router.
func (s *syslogReceiver) events(router string) []rtx.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rtx.Event(nil), s.recent[router]...)
}

func (s *syslogReceiver) close() { s.conn.Close() }
