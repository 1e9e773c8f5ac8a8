package outbox

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/proof"
)

// Proof of notification (notifier README, "Proof of notification"): every
// lifecycle status the store applies to a message is also appended, in the
// same bbolt transaction, as a proof.StatusRecord (no personal data), so a
// crash can neither lose a record nor write one twice. The anchorer cuts
// the records not yet in a batch into a batch (CutBatch), has its Merkle
// root recorded on the ledger, and marks it anchored (MarkAnchored).
//
//	status_records  seq(8)                     -> canonical record bytes
//	status_by_note  notification ID 0x00 seq(8) -> nil
//	status_seen     notification ID 0x00 status 0x00 message ref -> seq(8): a repeated webhook adds nothing
//	anchor_batches  batch ID                   -> Batch JSON
//	batch_by_seq    last seq(8)                -> batch ID: which batch holds a record
//	anchor_pending  batch ID                   -> nil: cut, not yet marked anchored
var (
	bStatusRecords = []byte("status_records")
	bStatusByNote  = []byte("status_by_note")
	bStatusSeen    = []byte("status_seen")
	bBatches       = []byte("anchor_batches")
	bBatchBySeq    = []byte("batch_by_seq")
	bBatchPending  = []byte("anchor_pending")
	kStatusSeq     = []byte("status_seq")      // last record's seq
	kBatchedSeq    = []byte("batched_seq")     // last seq in a cut batch
	kBatchCount    = []byte("batch_count")     // batches cut
	kAnchorStoreID = []byte("anchor_store_id") // random, names this store's batches
)

// maxAhead is how far ahead of the notifier's clock a status time is
// taken as given.
const maxAhead = time.Minute

// statusBuckets are created by Open.
var statusBuckets = [][]byte{bStatusRecords, bStatusByNote, bStatusSeen, bBatches, bBatchBySeq, bBatchPending}

// ErrNoRecords is returned by Proof for a notification the store neither
// holds nor has status records of.
var ErrNoRecords = errors.New("no such notification")

// Batch is a run of consecutive status records whose Merkle root is (or is
// to be) anchored on the ledger. Its ID and root are fixed when it is cut,
// so a resubmission after a crash is the same request.
type Batch struct {
	ID        string    `json:"id"`
	FirstSeq  uint64    `json:"firstSeq"`
	LastSeq   uint64    `json:"lastSeq"`
	LeafCount int       `json:"leafCount"`
	Root      string    `json:"root"`
	FirstAt   time.Time `json:"firstAt"`
	LastAt    time.Time `json:"lastAt"`
	CutAt     time.Time `json:"cutAt"`
	// Set by MarkAnchored, from the ledger's record of the batch.
	TxID       string    `json:"txId,omitempty"`
	Block      uint64    `json:"block,omitempty"`
	AnchoredAt time.Time `json:"anchoredAt,omitzero"`
	AnchoredBy string    `json:"anchoredBy,omitempty"`
}

// Anchored reports whether the batch's root is known to be on the ledger.
func (b Batch) Anchored() bool { return b.TxID != "" }

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func metaUint(tx *bolt.Tx, k []byte) uint64 {
	v := tx.Bucket(bMeta).Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// initAnchorStoreID gives a new store the random ID its batch IDs carry,
// so two notifiers (or a store started afresh) never reuse a batch ID.
func initAnchorStoreID(tx *bolt.Tx) error {
	if tx.Bucket(bMeta).Get(kAnchorStoreID) != nil {
		return nil
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("anchor store ID: %w", err)
	}
	return tx.Bucket(bMeta).Put(kAnchorStoreID, []byte(hex.EncodeToString(b)))
}

// recordStatus appends the status record of n's status change, inside the
// transaction that applies it. wamid is the attempt's WhatsApp message ID
// ("" when WhatsApp gave none); only its keyed reference is kept. A status
// already recorded for the same notification and message is not recorded
// again (Meta repeats webhooks).
func (s *Store) recordStatus(tx *bolt.Tx, n notifier.Notification, status string, at time.Time, source string, code int, wamid string) error {
	// Every caller has a time; a record must, so never fail the change
	// for it. A time ahead of this clock (Meta's clock, or ours, off) is
	// recorded as now: the contract refuses a batch dated after its own
	// anchoring, and one such record would hold back every later batch.
	if now := s.now(); at.IsZero() || at.After(now.Add(maxAhead)) {
		at = now
	}
	msgRef := ""
	if wamid != "" {
		msgRef = s.refs.MessageRef(wamid)
	}
	seen := []byte(n.ID + "\x00" + status + "\x00" + msgRef)
	if tx.Bucket(bStatusSeen).Get(seen) != nil {
		return nil
	}
	seq := metaUint(tx, kStatusSeq) + 1
	r := proof.StatusRecord{
		Version: proof.RecordVersion, Seq: seq, Ref: s.refs.NotificationRef(n.ID), MessageRef: msgRef,
		ShipmentID: n.ShipmentID, Event: n.EventType, Recipient: n.Recipient, Template: n.Message.Template,
		Status: status, At: at, Source: source, ErrorCode: code,
	}
	b, err := r.Canonical()
	if err != nil {
		return fmt.Errorf("status record of %s: %w", n.ID, err)
	}
	if err := tx.Bucket(bStatusRecords).Put(seqKey(seq), b); err != nil {
		return err
	}
	if err := tx.Bucket(bStatusByNote).Put(append([]byte(n.ID+"\x00"), seqKey(seq)...), nil); err != nil {
		return err
	}
	if err := tx.Bucket(bStatusSeen).Put(seen, seqKey(seq)); err != nil {
		return err
	}
	return tx.Bucket(bMeta).Put(kStatusSeq, seqKey(seq))
}

// CutBatch makes the records not yet in a batch (at most max, oldest
// first) the next batch: its ID and Merkle root are fixed here, in the
// transaction that takes the records, and it is pending until
// MarkAnchored. ok is false when there is nothing to batch.
func (s *Store) CutBatch(max int) (b Batch, ok bool, err error) {
	if max < 1 {
		max = 1
	}
	// Most rounds find nothing new: ask in a read transaction first, so an
	// idle notifier does not write (and fsync) its file every round.
	var pending bool
	if err := s.view(func(tx *bolt.Tx) error {
		pending = metaUint(tx, kStatusSeq) > metaUint(tx, kBatchedSeq)
		return nil
	}); err != nil || !pending {
		return Batch{}, false, err
	}
	err = s.update(func(tx *bolt.Tx) error {
		ok = false
		from := metaUint(tx, kBatchedSeq) + 1
		c := tx.Bucket(bStatusRecords).Cursor()
		var leaves [][]byte
		b = Batch{FirstSeq: from}
		for k, v := c.Seek(seqKey(from)); k != nil && len(leaves) < max; k, v = c.Next() {
			r, err := proof.ParseRecord(v)
			if err != nil {
				return fmt.Errorf("status record %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if b.FirstAt.IsZero() || r.At.Before(b.FirstAt) {
				b.FirstAt = r.At
			}
			if r.At.After(b.LastAt) {
				b.LastAt = r.At
			}
			b.LastSeq = binary.BigEndian.Uint64(k)
			leaves = append(leaves, proof.LeafHash(v))
		}
		if len(leaves) == 0 {
			return nil
		}
		tree, err := proof.NewTree(leaves)
		if err != nil {
			return err
		}
		n := metaUint(tx, kBatchCount) + 1
		b.ID = fmt.Sprintf("nb-%s-%06d", tx.Bucket(bMeta).Get(kAnchorStoreID), n)
		b.LeafCount, b.Root, b.CutAt = len(leaves), hex.EncodeToString(tree.Root()), s.now().UTC()
		if err := putBatch(tx, b); err != nil {
			return err
		}
		if err := tx.Bucket(bBatchBySeq).Put(seqKey(b.LastSeq), []byte(b.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(bBatchPending).Put([]byte(b.ID), nil); err != nil {
			return err
		}
		if err := tx.Bucket(bMeta).Put(kBatchCount, seqKey(n)); err != nil {
			return err
		}
		ok = true
		return tx.Bucket(bMeta).Put(kBatchedSeq, seqKey(b.LastSeq))
	})
	if err != nil {
		return Batch{}, false, fmt.Errorf("cut a batch of status records: %w", err)
	}
	return b, ok, nil
}

func putBatch(tx *bolt.Tx, b Batch) error {
	v, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode batch %s: %w", b.ID, err)
	}
	return tx.Bucket(bBatches).Put([]byte(b.ID), v)
}

func getBatch(tx *bolt.Tx, id string) (Batch, error) {
	var b Batch
	v := tx.Bucket(bBatches).Get([]byte(id))
	if v == nil {
		return b, fmt.Errorf("batch %s not found", id)
	}
	if err := json.Unmarshal(v, &b); err != nil {
		return b, fmt.Errorf("decode batch %s: %w", id, err)
	}
	return b, nil
}

// PendingBatches returns the batches cut but not yet marked anchored,
// oldest first: after a crash they are submitted again, with the ID and
// root they were cut with.
func (s *Store) PendingBatches() ([]Batch, error) {
	var out []Batch
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bBatchPending).ForEach(func(k, _ []byte) error {
			b, err := getBatch(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list pending batches: %w", err)
	}
	// IDs end in a zero-padded counter, but sort by it to be sure.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].FirstSeq < out[j-1].FirstSeq; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// Anchoring is what the ledger says about a batch's root.
type Anchoring struct {
	TxID  string
	Block uint64
	At    time.Time
	By    string // MSP ID
}

// MarkAnchored records that batch id's root is on the ledger. Marking a
// batch again changes nothing.
func (s *Store) MarkAnchored(id string, a Anchoring) error {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := getBatch(tx, id)
		if err != nil {
			return err
		}
		if b.Anchored() {
			return nil
		}
		b.TxID, b.Block, b.AnchoredAt, b.AnchoredBy = a.TxID, a.Block, a.At.UTC(), a.By
		if err := putBatch(tx, b); err != nil {
			return err
		}
		return tx.Bucket(bBatchPending).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("mark batch %s anchored: %w", id, err)
	}
	return nil
}

// Batch returns one batch.
func (s *Store) Batch(id string) (Batch, error) {
	var b Batch
	err := s.view(func(tx *bolt.Tx) error {
		var err error
		b, err = getBatch(tx, id)
		return err
	})
	return b, err
}

// StatusRecords returns the canonical bytes of every status record of a
// notification, oldest first, for tests and the proof.
func (s *Store) StatusRecords(notificationID string) ([][]byte, error) {
	var out [][]byte
	err := s.view(func(tx *bolt.Tx) error {
		for _, seq := range noteSeqs(tx, notificationID) {
			out = append(out, bytes.Clone(tx.Bucket(bStatusRecords).Get(seqKey(seq))))
		}
		return nil
	})
	return out, err
}

func noteSeqs(tx *bolt.Tx, id string) []uint64 {
	var out []uint64
	prefix := []byte(id + "\x00")
	c := tx.Bucket(bStatusByNote).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix)+8 {
			out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
		}
	}
	return out
}

// Proof assembles the proof of a notification: each of its status records
// with, once its batch is anchored, the leaf index, audit path, root and
// the transaction and block holding the root. ErrNoRecords when the store
// knows neither the notification nor records of it.
func (s *Store) Proof(notificationID string) (proof.Proof, error) {
	p := proof.Proof{NotificationID: notificationID, State: proof.StateAnchored, Records: []proof.RecordProof{}}
	err := s.view(func(tx *bolt.Tx) error {
		seqs := noteSeqs(tx, notificationID)
		if len(seqs) == 0 && tx.Bucket(bNotes).Get([]byte(notificationID)) == nil {
			return ErrNoRecords
		}
		trees := map[string]*proof.Tree{}
		for _, seq := range seqs {
			rec := tx.Bucket(bStatusRecords).Get(seqKey(seq))
			rp := proof.RecordProof{Record: string(rec), State: proof.StatePending}
			if k, v := tx.Bucket(bBatchBySeq).Cursor().Seek(seqKey(seq)); k != nil {
				b, err := getBatch(tx, string(v))
				if err != nil {
					return err
				}
				if b.FirstSeq <= seq && b.Anchored() {
					tree := trees[b.ID]
					if tree == nil {
						if tree, err = batchTree(tx, b); err != nil {
							return err
						}
						trees[b.ID] = tree
					}
					path, err := tree.Path(int(seq - b.FirstSeq))
					if err != nil {
						return err
					}
					rp = proof.RecordProof{
						Record: string(rec), State: proof.StateAnchored, LeafIndex: seq - b.FirstSeq, AuditPath: proof.Hex(path),
						BatchID: b.ID, Root: b.Root, LeafCount: uint64(b.LeafCount), FirstAt: b.FirstAt, LastAt: b.LastAt,
						TxID: b.TxID, Block: b.Block, AnchoredAt: b.AnchoredAt, AnchoredBy: b.AnchoredBy,
					}
				}
			}
			if rp.State != proof.StateAnchored {
				p.State = proof.StatePending
			}
			p.Records = append(p.Records, rp)
		}
		if len(seqs) == 0 {
			p.State = proof.StatePending // nothing happened to the message yet
			if n, err := getNote(tx, notificationID); err == nil && n.Status.Terminal() {
				p.State = proof.StateNone // settled without a message (skipped): nothing to prove
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNoRecords) {
			return p, fmt.Errorf("%w: %s", ErrNoRecords, notificationID)
		}
		return p, fmt.Errorf("proof of %s: %w", notificationID, err)
	}
	return p, nil
}

// batchTree rebuilds a batch's tree from its records, checking it still
// has the root that was anchored.
func batchTree(tx *bolt.Tx, b Batch) (*proof.Tree, error) {
	leaves := make([][]byte, 0, b.LeafCount)
	c := tx.Bucket(bStatusRecords).Cursor()
	for k, v := c.Seek(seqKey(b.FirstSeq)); k != nil && binary.BigEndian.Uint64(k) <= b.LastSeq; k, v = c.Next() {
		leaves = append(leaves, proof.LeafHash(v))
	}
	tree, err := proof.NewTree(leaves)
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", b.ID, err)
	}
	if got := hex.EncodeToString(tree.Root()); got != b.Root || tree.Size() != b.LeafCount {
		return nil, fmt.Errorf("batch %s: its records hash to %s (%d), not the anchored root %s (%d)", b.ID, got, tree.Size(), b.Root, b.LeafCount)
	}
	return tree, nil
}

// AnchorStatus is the proof of notification's backlog, for /v1/status.
type AnchorStatus struct {
	Records        uint64 `json:"records"`        // status records kept
	Unbatched      uint64 `json:"unbatched"`      // not yet in a batch
	PendingBatches int    `json:"pendingBatches"` // cut, not yet known to be on the ledger
	Batches        uint64 `json:"batches"`
}

// AnchorStatus reports how far anchoring has come.
func (s *Store) AnchorStatus() (AnchorStatus, error) {
	var a AnchorStatus
	err := s.view(func(tx *bolt.Tx) error {
		a.Records = metaUint(tx, kStatusSeq)
		a.Unbatched = a.Records - metaUint(tx, kBatchedSeq)
		a.Batches = metaUint(tx, kBatchCount)
		a.PendingBatches = tx.Bucket(bBatchPending).Stats().KeyN
		return nil
	})
	return a, err
}
