package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubegate/kubegate/account"
	"github.com/kubegate/kubegate/importer"
	"github.com/kubegate/kubegate/internal/config"
)

// ImportKubeCube runs `kubegate import kubecube`: KubeCube's users and keys, from
// the cluster cfg.ImportKubeconfig reaches, into the store cfg names (which a
// running gateway may share: replicas pick the changes up), and a report to out.
func ImportKubeCube(ctx context.Context, cfg *config.Config, logger *slog.Logger, out io.Writer) (err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating --data-dir: %w", err)
	}
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: cfg.ImportKubeconfig}
	rest, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: cfg.ImportContext}).ClientConfig()
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rest)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	accounts, err := account.New(account.Options{Store: store, MaxKeysPerUser: cfg.MaxKeysPerUser, Logger: logger})
	if err != nil {
		return err
	}
	if err := accounts.Load(ctx); err != nil {
		return err
	}
	report, err := importer.KubeCube(ctx, dyn, accounts, importer.Options{DryRun: cfg.DryRun, ExistingUsers: cfg.ImportExistingUsers, Admins: cfg.ImportAdmins})
	report.Print(out, cfg.DryRun)
	return err
}
