package kubeenv

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// process is a child program in its own process group, killed with its parent.
type process struct {
	pid     int
	logPath string
	done    chan struct{} // closed when the process has exited and been reaped
	err     error         // Wait's result, valid after done
}

// startProcess starts path with args, output appended to logPath.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the
// process; Go may retire threads, so the fork happens on a goroutine locked to its
// thread that lives until the child has exited.
func startProcess(path string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // our own directory.
	if err != nil {
		return nil, err
	}
	p := &process{logPath: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logFile.Close()
		cmd := exec.Command(path, args...) //nolint:gosec,noctx // our own binaries; the lifetime is managed by stop, not a context.
		cmd.Stdout = logFile
		cmd.Stderr = logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			close(p.done)
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, and SIGKILL after grace.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	}
	// Anything the program itself started in its group goes too.
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	return nil
}
