package main

import (
	"fmt"
	"log/slog"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/config"
	"github.com/shiptrace/shiptrace/gateway/console"
	"github.com/shiptrace/shiptrace/gateway/web"
	"github.com/shiptrace/shiptrace/tracklink"
)

// trackingPages builds the public tracking page from the configuration. Its
// secret and identity are read at start only; a reload does not change
// them.
func trackingPages(cfg *config.Config, ledger *fabric.Client, log *slog.Logger) (*web.Pages, error) {
	secret, err := cfg.TrackSecret()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	signer, err := tracklink.New(secret)
	if err != nil {
		return nil, fmt.Errorf("configuration: track.secret_file: %w", err)
	}
	return web.New(web.Options{Ledger: ledger, Identity: cfg.Track.Identity, Signer: signer, Logger: log})
}

// memberConsole builds the member console from the configuration. Its
// cookie is Secure when the gateway serves TLS. Its settings are read at
// start only.
func memberConsole(cfg *config.Config, ledger *fabric.Client, pages *web.Pages, log *slog.Logger) (*console.Console, error) {
	c := cfg.Console
	return console.New(console.Options{Ledger: ledger, Pages: pages, Logger: log, TLS: cfg.TLS.Enabled(),
		SessionTTL: c.SessionTTL, IdleTimeout: c.IdleTimeout, MaxSessions: c.MaxSessions,
		SignInRate: c.SignInRate, SignInBurst: c.SignInBurst})
}
