package kubeenv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// PortLease holds loopback ports for one cluster (or another test server) until
// released.
//
// Picking a port by listening on :0 and closing the listener leaves a window in
// which anything else may take it: another test package starting a cluster, or any
// outgoing connection, since :0 ports come from the kernel's ephemeral range. So
// ports are taken outside that range, and each is claimed with an flock on a file
// named after it, held for the cluster's lifetime: every kubeenv process on the
// machine skips a port another one holds, and the kernel releases the lock if the
// holder dies.
type PortLease struct {
	Ports []int
	locks []*os.File
}

// Release frees the ports.
func (l *PortLease) Release() {
	if l == nil {
		return
	}
	for _, f := range l.locks {
		_ = f.Close() // closing the descriptor drops its flock
	}
	l.locks = nil
}

// ReservePorts claims n distinct free loopback ports for servers of the caller's,
// as clusters get theirs: no other kubeenv user on the machine takes them until
// Release.
func ReservePorts(n int) (*PortLease, error) {
	lo, hi := portRange()
	dir := filepath.Join(os.TempDir(), "kubegate-kubeenv-ports")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l := &PortLease{}
	span := hi - lo
	start := rand.IntN(span) //nolint:gosec // spreading processes over the range, not a secret.
	for i := 0; i < span && len(l.Ports) < n; i++ {
		port := lo + (start+i)%span
		f, ok, err := claim(dir, port)
		if err != nil {
			l.Release()
			return nil, err
		}
		if ok {
			l.Ports = append(l.Ports, port)
			l.locks = append(l.locks, f)
		}
	}
	if len(l.Ports) < n {
		l.Release()
		return nil, fmt.Errorf("kubeenv: no %d free ports in %d-%d", n, lo, hi)
	}
	return l, nil
}

// claim locks port's file and checks that nothing listens on the port.
func claim(dir string, port int) (*os.File, bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // our own directory.
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil // another kubeenv holds it
		}
		return nil, false, err
	}
	lc := net.ListenConfig{}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		_ = f.Close()
		return nil, false, nil // in use by something else
	}
	_ = ln.Close()
	return f, true, nil
}

// portRange is where ports are taken from: below the kernel's ephemeral range
// (ip_local_port_range, 32768-60999 by default), or above it when that is small.
func portRange() (lo, hi int) {
	ephLo, ephHi := 32768, 60999
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if a, err := strconv.Atoi(f[0]); err == nil {
				ephLo = a
			}
			if b, err := strconv.Atoi(f[1]); err == nil {
				ephHi = b
			}
		}
	}
	if ephLo-20000 >= 2000 {
		return 20000, ephLo
	}
	if 65535-ephHi >= 2000 {
		return ephHi + 1, 65536
	}
	return 10000, 20000
}
