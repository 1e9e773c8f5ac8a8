package wastandin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Window is WhatsApp's customer-service window: free-form messages (text,
// interactive) reach a user only within 24 hours of the user's last
// message; outside it Meta answers 131047 and only templates go.
const Window = 24 * time.Hour

// Limits Meta documents for free-form messages.
const (
	maxTextBody        = 4096
	maxInteractiveBody = 1024
	maxButtons         = 3
	maxButtonTitle     = 20
	maxReplyID         = 256
	maxListRows        = 10
	maxRowTitle        = 24
	maxRowDescription  = 72
	maxListButton      = 20
)

// freeForm is the parsed text or interactive part of a request.
type freeForm struct {
	Text *struct {
		Body       string `json:"body"`
		PreviewURL *bool  `json:"preview_url,omitempty"`
	} `json:"text"`
	Interactive *struct {
		Type string `json:"type"`
		Body *struct {
			Text string `json:"text"`
		} `json:"body"`
		Action *struct {
			Button  string `json:"button"`
			Buttons []struct {
				Type  string `json:"type"`
				Reply *struct {
					ID    string `json:"id"`
					Title string `json:"title"`
				} `json:"reply"`
			} `json:"buttons"`
			Sections []struct {
				Title string `json:"title"`
				Rows  []struct {
					ID          string `json:"id"`
					Title       string `json:"title"`
					Description string `json:"description"`
				} `json:"rows"`
			} `json:"sections"`
		} `json:"action"`
	} `json:"interactive"`
}

// text is the message's readable text: the text body or the interactive
// body, for the record.
func (f freeForm) text() string {
	if f.Text != nil {
		return f.Text.Body
	}
	if f.Interactive != nil && f.Interactive.Body != nil {
		return f.Interactive.Body.Text
	}
	return ""
}

// validateFreeForm checks a text or interactive message as Meta does:
// 131008 for a missing part, 131009 for a value out of its limits, 100
// for a malformed object.
func validateFreeForm(typ string, raw []byte) (freeForm, *APIError) {
	var f freeForm
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, &APIError{HTTPStatus: 400, Code: 100, Message: "(#100) Invalid parameter", Details: err.Error()}
	}
	switch typ {
	case "text":
		if f.Interactive != nil {
			return f, NewError(100, "interactive is not a parameter of a text message")
		}
		if f.Text == nil {
			return f, NewError(131008, "text is required for a text message")
		}
		if strings.TrimSpace(f.Text.Body) == "" {
			return f, NewError(131008, "text.body is required")
		}
		if utf8.RuneCountInString(f.Text.Body) > maxTextBody {
			return f, NewError(131009, fmt.Sprintf("text.body is longer than %d characters", maxTextBody))
		}
		return f, nil
	case "interactive":
	default:
		return f, NewError(131051, "message type "+typ+" is not supported by the stand-in")
	}
	if f.Text != nil {
		return f, NewError(100, "text is not a parameter of an interactive message")
	}
	in := f.Interactive
	if in == nil {
		return f, NewError(131008, "interactive is required")
	}
	if in.Body == nil || strings.TrimSpace(in.Body.Text) == "" {
		return f, NewError(131008, "interactive.body.text is required")
	}
	if utf8.RuneCountInString(in.Body.Text) > maxInteractiveBody {
		return f, NewError(131009, fmt.Sprintf("interactive.body.text is longer than %d characters", maxInteractiveBody))
	}
	if in.Action == nil {
		return f, NewError(131008, "interactive.action is required")
	}
	ids := map[string]bool{}
	checkID := func(where, id string) *APIError {
		switch {
		case strings.TrimSpace(id) == "":
			return NewError(131008, where+".id is required")
		case utf8.RuneCountInString(id) > maxReplyID:
			return NewError(131009, fmt.Sprintf("%s.id is longer than %d characters", where, maxReplyID))
		case ids[id]:
			return NewError(131009, where+".id is not unique")
		}
		ids[id] = true
		return nil
	}
	checkTitle := func(where, title string, limit int) *APIError {
		if strings.TrimSpace(title) == "" {
			return NewError(131008, where+".title is required")
		}
		if utf8.RuneCountInString(title) > limit {
			return NewError(131009, fmt.Sprintf("%s.title is longer than %d characters", where, limit))
		}
		return nil
	}
	switch in.Type {
	case "button":
		bs := in.Action.Buttons
		if len(bs) == 0 || len(bs) > maxButtons {
			return f, NewError(131009, fmt.Sprintf("interactive.action.buttons must hold 1 to %d buttons", maxButtons))
		}
		titles := map[string]bool{}
		for i, b := range bs {
			where := fmt.Sprintf("interactive.action.buttons[%d]", i)
			if b.Type != "reply" {
				return f, NewError(131009, where+".type must be reply")
			}
			if b.Reply == nil {
				return f, NewError(131008, where+".reply is required")
			}
			if e := checkID(where+".reply", b.Reply.ID); e != nil {
				return f, e
			}
			if e := checkTitle(where+".reply", b.Reply.Title, maxButtonTitle); e != nil {
				return f, e
			}
			if titles[b.Reply.Title] {
				return f, NewError(131009, where+".reply.title is not unique")
			}
			titles[b.Reply.Title] = true
		}
	case "list":
		if strings.TrimSpace(in.Action.Button) == "" {
			return f, NewError(131008, "interactive.action.button is required")
		}
		if utf8.RuneCountInString(in.Action.Button) > maxListButton {
			return f, NewError(131009, fmt.Sprintf("interactive.action.button is longer than %d characters", maxListButton))
		}
		if len(in.Action.Sections) == 0 {
			return f, NewError(131008, "interactive.action.sections is required")
		}
		rows := 0
		for i, s := range in.Action.Sections {
			for j, r := range s.Rows {
				where := fmt.Sprintf("interactive.action.sections[%d].rows[%d]", i, j)
				if e := checkID(where, r.ID); e != nil {
					return f, e
				}
				if e := checkTitle(where, r.Title, maxRowTitle); e != nil {
					return f, e
				}
				if utf8.RuneCountInString(r.Description) > maxRowDescription {
					return f, NewError(131009, fmt.Sprintf("%s.description is longer than %d characters", where, maxRowDescription))
				}
				rows++
			}
		}
		if rows == 0 || rows > maxListRows {
			return f, NewError(131009, fmt.Sprintf("a list must hold 1 to %d rows", maxListRows))
		}
	case "":
		return f, NewError(131008, "interactive.type is required")
	default:
		return f, NewError(131009, "interactive.type "+in.Type+" is not supported by the stand-in (button, list)")
	}
	return f, nil
}

// openWindow records a user's message at, opening (or extending) the
// customer-service window of its wa_id.
func (s *Server) openWindow(waID string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.lastInbound[waID]) {
		s.lastInbound[waID] = at
	}
}

// inWindow reports whether the user waID wrote within Window of now.
func (s *Server) inWindow(waID string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.lastInbound[waID]
	return ok && now.Sub(last) < Window
}
