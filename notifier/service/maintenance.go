package service

import (
	"context"
	"log/slog"
	"time"
)

// maintain rewrites the store file after an erasure (at most once per
// store.compact_interval), until ctx ends.
func (s *Service) maintain(ctx context.Context) {
	log := s.log.With(slog.String("component", "store"))
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
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
