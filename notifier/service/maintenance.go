package service

import (
	"context"
	"log/slog"
	"time"
)

// maintain keeps the outbox within its retention period and rewrites the
// store file after an erasure or a purge (at most once per
// store.compact_interval), until ctx ends. A purge runs at start, so a
// notifier that was down past a purge time catches up at once.
func (s *Service) maintain(ctx context.Context) {
	log := s.log.With(slog.String("component", "store"))
	purge := func() {
		n, err := s.store.Purge(time.Now().Add(-s.cfg.Store.Retention))
		if err != nil {
			log.Error("purge of notifications past retention", slog.Any("error", err))
			return
		}
		if n > 0 {
			s.metrics.Purged(n)
			log.Info("notifications past retention deleted", slog.Int("count", n), slog.Duration("retention", s.cfg.Store.Retention))
		}
	}
	purge()
	tick := time.NewTicker(s.cfg.Store.PurgeInterval)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			purge()
		case <-s.store.CompactionWanted():
			if wait := time.Until(last.Add(s.cfg.Store.CompactInterval)); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			last = time.Now()
			if err := s.store.Compact(); err != nil {
				log.Error("rewrite of the store file after deletions", slog.Any("error", err))
				continue
			}
			log.Debug("store file rewritten without deleted data")
		}
	}
}
