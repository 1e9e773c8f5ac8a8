package outbox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/phone"
)

// The conversation's state (notifier/conversation), in the same file as
// the outbox so that erasure removes it in the transaction that records
// contact.deleted. Every key that names a person is a keyed reference
// (refs.go); the buyer's words, photos and the wa_id to answer are the
// only personal values, and a contact.deleted of their shipment removes
// them (eraseConversation).
var (
	bBuyers          = []byte("conv_buyers")             // phone ref \x00 shipment → BuyerEntry: the shipments a number is the buyer contact of
	bBuyersByShip    = []byte("conv_buyers_by_shipment") // shipment \x00 phone ref → nil: for erasure
	bWindows         = []byte("conv_windows")            // phone ref → unix nanos of the user's last message (the 24-hour window)
	bConvSeen        = []byte("conv_seen")               // message ref → unix seconds: inbound messages already handled (pruned like consent's)
	bSessions        = []byte("conv_sessions")           // phone ref → Session (may hold the buyer's words until the claim is recorded)
	bClaims          = []byte("conv_claims")             // claim ID → ClaimRecord
	bClaimsByShip    = []byte("conv_claims_by_shipment") // shipment \x00 claim ID → nil
	bClaimPhotos     = []byte("conv_claim_photos")       // claim ID \x00 sha256 → photo bytes
	conversationBkts = [][]byte{bBuyers, bBuyersByShip, bWindows, bConvSeen, bSessions, bClaims, bClaimsByShip, bClaimPhotos}
)

// BuyerEntry is what the store keeps of a number's relation to a shipment:
// the language its last message to the buyer went out in (to answer in it)
// and when.
type BuyerEntry struct {
	ShipmentID string    `json:"-"`
	Language   string    `json:"language,omitempty"`
	Since      time.Time `json:"since"`
}

// PhotoRef is a photo the buyer sent for a claim: its digest, type and
// size. The bytes are kept under the claim (ClaimPhoto).
type PhotoRef struct {
	SHA256 string `json:"sha256"`
	MIME   string `json:"mime"`
	Size   int    `json:"size"`
}

// Session is a buyer's exchange in progress (picking a shipment, or a claim
// being described). Words is personal data: it lives here until the claim
// is recorded, and goes with an erasure.
type Session struct {
	Step       string     `json:"step"`
	Intent     string     `json:"intent,omitempty"`
	Candidates []string   `json:"candidates,omitempty"`
	ShipmentID string     `json:"shipmentId,omitempty"`
	BuyerRef   string     `json:"buyerRef,omitempty"` // how the buyer knows the shipment (its order number)
	ClaimID    string     `json:"claimId,omitempty"`
	Category   string     `json:"category,omitempty"`
	Words      string     `json:"words,omitempty"`
	Photos     []PhotoRef `json:"photos,omitempty"`
	Language   string     `json:"language,omitempty"`
	StartedAt  time.Time  `json:"startedAt"`
}

// Claim states.
const (
	ClaimPending  = "pending"  // recorded here, not yet on the ledger (submitted at start and by the resumer)
	ClaimRecorded = "recorded" // OpenClaim committed (or was found committed)
	ClaimRefused  = "refused"  // the contract refused it; Reason says why
)

// ClaimRecord is a claim as the exporter's notifier keeps it: what goes on
// the ledger (ID, shipment, category, digests) and the originals that
// prove it (Words, the photos), which are personal data, with ReplyTo,
// the wa_id the confirmation goes to. An erasure removes Words, ReplyTo
// and the photos and sets ErasedAt; the digests and the status stay.
type ClaimRecord struct {
	ID          string     `json:"id"`
	ShipmentID  string     `json:"shipmentId"`
	PhoneRef    string     `json:"phoneRef"`
	Category    string     `json:"category"`
	WordsSHA256 string     `json:"wordsSha256"`
	Photos      []PhotoRef `json:"photos,omitempty"`
	Words       string     `json:"words,omitempty"`
	ReplyTo     string     `json:"replyTo,omitempty"`
	Language    string     `json:"language,omitempty"`
	Status      string     `json:"status"`
	TxID        string     `json:"txId,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Attempts    int        `json:"attempts"`
	CreatedAt   time.Time  `json:"createdAt"`
	RecordedAt  time.Time  `json:"recordedAt,omitzero"`
	ConfirmedAt time.Time  `json:"confirmedAt,omitzero"`
	ErasedAt    time.Time  `json:"erasedAt,omitzero"`
}

// ErrNoClaim is returned for an unknown claim ID.
var ErrNoClaim = errors.New("claim not found")

func pairKey(a, b string) []byte { return []byte(a + "\x00" + b) }

// indexBuyer files a buyer notification's number (every form of it:
// phone.Variants, as WhatsApp may report another) as the buyer contact of
// its shipment, in the transaction that records the notification, so an
// inbound message from that number finds its shipments.
func indexBuyer(tx *bolt.Tx, refs notifier.RefKey, n notifier.Notification) error {
	if n.Recipient != notifier.RoleBuyer || n.Phone == "" || n.ShipmentID == "" {
		return nil
	}
	v, err := json.Marshal(BuyerEntry{Language: n.Message.Language, Since: n.EventTime.UTC()})
	if err != nil {
		return err
	}
	for _, num := range phone.Variants(n.Phone) {
		ref := refs.PhoneRef(num)
		if err := tx.Bucket(bBuyers).Put(pairKey(ref, n.ShipmentID), v); err != nil {
			return err
		}
		if err := tx.Bucket(bBuyersByShip).Put(pairKey(n.ShipmentID, ref), nil); err != nil {
			return err
		}
	}
	return nil
}

// BuyerShipments lists the shipments whose buyer contact is the number or
// wa_id from, as the buyer notifications recorded them (open or not: the
// ledger says which are open). Erased contacts are not listed.
func (s *Store) BuyerShipments(from string) ([]BuyerEntry, error) {
	ref := s.refs.PhoneRef(from)
	prefix := []byte(ref + "\x00")
	var out []BuyerEntry
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bBuyers).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var e BuyerEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			e.ShipmentID = string(k[len(prefix):])
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("shipments of a buyer: %w", err)
	}
	return out, nil
}

// NoteInbound records a user's message: it opens (or extends) the user's
// 24-hour window from at, WhatsApp's timestamp of the message, and marks
// the message handled. seen is true when the message was handled before
// (Meta redelivers webhooks): the caller must not answer it again.
func (s *Store) NoteInbound(from, messageID string, at time.Time) (seen bool, err error) {
	ref := s.refs.PhoneRef(from)
	err = s.update(func(tx *bolt.Tx) error {
		if messageID != "" {
			mk := []byte(s.refs.MessageRef(messageID))
			if tx.Bucket(bConvSeen).Get(mk) != nil {
				seen = true
				return nil
			}
			var ts [8]byte
			binary.BigEndian.PutUint64(ts[:], uint64(max(s.now().Unix(), 0)))
			if err := tx.Bucket(bConvSeen).Put(mk, ts[:]); err != nil {
				return err
			}
			if err := pruneSeen(tx.Bucket(bConvSeen), s.now()); err != nil {
				return err
			}
		}
		if last := windowOf(tx, ref); at.After(last) {
			return tx.Bucket(bWindows).Put([]byte(ref), unixNanos(at))
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("note inbound message: %w", err)
	}
	return seen, nil
}

// LastInbound is the time of the user's last message (zero if none or
// erased): the 24-hour window runs from it.
func (s *Store) LastInbound(from string) (time.Time, error) {
	var at time.Time
	err := s.view(func(tx *bolt.Tx) error {
		at = windowOf(tx, s.refs.PhoneRef(from))
		return nil
	})
	return at, err
}

func windowOf(tx *bolt.Tx, ref string) time.Time {
	v := tx.Bucket(bWindows).Get([]byte(ref))
	if len(v) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v)))
}

func unixNanos(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(max(t.UnixNano(), 0)))
	return b[:]
}

// Session returns the user's exchange in progress, if any.
func (s *Store) Session(from string) (Session, bool, error) {
	var sess Session
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bSessions).Get([]byte(s.refs.PhoneRef(from)))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &sess)
	})
	if err != nil {
		return Session{}, false, fmt.Errorf("read conversation: %w", err)
	}
	return sess, ok, nil
}

// PutSession stores the user's exchange in progress.
func (s *Store) PutSession(from string, sess Session) error {
	v, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bSessions).Put([]byte(s.refs.PhoneRef(from)), v) })
}

// EndSession forgets the user's exchange in progress (and the words it
// held), and its photos if it never became a claim. Without one it writes
// nothing.
func (s *Store) EndSession(from string) error {
	var exists bool
	if err := s.view(func(tx *bolt.Tx) error {
		exists = tx.Bucket(bSessions).Get([]byte(s.refs.PhoneRef(from))) != nil
		return nil
	}); err != nil || !exists {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		if err := dropSession(tx, s.refs.PhoneRef(from)); err != nil {
			return err
		}
		return markForCompaction(tx)
	})
	if err == nil {
		s.wantCompaction()
	}
	return err
}

// dropSession deletes the session of ref, and its photos when it never
// became a claim.
func dropSession(tx *bolt.Tx, ref string) error {
	key := []byte(ref)
	if v := tx.Bucket(bSessions).Get(key); v != nil {
		var sess Session
		if json.Unmarshal(v, &sess) == nil && sess.ClaimID != "" && tx.Bucket(bClaims).Get([]byte(sess.ClaimID)) == nil {
			if err := deletePrefix(tx.Bucket(bClaimPhotos), []byte(sess.ClaimID+"\x00")); err != nil {
				return err
			}
		}
	}
	return tx.Bucket(bSessions).Delete(key)
}

// PutClaimPhoto keeps a photo's bytes under its claim (the claim may not
// be recorded yet: its ID is chosen when the exchange starts).
func (s *Store) PutClaimPhoto(claimID, sha256 string, data []byte) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bClaimPhotos).Put(pairKey(claimID, sha256), data) })
}

// ClaimPhoto returns a photo's bytes (nil once erased).
func (s *Store) ClaimPhoto(claimID, sha256 string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bClaimPhotos).Get(pairKey(claimID, sha256)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// OpenClaimRecord records a claim as pending and ends the user's session,
// in one transaction: from here on the claim survives a crash and is
// submitted to the ledger until it is recorded there. A claim ID already
// recorded is left as it is (the exchange was replayed).
func (s *Store) OpenClaimRecord(from string, c ClaimRecord) (ClaimRecord, error) {
	err := s.update(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bClaims).Get([]byte(c.ID)); v != nil {
			return json.Unmarshal(v, &c)
		}
		c.Status, c.CreatedAt = ClaimPending, s.now().UTC()
		if err := putClaim(tx, c); err != nil {
			return err
		}
		if err := tx.Bucket(bClaimsByShip).Put(pairKey(c.ShipmentID, c.ID), nil); err != nil {
			return err
		}
		return tx.Bucket(bSessions).Delete([]byte(s.refs.PhoneRef(from)))
	})
	if err != nil {
		return ClaimRecord{}, fmt.Errorf("record claim %s: %w", c.ID, err)
	}
	return c, nil
}

func putClaim(tx *bolt.Tx, c ClaimRecord) error {
	if !c.ErasedAt.IsZero() {
		c.Words, c.ReplyTo = "", ""
	}
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode claim %s: %w", c.ID, err)
	}
	return tx.Bucket(bClaims).Put([]byte(c.ID), v)
}

func getClaim(tx *bolt.Tx, id string) (ClaimRecord, error) {
	v := tx.Bucket(bClaims).Get([]byte(id))
	if v == nil {
		return ClaimRecord{}, fmt.Errorf("%w: %s", ErrNoClaim, id)
	}
	var c ClaimRecord
	if err := json.Unmarshal(v, &c); err != nil {
		return ClaimRecord{}, fmt.Errorf("decode claim %s: %w", id, err)
	}
	return c, nil
}

// GetClaim returns one buyer claim.
func (s *Store) GetClaim(id string) (ClaimRecord, error) {
	var c ClaimRecord
	err := s.view(func(tx *bolt.Tx) (err error) { c, err = getClaim(tx, id); return err })
	return c, err
}

// UpdateClaim changes a claim in one transaction.
func (s *Store) UpdateClaim(id string, change func(*ClaimRecord)) (ClaimRecord, error) {
	var c ClaimRecord
	err := s.update(func(tx *bolt.Tx) (err error) {
		if c, err = getClaim(tx, id); err != nil {
			return err
		}
		change(&c)
		return putClaim(tx, c)
	})
	return c, err
}

// ClaimsByStatus lists the claims in a status (e.g. ClaimPending, for
// the resumer), or every claim for "".
func (s *Store) ClaimsByStatus(status string) ([]ClaimRecord, error) {
	var out []ClaimRecord
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bClaims).ForEach(func(_, v []byte) error {
			var c ClaimRecord
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			if status == "" || c.Status == status {
				out = append(out, c)
			}
			return nil
		})
	})
	return out, err
}

// ClaimsOfShipment lists a shipment's claims.
func (s *Store) ClaimsOfShipment(shipmentID string) ([]ClaimRecord, error) {
	var out []ClaimRecord
	prefix := []byte(shipmentID + "\x00")
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bClaimsByShip).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			cl, err := getClaim(tx, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, cl)
		}
		return nil
	})
	return out, err
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// eraseConversation is contact.deleted's part for the conversation: the
// shipment leaves its numbers' buyer index; a number with no shipment left
// loses its window and any exchange in progress; the shipment's claims
// lose the buyer's words, photos and wa_id (their digests and status
// stay: a pending claim is still recorded, with digests only).
func (v *txView) eraseConversation(shipmentID string) error {
	tx := v.tx
	prefix := []byte(shipmentID + "\x00")
	var refs []string
	c := tx.Bucket(bBuyersByShip).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		refs = append(refs, string(k[len(prefix):]))
	}
	for _, ref := range refs {
		if err := tx.Bucket(bBuyersByShip).Delete(pairKey(shipmentID, ref)); err != nil {
			return err
		}
		if err := tx.Bucket(bBuyers).Delete(pairKey(ref, shipmentID)); err != nil {
			return err
		}
		if err := dropSession(tx, ref); err != nil {
			return err
		}
		if k, _ := tx.Bucket(bBuyers).Cursor().Seek([]byte(ref + "\x00")); k == nil || !bytes.HasPrefix(k, []byte(ref+"\x00")) {
			if err := tx.Bucket(bWindows).Delete([]byte(ref)); err != nil {
				return err
			}
		}
		v.erased = true
	}
	var claims []string
	cc := tx.Bucket(bClaimsByShip).Cursor()
	for k, _ := cc.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cc.Next() {
		claims = append(claims, string(k[len(prefix):]))
	}
	for _, id := range claims {
		cl, err := getClaim(tx, id)
		if err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket(bClaimPhotos), []byte(id+"\x00")); err != nil {
			return err
		}
		if cl.ErasedAt.IsZero() {
			cl.ErasedAt = v.now
			if err := putClaim(tx, cl); err != nil {
				return err
			}
		}
		v.erased = true
	}
	return nil
}
