package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/shipment/plots"
)

// plotsRoute takes GeoJSON bodies up to the EU information system's 25 MB
// file limit rather than the gateway's ordinary body limit: a cooperative's
// delivery is thousands of plots.
const plotsRoute = "/v1/shipments/:id/plots"

// mimeGeoJSON is RFC 7946's media type.
const mimeGeoJSON = "application/geo+json"

// transientPlots is the transient-map key the contract reads the plots from.
const transientPlots = "plots"

// putPlots attaches the EUDR production plots of a shipment (its exporter).
// The gateway validates them first (the same rules the contract runs, so a
// bad file costs no endorsement) and sends the canonical GeoJSON in the
// transient map, endorsed by the exporter's and the buyer's organisations
// only: the two that keep them.
func (s *Server) putPlots(c echo.Context) error {
	id := c.Param("id")
	col, err := plots.Decode(bodyOf(c))
	if err != nil {
		return err
	}
	endorsers, err := s.plotHolders(c, id)
	if err != nil {
		return err
	}
	return s.submit(c, write{
		op: string(shipment.OpAttachPlots), target: id, args: []string{id},
		transient: map[string][]byte{transientPlots: col.Canonical()},
		endorsers: endorsers,
	})
}

// erasePlots purges the plots from the exporter's and the buyer's private
// stores (producers' personal data), endorsed by those two organisations.
func (s *Server) erasePlots(c echo.Context) error {
	id := c.Param("id")
	endorsers, err := s.plotHolders(c, id)
	if err != nil {
		return err
	}
	return s.submit(c, write{op: string(shipment.OpErasePlots), target: id, args: []string{id}, endorsers: endorsers})
}

// plotHolders are the organisations that keep a shipment's plots: its
// exporter and its buyer, read from the public record.
func (s *Server) plotHolders(c echo.Context, id string) ([]string, error) {
	rec, err := s.evaluate(c, string(shipment.OpRead), id)
	if err != nil {
		return nil, err
	}
	var sh struct {
		Exporter string `json:"exporter"`
		Buyer    string `json:"buyer"`
	}
	if err := json.Unmarshal(rec, &sh); err != nil {
		return nil, fmt.Errorf("decode shipment %s: %w", id, err)
	}
	if sh.Buyer == sh.Exporter {
		return []string{sh.Exporter}, nil
	}
	return []string{sh.Exporter, sh.Buyer}, nil
}

// getPlots returns a shipment's plots (to its exporter or buyer) as the
// GeoJSON FeatureCollection the EU information system takes for a
// due-diligence statement's geolocation: equal plots give equal bytes.
func (s *Server) getPlots(c echo.Context) error {
	out, err := s.evaluate(c, string(shipment.OpReadPlots), c.Param("id"))
	if err != nil {
		return err
	}
	col, err := plots.Decode(out)
	if err != nil {
		return fmt.Errorf("stored plots of %s do not decode: %w", c.Param("id"), err)
	}
	b, err := col.Export()
	if err != nil {
		return problem(http.StatusRequestEntityTooLarge, "plots-too-large", "The plots exceed the EU information system's 25 MB file limit",
			err.(*shipment.Error).Message)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, mimeGeoJSON, b)
}

// recordDueDiligence records the buyer's due-diligence statement numbers.
func (s *Server) recordDueDiligence(c echo.Context) error {
	d, err := shipment.DecodeDueDiligence(bodyOf(c))
	if err != nil {
		return err
	}
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.submit(c, write{op: string(shipment.OpRecordDueDiligence), target: c.Param("id"), args: []string{c.Param("id"), string(b)}})
}

func plotsTooLarge(limit int64) *Problem {
	return problem(http.StatusRequestEntityTooLarge, "too-large", "The plots file is too large",
		fmt.Sprintf("at most %d bytes (the EU information system's 25 MB limit per file); split the plots over several shipments or statements", limit))
}
