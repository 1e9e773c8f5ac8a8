package notifier

import "time"

// InboundMessage is a message a user sent the business, as the webhook
// read it, for the conversation (status on request, claims). From is the
// sender's WhatsApp ID and, with the texts, the photo and the message ID
// (Meta's embeds the number), personal data: never logged.
type InboundMessage struct {
	From string
	ID   string
	// At is WhatsApp's timestamp of the message: the 24-hour window for
	// free-form replies runs from it.
	At time.Time
	// Kind is text, button (a template's quick reply), interactive (a
	// reply button or list row of one of our free-form messages) or image.
	Kind string
	// Text is a text's body, a button's or reply's visible title, or an
	// image's caption.
	Text string
	// ReplyID is a quick reply's payload or an interactive reply's ID:
	// what our message put there, e.g. "STATUS:SHP-1".
	ReplyID string
	// MediaID and MIME name an image to fetch through the Cloud API.
	MediaID string
	MIME    string
}
