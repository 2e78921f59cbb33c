package config

import "time"

// Defaults live here and nowhere else. The decoder calls setDefaults on each
// value before filling it from the file, so a key left out keeps the value
// below.

// DefaultPort is vpnwatchd's HTTP port. Prometheus' default port allocations
// list has no free number left in 9100-9999; new exporters take numbers from
// 10000 up, and this one avoids the well-known 10000 (webmin) and 10050/10051
// (Zabbix).
const DefaultPort = "10123"

// Default values of the configuration keys.
const (
	DefaultListen                    = ":" + DefaultPort
	DefaultPollInterval              = 30 * time.Second
	DefaultStateDir                  = "/var/lib/vpnwatchd"
	DefaultRouterTimeout             = 10 * time.Second
	DefaultAWSTimeout                = 20 * time.Second
	DefaultMaintenanceInterval       = time.Hour
	DefaultProbeInterval             = 5 * time.Minute
	DefaultProbePath                 = ProbePathTunnel
	DefaultRepeatInterval            = 4 * time.Hour
	DefaultGroupWait                 = 30 * time.Second
	DefaultGroupInterval             = 5 * time.Minute
	DefaultResolveHold               = time.Minute
	DefaultFlapThreshold             = 4
	DefaultFlapWindow                = time.Hour
	DefaultSendResolved              = true
	minPollInterval                  = time.Second
	maxSecretFileSize          int64 = 64 << 10
)

func (c *Config) setDefaults() {
	c.Listen = DefaultListen
}

func (g *Global) setDefaults() {
	g.PollInterval = DefaultPollInterval
	g.StateDir = DefaultStateDir
}

func (r *Router) setDefaults()     { r.Timeout = DefaultRouterTimeout }
func (s *StrongSwan) setDefaults() { s.Timeout = DefaultRouterTimeout }

func (a *AWSSource) setDefaults() {
	a.Timeout = DefaultAWSTimeout
	a.MaintenanceInterval = DefaultMaintenanceInterval
	a.Logs = true
	a.LogsKept = DefaultLogsKept
}

func (p *Probe) setDefaults() {
	p.Interval = DefaultProbeInterval
	p.Path = DefaultProbePath
}

func (a *Alerting) setDefaults() {
	a.RepeatInterval = DefaultRepeatInterval
	a.GroupBy = []string{"vpn_connection_id"}
	a.GroupWait = DefaultGroupWait
	a.GroupInterval = DefaultGroupInterval
	a.ResolveHold = DefaultResolveHold
	a.FlapThreshold = DefaultFlapThreshold
	a.FlapWindow = DefaultFlapWindow
}

func (s *SlackReceiver) setDefaults() { s.SendResolved = DefaultSendResolved }
func (e *EmailReceiver) setDefaults() {
	e.SendResolved = DefaultSendResolved
	e.RequireTLS = true
}
func (w *WebhookReceiver) setDefaults() { w.SendResolved = DefaultSendResolved }

// Default returns a configuration with every default filled in and no
// sources, as an empty file would give.
func Default() *Config {
	c := &Config{}
	c.setDefaults()
	c.Global.setDefaults()
	c.Alerting.setDefaults()
	return c
}

// DefaultLogsKept is how many of AWS's log events are kept per tunnel, and
// MaxLogsKept the most that may be asked for (memory: a few hundred bytes
// an event).
const (
	DefaultLogsKept = 200
	MaxLogsKept     = 10000
)
