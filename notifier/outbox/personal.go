package outbox

import (
	"bytes"

	bolt "go.etcd.io/bbolt"

	"github.com/shiptrace/shiptrace/notifier"
)

// What the store keeps of a person, and when it lets go:
//   - a notification that will be sent keeps the number and the rendered
//     message until it is sent (and then for the retention period, as the
//     record of what was sent) — see putNote and retention.go;
//   - a skipped notification keeps nothing from the contact (putNote);
//   - a contact.deleted event erases the buyer's number, message, language
//     and WhatsApp message ID from every notification of the shipment, in
//     the transaction that records the event (EraseContact); statuses,
//     reasons and the keyed PhoneRef stay;
//   - opt-outs and caps only ever hold keyed references (refs.go).

// ReasonContactDeleted is the skip reason of a notification whose buyer
// contact was erased before it could be sent.
const ReasonContactDeleted = "contact_deleted"

// EraseContact is the Plan of a contact.deleted event. Recorded with the
// events around it, it erases the personal fields of every buyer
// notification of the shipment recorded before it, atomically with the
// checkpoint, so a crash can neither skip the erasure nor replay it half.
// A queued notification is skipped (it can no longer be addressed); one in
// flight is settled by its attempt and never retried. It only works inside
// Record (outside, it does nothing).
func EraseContact(shipmentID string) Plan {
	return func(v View) []notifier.Notification {
		if tv, ok := v.(*txView); ok && tv.err == nil {
			tv.err = tv.eraseContact(shipmentID)
			if tv.err == nil {
				tv.err = tv.eraseConversation(shipmentID)
			}
		}
		return nil
	}
}

func (v *txView) eraseContact(shipmentID string) error {
	prefix := []byte(shipmentID + "\x00")
	var ids []string
	c := v.tx.Bucket(bByShipment).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	for _, id := range ids {
		n, err := getNote(v.tx, id)
		if err != nil {
			return err
		}
		if n.Recipient != notifier.RoleBuyer || !n.ErasedAt.IsZero() {
			continue
		}
		if n.WAMID != "" {
			if err := v.tx.Bucket(bByWAMID).Delete([]byte(n.WAMID)); err != nil {
				return err
			}
		}
		if n.Status == notifier.StatusQueued {
			if err := v.tx.Bucket(bQueue).Delete(queueKey(n.NextAt, n.ID)); err != nil {
				return err
			}
			n.Status, n.Reason = notifier.StatusSkipped, ReasonContactDeleted
		}
		n.ErasedAt, n.UpdatedAt = v.now, v.now
		if err := putNote(v.tx, n); err != nil { // putNote drops the personal fields
			return err
		}
		v.erased = true
	}
	return forgetReplyable(v.tx, ids)
}

// setWAMID records Meta's message ID on n and indexes it for status
// webhooks, unless n's contact was erased: the ID embeds the number, and a
// late webhook still finds n by its callback data.
func setWAMID(tx *bolt.Tx, n *notifier.Notification, wamid string) error {
	if !n.ErasedAt.IsZero() || wamid == "" {
		return nil
	}
	n.WAMID = wamid
	return tx.Bucket(bByWAMID).Put([]byte(wamid), []byte(n.ID))
}
