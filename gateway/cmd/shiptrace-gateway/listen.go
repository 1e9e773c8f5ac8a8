package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// listeners are the gateway's HTTP servers: the API, and optionally a
// separate one for /metrics. Each serves TLS when tlsConfig is set; the
// configuration allows plain HTTP on loopback addresses only.
type listeners struct {
	log     *slog.Logger
	servers []*http.Server
	lns     []net.Listener
}

// add opens addr for handler, with TLS when tlsConfig is not nil.
func (l *listeners) add(name, addr string, handler http.Handler, tlsConfig *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	l.log.Info("listening", "listener", name, "url", scheme+"://"+ln.Addr().String())
	l.lns = append(l.lns, ln)
	l.servers = append(l.servers, &http.Server{
		Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(l.log.Handler(), slog.LevelWarn),
	})
	return nil
}

// serve runs every server until one fails or ctx ends.
func (l *listeners) serve(ctx context.Context) error {
	errc := make(chan error, len(l.servers))
	for i, s := range l.servers {
		go func() { errc <- s.Serve(l.lns[i]) }()
	}
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		return nil
	}
}

// shutdown stops accepting and waits for in-flight requests, bounded by ctx.
func (l *listeners) shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range l.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (l *listeners) close() {
	for _, ln := range l.lns {
		_ = ln.Close()
	}
}
