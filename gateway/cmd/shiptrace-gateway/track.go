package main

import (
	"fmt"
	"log/slog"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/config"
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
