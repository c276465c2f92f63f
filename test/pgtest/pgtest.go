// Package pgtest gives tests PostgreSQL: a schema of their own on the machine's
// shared server (Schema), or, for tests that stop and start their database
// (fault tests), a private server, never the shared one.
// It uses the machine's initdb and pg_ctl (Debian's postgresql package), keeps its
// data on /dev/shm, and runs as the postgres user when the tests run as root (the
// server refuses root).
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kubegate/kubegate/kubeenv"
)

// Server is a private PostgreSQL server.
type Server struct {
	// DSN reaches the server's postgres database as the superuser, trust auth.
	DSN string

	dir   string
	port  int
	lease *kubeenv.PortLease
	cred  *syscall.Credential
}

// binary finds a PostgreSQL program on PATH or in Debian's versioned directory.
func binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		return "", fmt.Errorf("pgtest: %s not found: install Debian's postgresql package", name)
	}
	return matches[len(matches)-1], nil
}

// Start initialises and starts a server on a free loopback port.
func Start() (*Server, error) {
	base := "/dev/shm"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "kubegate-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, errors.Join(fmt.Errorf("pgtest: running as root needs a postgres user: %w", err), os.RemoveAll(dir))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)} //nolint:gosec // ids fit.
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
	if s.lease, err = kubeenv.ReservePorts(1); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	s.port = s.lease.Ports[0]
	s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	if err := s.run("initdb", "-D", s.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// Start starts the (stopped) server and waits until it accepts connections.
func (s *Server) Start() error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c max_connections=200", s.port, s.dir)
	return s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
}

// Stop stops the server at once, ending every connection (an outage).
func (s *Server) Stop() error {
	return s.run("pg_ctl", "-D", s.data(), "-m", "fast", "-w", "-t", "60", "stop")
}

// Close stops the server if it runs and removes its data.
func (s *Server) Close() {
	if _, err := os.Stat(filepath.Join(s.data(), "postmaster.pid")); err == nil {
		_ = s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
	}
	s.lease.Release()
	_ = os.RemoveAll(s.dir)
}

// Log is the server's log, for failed tests.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	return string(b)
}

func (s *Server) run(name string, args ...string) error {
	bin, err := binary(name)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...) //nolint:gosec,noctx // the machine's PostgreSQL programs; pg_ctl has its own timeout.
	cmd.Dir = s.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}
