package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Socket kinds, in the order they are tried.
const (
	SocketUnprivileged = "unprivileged ICMP datagram"
	SocketRaw          = "raw ICMP"
)

// ErrNoSocket says neither ICMP socket kind could be opened, and what to
// grant so that one can.
var ErrNoSocket = errors.New("cannot open an ICMP socket")

// conn is an ICMP echo socket with Don't Fragment set and the kernel's path
// MTU cache ignored (IP_PMTUDISC_PROBE), so that one "fragmentation needed"
// does not make every later larger probe fail locally.
type conn struct {
	pc   net.PacketConn
	rc   syscall.RawConn
	kind string
	v6   bool
	id   int
}

// openConn opens an unprivileged ICMP socket (net.ipv4.ping_group_range),
// else a raw one (CAP_NET_RAW).
func openConn(v6 bool) (*conn, error) {
	family, proto := unix.AF_INET, unix.IPPROTO_ICMP
	if v6 {
		family, proto = unix.AF_INET6, unix.IPPROTO_ICMPV6
	}
	var errs []error
	for _, kind := range []string{SocketUnprivileged, SocketRaw} {
		typ := unix.SOCK_DGRAM
		if kind == SocketRaw {
			typ = unix.SOCK_RAW
		}
		fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s socket: %w", kind, err))
			continue
		}
		if err := setProbeOptions(fd, v6); err != nil {
			unix.Close(fd)
			return nil, err
		}
		f := os.NewFile(uintptr(fd), "icmp")
		pc, err := net.FilePacketConn(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s socket: %w", kind, err)
		}
		sc, ok := pc.(syscall.Conn)
		if !ok {
			pc.Close()
			return nil, fmt.Errorf("%s socket: no raw access", kind)
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			pc.Close()
			return nil, err
		}
		c := &conn{pc: pc, rc: rc, kind: kind, v6: v6, id: os.Getpid() & 0xffff}
		if kind == SocketUnprivileged {
			// The kernel owns the echo identifier of datagram sockets: it is
			// the socket's local "port".
			if a, ok := pc.LocalAddr().(*net.UDPAddr); ok {
				c.id = a.Port
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: %w; allow unprivileged ICMP with `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"` (it covers IPv6 too), "+
		"or give vpnwatchd CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW)", ErrNoSocket, errors.Join(errs...))
}

func setProbeOptions(fd int, v6 bool) error {
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE); err != nil {
			return fmt.Errorf("IPV6_MTU_DISCOVER: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVERR, 1); err != nil {
			return fmt.Errorf("IPV6_RECVERR: %w", err)
		}
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE); err != nil {
		return fmt.Errorf("IP_MTU_DISCOVER: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1); err != nil {
		return fmt.Errorf("IP_RECVERR: %w", err)
	}
	return nil
}

func (c *conn) Close() error { return c.pc.Close() }

// outcome of one echo.
type outcome struct {
	ok       bool
	tooBig   bool // ICMP fragmentation needed / packet too big, or a local EMSGSIZE
	mtu      int  // next-hop MTU reported with tooBig, 0 if unknown
	local    bool // refused by this host (interface MTU) rather than by the path
	rtt      time.Duration
	timedOut bool
}

// echo sends one echo request with payload bytes of data and waits for its
// reply or an error.
func (c *conn) echo(dst net.IP, seq, payload int, timeout time.Duration) (outcome, error) {
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if c.v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	data := make([]byte, payload)
	for i := range data {
		data[i] = byte(i)
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: c.id, Seq: seq, Data: data}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return outcome{}, err
	}
	var addr net.Addr = &net.UDPAddr{IP: dst}
	if c.kind == SocketRaw {
		addr = &net.IPAddr{IP: dst}
	}
	start := time.Now()
	if _, err := c.pc.WriteTo(b, addr); err != nil {
		if errors.Is(err, syscall.EMSGSIZE) {
			return outcome{tooBig: true, local: true, mtu: c.queuedMTU()}, nil
		}
		return outcome{}, fmt.Errorf("send: %w", err)
	}
	deadline := start.Add(timeout)
	buf := make([]byte, 65536)
	for {
		c.pc.SetReadDeadline(deadline)
		n, _, err := c.pc.ReadFrom(buf)
		switch {
		case errors.Is(err, syscall.EMSGSIZE):
			// IP_RECVERR: the kernel surfaced an ICMP "fragmentation
			// needed" for our probe; the error queue has the MTU.
			return outcome{tooBig: true, mtu: c.queuedMTU()}, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.queuedMTU() // drain
			return outcome{timedOut: true}, nil
		case err != nil:
			var errno syscall.Errno
			if errors.As(err, &errno) && (errno == syscall.EHOSTUNREACH || errno == syscall.ENETUNREACH || errno == syscall.ECONNREFUSED) {
				c.queuedMTU()
				continue // an unreachable from the path: keep waiting to time out
			}
			return outcome{}, fmt.Errorf("receive: %w", err)
		}
		o, match := c.parse(buf[:n], seq)
		if !match {
			continue
		}
		o.rtt = time.Since(start)
		return o, nil
	}
}

// parse reads one received packet: our echo reply, or (raw sockets, which
// see every ICMP message) a "too big" error about our probe.
func (c *conn) parse(b []byte, seq int) (outcome, bool) {
	proto := 1
	if c.v6 {
		proto = 58
	}
	// net.IPConn (raw sockets) has already removed the IPv4 header.
	m, err := icmp.ParseMessage(proto, b)
	if err != nil {
		return outcome{}, false
	}
	switch body := m.Body.(type) {
	case *icmp.Echo:
		if (m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply) && body.Seq == seq && (c.kind == SocketUnprivileged || body.ID == c.id) {
			return outcome{ok: true}, true
		}
	case *icmp.DstUnreach:
		if m.Code == 4 && len(b) >= 8 { // fragmentation needed and DF set
			return outcome{tooBig: true, mtu: int(binary.BigEndian.Uint16(b[6:8]))}, c.quotes(body.Data, seq)
		}
	case *icmp.PacketTooBig:
		return outcome{tooBig: true, mtu: body.MTU}, c.quotes(body.Data, seq)
	}
	return outcome{}, false
}

// quotes reports whether the quoted original packet of an ICMP error is our
// echo request with this sequence number.
func (c *conn) quotes(orig []byte, seq int) bool {
	hl := 40
	if !c.v6 {
		if len(orig) < 20 {
			return false
		}
		hl = int(orig[0]&0x0f) * 4
	}
	if len(orig) < hl+8 {
		return false
	}
	e := orig[hl:]
	return int(binary.BigEndian.Uint16(e[4:6])) == c.id && int(binary.BigEndian.Uint16(e[6:8])) == seq
}

// queuedMTU drains the socket's error queue (IP_RECVERR) and returns the
// MTU of the last "too big" error in it, or 0.
func (c *conn) queuedMTU() int {
	mtu := 0
	buf := make([]byte, 1500)
	oob := make([]byte, 512)
	for range 16 {
		var n, oobn int
		var rerr error
		err := c.rc.Read(func(fd uintptr) bool {
			_, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
			return true // never wait for the error queue
		})
		_ = n
		if err != nil || rerr != nil {
			return mtu
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return mtu
		}
		for _, m := range msgs {
			if (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR) ||
				(m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR) {
				// struct sock_extended_err: ee_errno u32, origin, type, code, pad u8, ee_info u32 …
				if len(m.Data) >= 12 && syscall.Errno(binary.NativeEndian.Uint32(m.Data[0:4])) == syscall.EMSGSIZE {
					mtu = int(binary.NativeEndian.Uint32(m.Data[8:12]))
				}
			}
		}
	}
	return mtu
}
