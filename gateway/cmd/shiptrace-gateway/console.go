package main

import (
	"log/slog"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/config"
	"github.com/shiptrace/shiptrace/gateway/console"
	"github.com/shiptrace/shiptrace/gateway/web"
)

// memberConsole builds the member console from the configuration. Its
// cookie is Secure when the gateway serves TLS. Its settings are read at
// start only.
func memberConsole(cfg *config.Config, ledger *fabric.Client, pages *web.Pages, log *slog.Logger) (*console.Console, error) {
	c := cfg.Console
	return console.New(console.Options{Ledger: ledger, Pages: pages, Logger: log, TLS: cfg.TLS.Enabled(),
		SessionTTL: c.SessionTTL, IdleTimeout: c.IdleTimeout, MaxSessions: c.MaxSessions,
		SignInRate: c.SignInRate, SignInBurst: c.SignInBurst})
}
