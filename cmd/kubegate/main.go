// Command kubegate is the OpenAPI gateway for multi-cluster Kubernetes platforms.
//
//	kubegate serve     run the gateway
//	kubegate demo      run two local clusters and the gateway, seeded with samples
//	kubegate version   print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/demo"
	"github.com/kubegate/kubegate/execcred"
	"github.com/kubegate/kubegate/internal/app"
	"github.com/kubegate/kubegate/internal/config"
	"github.com/kubegate/kubegate/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `kubegate: an OpenAPI gateway for multi-cluster Kubernetes.

Usage:
  kubegate serve [flags]     run the gateway
  kubegate demo [flags]      run two local clusters and the gateway, seeded with samples
  kubegate token [flags]     exec credential plugin for kubectl: exchanges an access key pair
  kubegate import kubecube   import KubeCube's users and access keys from its control cluster
  kubegate version           print the version

Run "kubegate <command> --help" for the flags of a command.
`

// run is main without the process: tests call it with their own arguments,
// environment and outputs. It returns the exit code: 0 ok, 1 failure, 2 usage.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "kubegate %s\n", kubegate.Version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	case "token":
		return tokenCommand(ctx, args, getenv, stdout, stderr)
	case "import":
		if len(args) == 0 || args[0] != "kubecube" {
			fmt.Fprintf(stderr, "kubegate import: say what to import from: kubegate import kubecube --kubeconfig PATH [--dry-run]\n")
			return 2
		}
		cmd, args = string(config.ImportKubeCube), args[1:]
	case string(config.Serve), string(config.Demo):
	default:
		fmt.Fprintf(stderr, "kubegate: unknown command %q\n\n%s", cmd, usage)
		return 2
	}

	cfg, err := config.Parse(config.Command(cmd), args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kubegate %s: %v\n", cmd, err)
		return 2
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)

	switch config.Command(cmd) {
	case config.Demo:
		err = demo.Run(ctx, cfg, logger, stdout, getenv)
	case config.ImportKubeCube:
		err = app.ImportKubeCube(ctx, cfg, logger, stdout)
	default:
		err = serve(ctx, cfg, logger, stdout)
	}
	if err != nil {
		logger.Error("exiting", "command", cmd, "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, stdout io.Writer) error {
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if pw := a.GeneratedAdminPassword(); pw != "" {
		if err := showAdminPassword(cfg.DataDir, pw, stdout, logger); err != nil {
			return err
		}
	}
	return a.Run(ctx)
}

// showAdminPassword shows a generated administrator password once: on the
// terminal, or, when stdout is not one (a container's log, a journal), in a file
// only the gateway's user can read, whose path is logged. It never enters a log.
func showAdminPassword(dataDir, pw string, stdout io.Writer, logger *slog.Logger) error {
	if f, ok := stdout.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(stdout, "kubegate: created the administrator \"admin\" with password %s\n"+
				"kubegate: it is shown only now; log in and change it, or set KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD before the first start.\n", pw)
			return nil
		}
	}
	path := filepath.Join(dataDir, "initial-admin-password")
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil { //nolint:gosec // in the operator's --data-dir.
		return fmt.Errorf("saving the generated administrator password: %w", err)
	}
	logger.Warn("created the administrator \"admin\" with a generated password, saved in a file only kubegate's user can read: "+
		"log in, change the password and delete the file (or set KUBEGATE_BOOTSTRAP_ADMIN_PASSWORD before the first start)", "path", path)
	return nil
}

// tokenCommand runs `kubegate token`, the exec credential plugin.
func tokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kubegate token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cache := getenv("XDG_CACHE_HOME")
	if cache == "" && getenv("HOME") != "" {
		cache = getenv("HOME") + "/.cache"
	}
	if cache != "" {
		cache += "/kubegate/tokens"
	}
	o := execcred.Options{ExecInfo: getenv("KUBERNETES_EXEC_INFO")}
	fs.StringVar(&o.Server, "server", getenv("KUBEGATE_SERVER"), "the gateway's URL [KUBEGATE_SERVER]")
	fs.StringVar(&o.AccessKey, "access-key", getenv("KUBEGATE_ACCESS_KEY"), "access key [KUBEGATE_ACCESS_KEY]")
	fs.StringVar(&o.SecretKey, "secret-key", getenv("KUBEGATE_SECRET_KEY"), "secret key [KUBEGATE_SECRET_KEY]; prefer the variable, flags show in ps")
	fs.StringVar(&o.CAFile, "certificate-authority", getenv("KUBEGATE_CA_FILE"), "CA of an https gateway with a private CA [KUBEGATE_CA_FILE]")
	fs.StringVar(&o.CacheDir, "cache-dir", cache, "where tokens are cached until shortly before expiry (empty: no cache)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := execcred.Run(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "kubegate token: %v\n", err)
		return 1
	}
	return 0
}
