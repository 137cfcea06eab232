package checks

import (
	"context"
	"net"
	"time"

	"meridian/rpc"
)

// The tcp kind, as Consul's: passing when a TCP connection to def.TCP
// (host:port) opens within the timeout, output "TCP connect host:port:
// Success"; critical with the error otherwise. The connection is closed at
// once; nothing is sent.

type tcpProber struct {
	addr    string
	timeout time.Duration
	dialer  *net.Dialer
}

func newTCPProber(r *Runner, def rpc.CheckDefinition) (prober, error) {
	return &tcpProber{addr: def.TCP, timeout: def.Timeout.Std(), dialer: &net.Dialer{}}, nil
}

func (p *tcpProber) probe(ctx context.Context) result {
	conn, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return result{rpc.HealthCritical, "TCP connect " + p.addr + ": " + describeErr(ctx, err, p.timeout)}
	}
	conn.Close()
	return result{rpc.HealthPassing, "TCP connect " + p.addr + ": Success"}
}
