package integration

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// requestConsumed reports whether the bytes our client sent on the loopback
// connection from port local to port remote have been delivered and read by
// the server: the client's socket has nothing unacknowledged and the
// server's socket nothing unread. It reads /proc/net/tcp.
func requestConsumed(local, remote int) (bool, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false, err
	}
	defer f.Close()
	clientOK, serverOK := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue ...
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 || !strings.Contains(fs[1], ":") {
			continue
		}
		lp, err1 := hexPort(fs[1])
		rp, err2 := hexPort(fs[2])
		tx, rx, ok := strings.Cut(fs[4], ":")
		if err1 != nil || err2 != nil || !ok {
			continue
		}
		switch {
		case lp == local && rp == remote:
			clientOK = tx == "00000000"
		case lp == remote && rp == local:
			serverOK = rx == "00000000"
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return clientOK && serverOK, nil
}

// hexPort reads the port of an address of /proc/net/tcp ("0100007F:1F90").
func hexPort(addr string) (int, error) {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return 0, fmt.Errorf("no port in %q", addr)
	}
	n, err := strconv.ParseUint(p, 16, 16)
	return int(n), err
}

const canSeeSockets = true
