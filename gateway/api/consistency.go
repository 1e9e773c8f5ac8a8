package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/fabric"
)

// The consistency token's headers: a write's answer names the block it
// committed in; a request that sends a block number back waits, bounded,
// until the organisation's own peer has that block, so it sees the write
// (or a later state) even when another member's gateway made it.
const (
	headerCommittedBlock = "X-Committed-Block"
	headerMinBlock       = "X-Min-Block"
)

// minBlock holds a request with X-Min-Block until the caller's
// organisation's peer has committed that block, at most s.minBlockWait;
// then 503 with Retry-After, since the peer is behind, not the request
// wrong. Writes may send it too: a buyer's Deliver after the exporter's
// Ship, through different gateways.
func (s *Server) minBlock(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := c.Request().Header.Get(headerMinBlock)
		if raw == "" {
			return next(c)
		}
		block, err := strconv.ParseUint(raw, 10, 63)
		if err != nil {
			return badRequest(headerMinBlock + ": must be a block number, as X-Committed-Block or transaction.blockNumber of a write's answer gave it")
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.minBlockWait)
		defer cancel()
		if err := s.ledger.WaitForBlock(ctx, callerOf(c).Identity, block); err != nil {
			var behind *fabric.BehindError
			if !errors.As(err, &behind) {
				return err
			}
			if c.Request().Context().Err() != nil {
				return c.Request().Context().Err() // the caller left
			}
			p := problem(http.StatusServiceUnavailable, "behind", "The organisation's peer does not have that block yet",
				fmt.Sprintf("waited %s for block %d; retry, or read without %s", s.minBlockWait, block, headerMinBlock))
			p.retryAfter, p.cause = 1, err
			return p
		}
		return next(c)
	}
}
