package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/shipment"
)

// ClaimProof is what the admin API shows to prove what a buyer sent: the
// originals the notifier kept, their digests computed now, and the claim
// as the ledger holds it. Matches is true when every digest computed from
// the originals equals the ledger's. The buyer's number and wa_id are not
// shown; the words and photos are, to the exporter's operators (admin
// token) who must be able to show them to another member.
type ClaimProof struct {
	ID                string          `json:"id"`
	ShipmentID        string          `json:"shipmentId"`
	PhoneRef          string          `json:"phoneRef"`
	Category          string          `json:"category"`
	Status            string          `json:"status"`
	Reason            string          `json:"reason,omitempty"`
	CreatedAt         time.Time       `json:"createdAt"`
	RecordedAt        time.Time       `json:"recordedAt,omitzero"`
	ErasedAt          time.Time       `json:"erasedAt,omitzero"`
	Words             string          `json:"words,omitempty"`
	WordsSHA256       string          `json:"wordsSha256Computed,omitempty"`
	Photos            []PhotoProof    `json:"photos"`
	Ledger            *shipment.Claim `json:"ledger,omitempty"`
	LedgerError       string          `json:"ledgerError,omitempty"`
	Matches           bool            `json:"matches"`
	VerifyInstruction string          `json:"verify"`
}

// PhotoProof is one photo: its stored digest, the digest of the bytes kept
// now (empty once erased) and where to download it.
type PhotoProof struct {
	SHA256         string `json:"sha256"`
	ComputedSHA256 string `json:"computedSha256,omitempty"`
	MIME           string `json:"mime"`
	Size           int    `json:"size"`
	Download       string `json:"download,omitempty"`
}

// ProofStore reads claims and their photos (*outbox.Store).
type ProofStore interface {
	GetClaim(id string) (outbox.ClaimRecord, error)
	ClaimPhoto(claimID, sha256 string) ([]byte, error)
}

// ClaimLister reads a shipment's claims from the ledger (FabricLedger).
type ClaimLister interface {
	Claims(ctx context.Context, id string) ([]shipment.Claim, error)
}

// ProofHandler serves GET /v1/claims/{id} (ClaimProof) and GET
// /v1/claims/{id}/photos/{sha256} (the photo's bytes) for the admin API,
// which puts them behind its token.
func ProofHandler(store ProofStore, ledger ClaimLister, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/claims/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, err := store.GetClaim(r.PathValue("id"))
		if errors.Is(err, outbox.ErrNoClaim) {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such claim"})
			return
		}
		if err != nil {
			log.Error("read claim", slog.Any("error", err))
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read the store"})
			return
		}
		p := ClaimProof{ID: c.ID, ShipmentID: c.ShipmentID, PhoneRef: c.PhoneRef, Category: c.Category, Status: c.Status, Reason: c.Reason,
			CreatedAt: c.CreatedAt, RecordedAt: c.RecordedAt, ErasedAt: c.ErasedAt, Words: c.Words, Photos: []PhotoProof{},
			VerifyInstruction: "printf '%s' \"$words\" | sha256sum; sha256sum photo; compare with GET /v1/shipments/{id}/claims on any member's gateway"}
		matches := c.ErasedAt.IsZero()
		if c.ErasedAt.IsZero() {
			p.WordsSHA256 = claimDigest([]byte(c.Words))
		}
		for _, ph := range c.Photos {
			pp := PhotoProof{SHA256: ph.SHA256, MIME: ph.MIME, Size: ph.Size}
			if b, err := store.ClaimPhoto(c.ID, ph.SHA256); err == nil && b != nil {
				pp.ComputedSHA256 = claimDigest(b)
				pp.Download = "/v1/claims/" + c.ID + "/photos/" + ph.SHA256
			}
			matches = matches && pp.ComputedSHA256 == ph.SHA256
			p.Photos = append(p.Photos, pp)
		}
		if ledger != nil {
			claims, err := ledger.Claims(r.Context(), c.ShipmentID)
			if err != nil {
				p.LedgerError = err.Error()
			}
			for i := range claims {
				if claims[i].ID == c.ID {
					p.Ledger = &claims[i]
				}
			}
		}
		if p.Ledger == nil {
			matches = false
		} else {
			matches = matches && p.Ledger.WordsSHA256 == p.WordsSHA256 && len(p.Ledger.PhotoSHA256s) == len(p.Photos)
			for i, h := range p.Ledger.PhotoSHA256s {
				matches = matches && i < len(p.Photos) && p.Photos[i].ComputedSHA256 == h
			}
		}
		p.Matches = matches
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /v1/claims/{id}/photos/{sha256}", func(w http.ResponseWriter, r *http.Request) {
		c, err := store.GetClaim(r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such claim"})
			return
		}
		b, err := store.ClaimPhoto(c.ID, r.PathValue("sha256"))
		if err != nil || b == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such photo (or erased)"})
			return
		}
		mime := "application/octet-stream"
		for _, ph := range c.Photos {
			if ph.SHA256 == r.PathValue("sha256") && ph.MIME != "" {
				mime = ph.MIME
			}
		}
		w.Header().Set("Content-Type", mime)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
