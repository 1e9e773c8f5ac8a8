package main

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/gateway/config"
	"github.com/shiptrace/shiptrace/gateway/web"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/tracklink"
)

// trackingPages builds the public tracking page from the configuration. Its
// secret and identity are read at start only; a reload does not change
// them.
func trackingPages(cfg *config.Config, ledger *fabric.Client, log *slog.Logger, reg prometheus.Registerer) (*web.Pages, error) {
	secret, err := cfg.TrackSecret()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	signer, err := tracklink.New(secret)
	if err != nil {
		return nil, fmt.Errorf("configuration: track.secret_file: %w", err)
	}
	return web.New(web.Options{Ledger: ledger, Identity: cfg.Track.Identity, Signer: signer, Logger: log, Registerer: reg})
}

// shipmentChanges passes the shipments this gateway's own writes changed,
// as they commit, to the tracking page (web.Pages.Changed), which is built
// after the Fabric adapter that reports the commits.
type shipmentChanges struct {
	fn atomic.Pointer[func(string)]
}

func (c *shipmentChanges) set(fn func(string)) { c.fn.Store(&fn) }

func (c *shipmentChanges) committed(r fabric.Request, _ fabric.Committed) {
	f := c.fn.Load()
	if f == nil || r.Tx == string(shipment.OpCreate) || len(r.Args) == 0 {
		return // nothing kept yet, or a new shipment: no copy of it exists
	}
	(*f)(r.Args[0]) // every other shipment transaction names the shipment first
}
