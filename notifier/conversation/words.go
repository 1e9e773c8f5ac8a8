package conversation

import (
	"strings"

	"github.com/shiptrace/shiptrace/notifier/webhook"
	"github.com/shiptrace/shiptrace/shipment"
)

// Languages the conversation answers in; any other falls back to English.
var Languages = []string{"en", "de", "es", "pt_BR"}

// statusWords ask for the status, in each language. Matched like the
// opt-out words (webhook.Normalize: case, accents, surrounding punctuation
// ignored); only a message that is one of them counts, so a description of
// a problem that mentions "status" is not mistaken for a request.
var statusWords = map[string][]string{
	"en":    {"STATUS", "WHERE IS MY ORDER", "WHERE IS MY SHIPMENT", "WHERE IS MY DELIVERY", "TRACK", "TRACKING", "ORDER STATUS"},
	"de":    {"WO IST MEINE BESTELLUNG", "WO IST MEINE LIEFERUNG", "WO IST MEINE SENDUNG", "SENDUNGSSTATUS", "LIEFERSTATUS", "STAND"},
	"es":    {"ESTADO", "DONDE ESTA MI PEDIDO", "DONDE ESTA MI ENVIO", "SEGUIMIENTO", "ESTADO DEL PEDIDO"},
	"pt_BR": {"SITUACAO", "ONDE ESTA MEU PEDIDO", "CADE MEU PEDIDO", "ONDE ESTA MINHA ENTREGA", "RASTREAR", "RASTREIO", "STATUS DO PEDIDO"},
}

// claimWords start a claim without the template's button.
var claimWords = map[string][]string{
	"en":    {"REPORT A PROBLEM", "PROBLEM", "CLAIM", "COMPLAINT"},
	"de":    {"PROBLEM MELDEN", "REKLAMATION", "BESCHWERDE"},
	"es":    {"REPORTAR UN PROBLEMA", "PROBLEMA", "RECLAMO", "RECLAMACION"},
	"pt_BR": {"RELATAR UM PROBLEMA", "PROBLEMA", "RECLAMACAO"},
}

// noPhotoWords finish a claim without a photo.
var noPhotoWords = []string{"NO", "NO PHOTO", "SKIP", "DONE", "NEIN", "KEIN FOTO", "FERTIG", "NO FOTO", "LISTO", "NAO", "SEM FOTO", "PRONTO"}

// matchWord returns the language of the list word is in, if any.
func matchWord(lists map[string][]string, text string) (lang string, ok bool) {
	w := webhook.Normalize(text)
	if w == "" {
		return "", false
	}
	for _, l := range Languages {
		for _, v := range lists[l] {
			if webhook.Normalize(v) == w {
				return l, true
			}
		}
	}
	return "", false
}

// language picks the supported language closest to tag (pt-BR, pt_BR, pt
// all give pt_BR), English when none is.
func language(tag string) string {
	t := strings.ReplaceAll(tag, "-", "_")
	for _, l := range Languages {
		if strings.EqualFold(l, t) {
			return l
		}
	}
	base, _, _ := strings.Cut(t, "_")
	for _, l := range Languages {
		lb, _, _ := strings.Cut(l, "_")
		if strings.EqualFold(lb, base) {
			return l
		}
	}
	return "en"
}

// texts are the conversation's replies in one language.
type texts struct {
	Neutral, Help, Pick, Choose              string
	Status                                   string // ref, product, status, custodian, cold chain, expected, link
	NoLink, Unknown                          string
	Statuses                                 map[shipment.Status]string
	ColdChain                                map[shipment.ColdChainState]string
	AskCategory, AskWords, AskPhoto, NoPhoto string
	WordsTooLong, PhotoTooLarge, PhotoFailed string
	Received, Confirmed, Refused             string
	Categories                               map[shipment.ClaimCategory]string
}

var catalog = map[string]texts{
	"en": {
		Neutral: "Thank you for your message. We cannot find an open order for this number. If you expect a delivery, please contact the company that sent it.",
		Help:    "Reply STATUS for the status of your order, or PROBLEM to report a problem.",
		Pick:    "You have %d open orders. Which one do you mean?", Choose: "Choose",
		Status: "Order %s (%s)\nStatus: %s\nWith: %s\nCold chain: %s\nExpected delivery: %s\nTrack: %s",
		NoLink: "-", Unknown: "to be confirmed",
		Statuses: map[shipment.Status]string{shipment.StatusCreated: "being prepared", shipment.StatusShipped: "shipped",
			shipment.StatusInTransit: "in transit", shipment.StatusDelivered: "delivered", shipment.StatusRejected: "rejected", shipment.StatusCancelled: "cancelled"},
		ColdChain: map[shipment.ColdChainState]string{shipment.ColdChainOK: "within limits", shipment.ColdChainExcursion: "temperature excursion under watch",
			shipment.ColdChainBreached: "breached"},
		AskCategory: "What is the problem with order %s? Reply with a number or choose:\n1 damaged, 2 late, 3 temperature, 4 missing, 5 other",
		AskWords:    "Please describe the problem in a few words.",
		AskPhoto:    "You can send a photo now, or tap \"No photo\".", NoPhoto: "No photo",
		WordsTooLong:  "That is too long; please describe the problem in at most 1000 characters.",
		PhotoTooLarge: "That photo is too large; please send a smaller one, or tap \"No photo\".",
		PhotoFailed:   "We could not load that photo; please send it again, or tap \"No photo\".",
		Received:      "Thank you. We are recording your report; its reference is %s.",
		Confirmed:     "Your report %s is recorded. Please keep this reference.",
		Refused:       "We could not record your report %s. Our team will contact you.",
		Categories: map[shipment.ClaimCategory]string{shipment.ClaimDamaged: "Damaged", shipment.ClaimLate: "Late",
			shipment.ClaimTemperature: "Temperature", shipment.ClaimMissing: "Missing", shipment.ClaimOther: "Other"},
	},
	"de": {
		Neutral: "Danke für Ihre Nachricht. Wir finden keine offene Bestellung zu dieser Nummer. Wenn Sie eine Lieferung erwarten, wenden Sie sich bitte an den Absender.",
		Help:    "Antworten Sie STATUS für den Stand Ihrer Bestellung oder PROBLEM, um ein Problem zu melden.",
		Pick:    "Sie haben %d offene Bestellungen. Welche meinen Sie?", Choose: "Auswählen",
		Status: "Bestellung %s (%s)\nStatus: %s\nBei: %s\nKühlkette: %s\nErwartete Lieferung: %s\nVerfolgen: %s",
		NoLink: "-", Unknown: "noch offen",
		Statuses: map[shipment.Status]string{shipment.StatusCreated: "in Vorbereitung", shipment.StatusShipped: "versandt",
			shipment.StatusInTransit: "unterwegs", shipment.StatusDelivered: "zugestellt", shipment.StatusRejected: "abgelehnt", shipment.StatusCancelled: "storniert"},
		ColdChain: map[shipment.ColdChainState]string{shipment.ColdChainOK: "eingehalten", shipment.ColdChainExcursion: "Abweichung unter Beobachtung",
			shipment.ColdChainBreached: "unterbrochen"},
		AskCategory: "Welches Problem gibt es mit Bestellung %s? Antworten Sie mit einer Zahl oder wählen Sie:\n1 beschädigt, 2 verspätet, 3 Temperatur, 4 fehlt, 5 anderes",
		AskWords:    "Bitte beschreiben Sie das Problem in wenigen Worten.",
		AskPhoto:    "Sie können jetzt ein Foto senden oder \"Kein Foto\" tippen.", NoPhoto: "Kein Foto",
		WordsTooLong:  "Das ist zu lang; bitte beschreiben Sie das Problem in höchstens 1000 Zeichen.",
		PhotoTooLarge: "Das Foto ist zu groß; bitte senden Sie ein kleineres oder tippen Sie \"Kein Foto\".",
		PhotoFailed:   "Wir konnten das Foto nicht laden; bitte senden Sie es noch einmal oder tippen Sie \"Kein Foto\".",
		Received:      "Danke. Wir erfassen Ihre Meldung; ihre Referenz ist %s.",
		Confirmed:     "Ihre Meldung %s ist erfasst. Bitte bewahren Sie diese Referenz auf.",
		Refused:       "Wir konnten Ihre Meldung %s nicht erfassen. Unser Team meldet sich bei Ihnen.",
		Categories: map[shipment.ClaimCategory]string{shipment.ClaimDamaged: "Beschädigt", shipment.ClaimLate: "Verspätet",
			shipment.ClaimTemperature: "Temperatur", shipment.ClaimMissing: "Fehlt", shipment.ClaimOther: "Anderes"},
	},
	"es": {
		Neutral: "Gracias por su mensaje. No encontramos un pedido abierto para este número. Si espera una entrega, contacte a la empresa que la envió.",
		Help:    "Responda ESTADO para el estado de su pedido, o PROBLEMA para informar un problema.",
		Pick:    "Tiene %d pedidos abiertos. ¿Cuál?", Choose: "Elegir",
		Status: "Pedido %s (%s)\nEstado: %s\nEn manos de: %s\nCadena de frío: %s\nEntrega prevista: %s\nSeguimiento: %s",
		NoLink: "-", Unknown: "por confirmar",
		Statuses: map[shipment.Status]string{shipment.StatusCreated: "en preparación", shipment.StatusShipped: "enviado",
			shipment.StatusInTransit: "en tránsito", shipment.StatusDelivered: "entregado", shipment.StatusRejected: "rechazado", shipment.StatusCancelled: "cancelado"},
		ColdChain: map[shipment.ColdChainState]string{shipment.ColdChainOK: "dentro de los límites", shipment.ColdChainExcursion: "desviación en observación",
			shipment.ColdChainBreached: "interrumpida"},
		AskCategory: "¿Qué problema tiene el pedido %s? Responda con un número o elija:\n1 dañado, 2 retrasado, 3 temperatura, 4 falta, 5 otro",
		AskWords:    "Describa el problema en pocas palabras, por favor.",
		AskPhoto:    "Puede enviar una foto ahora, o tocar \"Sin foto\".", NoPhoto: "Sin foto",
		WordsTooLong:  "Es demasiado largo; describa el problema en 1000 caracteres como máximo.",
		PhotoTooLarge: "La foto es demasiado grande; envíe una más pequeña o toque \"Sin foto\".",
		PhotoFailed:   "No pudimos cargar la foto; envíela de nuevo o toque \"Sin foto\".",
		Received:      "Gracias. Estamos registrando su reclamo; su referencia es %s.",
		Confirmed:     "Su reclamo %s está registrado. Guarde esta referencia.",
		Refused:       "No pudimos registrar su reclamo %s. Nuestro equipo le contactará.",
		Categories: map[shipment.ClaimCategory]string{shipment.ClaimDamaged: "Dañado", shipment.ClaimLate: "Retrasado",
			shipment.ClaimTemperature: "Temperatura", shipment.ClaimMissing: "Falta", shipment.ClaimOther: "Otro"},
	},
	"pt_BR": {
		Neutral: "Obrigado pela mensagem. Não encontramos um pedido em aberto para este número. Se espera uma entrega, fale com a empresa que a enviou.",
		Help:    "Responda SITUACAO para a situação do seu pedido, ou PROBLEMA para relatar um problema.",
		Pick:    "Você tem %d pedidos em aberto. Qual deles?", Choose: "Escolher",
		Status: "Pedido %s (%s)\nSituação: %s\nCom: %s\nCadeia de frio: %s\nEntrega prevista: %s\nAcompanhar: %s",
		NoLink: "-", Unknown: "a confirmar",
		Statuses: map[shipment.Status]string{shipment.StatusCreated: "em preparação", shipment.StatusShipped: "enviado",
			shipment.StatusInTransit: "em trânsito", shipment.StatusDelivered: "entregue", shipment.StatusRejected: "recusado", shipment.StatusCancelled: "cancelado"},
		ColdChain: map[shipment.ColdChainState]string{shipment.ColdChainOK: "dentro dos limites", shipment.ColdChainExcursion: "desvio em observação",
			shipment.ColdChainBreached: "rompida"},
		AskCategory: "Qual é o problema com o pedido %s? Responda com um número ou escolha:\n1 danificado, 2 atrasado, 3 temperatura, 4 faltando, 5 outro",
		AskWords:    "Descreva o problema em poucas palavras, por favor.",
		AskPhoto:    "Você pode enviar uma foto agora, ou tocar \"Sem foto\".", NoPhoto: "Sem foto",
		WordsTooLong:  "Está longo demais; descreva o problema em até 1000 caracteres.",
		PhotoTooLarge: "A foto é grande demais; envie uma menor ou toque \"Sem foto\".",
		PhotoFailed:   "Não conseguimos carregar a foto; envie de novo ou toque \"Sem foto\".",
		Received:      "Obrigado. Estamos registrando sua reclamação; a referência é %s.",
		Confirmed:     "Sua reclamação %s está registrada. Guarde esta referência.",
		Refused:       "Não conseguimos registrar sua reclamação %s. Nossa equipe entrará em contato.",
		Categories: map[shipment.ClaimCategory]string{shipment.ClaimDamaged: "Danificado", shipment.ClaimLate: "Atrasado",
			shipment.ClaimTemperature: "Temperatura", shipment.ClaimMissing: "Faltando", shipment.ClaimOther: "Outro"},
	},
}
