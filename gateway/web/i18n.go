package web

import (
	"net/http"
	"strconv"
	"strings"
)

// Languages are the page's languages, those of the WhatsApp templates.
var Languages = []string{"en", "de", "es", "pt_BR"}

// lang is one language's words. A missing word falls back to English (see
// T), so a new key cannot leave a hole in another language's page.
type lang struct {
	Code    string // as in the URL and the templates: pt_BR
	Tag     string // BCP 47, for <html lang>: pt-BR
	decimal string // decimal separator
	words   map[string]string
}

var english = map[string]string{
	"title":          "Shipment",
	"timeline.older": "Older changes are not shown.",
	"notfound.title": "Link not valid",
	"notfound.body":  "This tracking link is not valid. It may have expired or been withdrawn. Ask the sender for a new link.",
	"unavailable":    "The ledger cannot be reached right now. Please try again in a minute.",
	"status":         "Status", "overdue": "Overdue", "expected": "Expected delivery",
	"product": "Product", "lot": "Lot", "quantity": "Quantity", "gtin": "GTIN",
	"route": "Route", "origin": "Origin", "destination": "Destination",
	"timeline": "Timeline", "coldchain": "Cold chain", "documents": "Documents",
	"settlement": "Settlement", "verified": "Verified on the ledger",
	"eudr": "EU deforestation regulation", "eudr.plots": "Production plots", "eudr.area": "Total area",
	"eudr.countries": "Countries of production", "eudr.dds": "Due-diligence statement",
	"eudr.evidence": "Evidence on the ledger", "doc.deforestation_analysis": "deforestation analysis",
	"doc.land_title": "land title", "doc.legality_certificate": "legality certificate",
	"band": "Allowed", "min": "Min", "max": "Max", "mean": "Mean", "outofrange": "Time out of range",
	"readings": "Readings", "breach": "Breach", "excursion": "Out of range", "sensor": "Sensor",
	"time": "Time", "from": "From", "to": "To", "by": "By", "step": "Step",
	"table.summary":  "Temperatures as a table",
	"chart.label":    "Temperature over time per sensor, with the allowed band shaded",
	"chart.capped":   "The chart shows the first %d readings; the figures above cover all of them.",
	"noreadings":     "No readings recorded yet.",
	"nodocuments":    "No documents attached.",
	"check.label":    "Check a file against the ledger",
	"check.match":    "This file matches a document on the ledger.",
	"check.nomatch":  "This file does not match any document on the ledger.",
	"check.nocrypto": "This browser cannot compute SHA-256 here.",
	"type":           "Type", "sha256": "SHA-256", "added": "Added",
	"tx": "Transaction", "block": "Block", "endorsers": "Endorsed by", "committed": "Time", "valid": "Valid",
	"outcome": "Outcome", "final": "Final", "provisional": "Provisional", "dayslate": "Days late",
	"footer":     "Data read from the shiptrace ledger at",
	"st.CREATED": "Created", "st.SHIPPED": "Shipped", "st.IN_TRANSIT": "In transit", "st.DELIVERED": "Delivered",
	"st.CANCELLED": "Cancelled", "st.REJECTED": "Rejected",
	"cc.OK": "Within range", "cc.EXCURSION": "Out of range now", "cc.BREACHED": "Cold chain breached",
	"ev.created": "Created", "ev.shipped": "Shipped", "ev.handover": "Handed over", "ev.delivered": "Delivered",
	"ev.rejected": "Rejected", "ev.cancelled": "Cancelled", "ev.overdue": "Flagged overdue",
	"ev.breached": "Cold chain breached", "ev.document": "Document attached", "ev.sensor": "Temperature logger registered",
	"ev.updated":  "Record updated",
	"out.RELEASE": "Paid in full", "out.RELEASE_LESS_REFUND": "Paid less a refund", "out.FULL_REFUND": "Fully refunded",
	"out.HELD": "Held for the parties to resolve", "out.PROVISIONAL": "Provisional: penalty accruing",
}

var langs = map[string]lang{
	"en": {Code: "en", Tag: "en", decimal: ".", words: english},
	"de": {Code: "de", Tag: "de", decimal: ",", words: map[string]string{
		"title": "Sendung", "notfound.title": "Link ungültig",
		"timeline.older": "Ältere Änderungen werden nicht angezeigt.",
		"notfound.body":  "Dieser Sendungslink ist nicht gültig. Er ist vielleicht abgelaufen oder wurde zurückgezogen. Bitten Sie den Absender um einen neuen Link.",
		"unavailable":    "Das Ledger ist gerade nicht erreichbar. Bitte versuchen Sie es in einer Minute erneut.",
		"status":         "Status", "overdue": "Überfällig", "expected": "Erwartete Zustellung",
		"product": "Produkt", "lot": "Charge", "quantity": "Menge", "route": "Route", "origin": "Herkunft", "destination": "Ziel",
		"timeline": "Verlauf", "coldchain": "Kühlkette", "documents": "Dokumente", "settlement": "Abrechnung",
		"eudr": "EU-Entwaldungsverordnung", "eudr.plots": "Erzeugungsflächen", "eudr.area": "Gesamtfläche",
		"eudr.countries": "Erzeugungsländer", "eudr.dds": "Sorgfaltserklärung",
		"eudr.evidence": "Nachweise im Ledger", "doc.deforestation_analysis": "Entwaldungsanalyse",
		"doc.land_title": "Landtitel", "doc.legality_certificate": "Legalitätszertifikat",
		"verified": "Im Ledger bestätigt", "band": "Zulässig", "mean": "Mittel", "outofrange": "Zeit außerhalb des Bereichs",
		"readings": "Messwerte", "breach": "Verletzung", "excursion": "Außerhalb", "time": "Zeit", "from": "Von", "to": "An",
		"by": "Durch", "step": "Schritt", "table.summary": "Temperaturen als Tabelle",
		"chart.label":    "Temperatur im Zeitverlauf je Sensor, zulässiger Bereich schattiert",
		"chart.capped":   "Das Diagramm zeigt die ersten %d Messwerte; die Kennzahlen oben umfassen alle.",
		"noreadings":     "Noch keine Messwerte.",
		"nodocuments":    "Keine Dokumente angehängt.",
		"check.label":    "Datei mit dem Ledger abgleichen",
		"check.match":    "Diese Datei stimmt mit einem Dokument im Ledger überein.",
		"check.nomatch":  "Diese Datei stimmt mit keinem Dokument im Ledger überein.",
		"check.nocrypto": "Dieser Browser kann hier kein SHA-256 berechnen.",
		"type":           "Art", "added": "Hinzugefügt", "tx": "Transaktion", "endorsers": "Bestätigt von", "committed": "Zeit",
		"valid": "Gültig", "outcome": "Ergebnis", "final": "Endgültig", "provisional": "Vorläufig", "dayslate": "Tage verspätet",
		"footer":     "Daten aus dem shiptrace-Ledger gelesen am",
		"st.CREATED": "Angelegt", "st.SHIPPED": "Versandt", "st.IN_TRANSIT": "Unterwegs", "st.DELIVERED": "Zugestellt",
		"st.CANCELLED": "Storniert", "st.REJECTED": "Abgelehnt",
		"cc.OK": "Im Bereich", "cc.EXCURSION": "Derzeit außerhalb", "cc.BREACHED": "Kühlkette verletzt",
		"ev.created": "Angelegt", "ev.shipped": "Versandt", "ev.handover": "Übergeben", "ev.delivered": "Zugestellt",
		"ev.rejected": "Abgelehnt", "ev.cancelled": "Storniert", "ev.overdue": "Als überfällig markiert",
		"ev.breached": "Kühlkette verletzt", "ev.document": "Dokument angehängt", "ev.sensor": "Temperaturlogger registriert",
		"ev.updated":  "Datensatz geändert",
		"out.RELEASE": "Vollständig bezahlt", "out.RELEASE_LESS_REFUND": "Bezahlt abzüglich Erstattung", "out.FULL_REFUND": "Vollständig erstattet",
		"out.HELD": "Zurückgehalten bis zur Klärung", "out.PROVISIONAL": "Vorläufig: Vertragsstrafe läuft",
	}},
	"es": {Code: "es", Tag: "es", decimal: ",", words: map[string]string{
		"title": "Envío", "notfound.title": "Enlace no válido",
		"timeline.older": "No se muestran los cambios más antiguos.",
		"notfound.body":  "Este enlace de seguimiento no es válido. Puede haber caducado o haber sido retirado. Pida un enlace nuevo al remitente.",
		"unavailable":    "No se puede acceder al registro en este momento. Inténtelo de nuevo en un minuto.",
		"status":         "Estado", "overdue": "Retrasado", "expected": "Entrega prevista",
		"product": "Producto", "lot": "Lote", "quantity": "Cantidad", "route": "Ruta", "origin": "Origen", "destination": "Destino",
		"timeline": "Historial", "coldchain": "Cadena de frío", "documents": "Documentos", "settlement": "Liquidación",
		"eudr": "Reglamento de la UE sobre deforestación", "eudr.plots": "Parcelas de producción", "eudr.area": "Superficie total",
		"eudr.countries": "Países de producción", "eudr.dds": "Declaración de diligencia debida",
		"eudr.evidence": "Pruebas en el registro", "doc.deforestation_analysis": "análisis de deforestación",
		"doc.land_title": "título de propiedad", "doc.legality_certificate": "certificado de legalidad",
		"verified": "Verificado en el registro", "band": "Permitido", "min": "Mín", "max": "Máx", "mean": "Media",
		"outofrange": "Tiempo fuera de rango", "readings": "Lecturas", "breach": "Ruptura", "excursion": "Fuera de rango",
		"sensor": "Sensor", "time": "Hora", "from": "De", "to": "A", "by": "Por", "step": "Paso",
		"table.summary":  "Temperaturas en una tabla",
		"chart.label":    "Temperatura a lo largo del tiempo por sensor, con el rango permitido sombreado",
		"chart.capped":   "El gráfico muestra las primeras %d lecturas; las cifras de arriba las incluyen todas.",
		"noreadings":     "Aún no hay lecturas.",
		"nodocuments":    "No hay documentos adjuntos.",
		"check.label":    "Comprobar un archivo con el registro",
		"check.match":    "Este archivo coincide con un documento del registro.",
		"check.nomatch":  "Este archivo no coincide con ningún documento del registro.",
		"check.nocrypto": "Este navegador no puede calcular SHA-256 aquí.",
		"type":           "Tipo", "added": "Añadido", "tx": "Transacción", "block": "Bloque", "endorsers": "Respaldado por",
		"committed": "Hora", "valid": "Válido", "outcome": "Resultado", "final": "Definitivo", "provisional": "Provisional",
		"dayslate": "Días de retraso", "footer": "Datos leídos del registro shiptrace el",
		"st.CREATED": "Creado", "st.SHIPPED": "Enviado", "st.IN_TRANSIT": "En tránsito", "st.DELIVERED": "Entregado",
		"st.CANCELLED": "Cancelado", "st.REJECTED": "Rechazado",
		"cc.OK": "Dentro del rango", "cc.EXCURSION": "Fuera de rango ahora", "cc.BREACHED": "Cadena de frío rota",
		"ev.created": "Creado", "ev.shipped": "Enviado", "ev.handover": "Entregado a otro custodio", "ev.delivered": "Entregado",
		"ev.rejected": "Rechazado", "ev.cancelled": "Cancelado", "ev.overdue": "Marcado como retrasado",
		"ev.breached": "Cadena de frío rota", "ev.document": "Documento adjunto", "ev.sensor": "Registrador de temperatura añadido",
		"ev.updated":  "Registro actualizado",
		"out.RELEASE": "Pagado en su totalidad", "out.RELEASE_LESS_REFUND": "Pagado menos un reembolso", "out.FULL_REFUND": "Reembolsado por completo",
		"out.HELD": "Retenido hasta que las partes lo resuelvan", "out.PROVISIONAL": "Provisional: penalización en curso",
	}},
	"pt_BR": {Code: "pt_BR", Tag: "pt-BR", decimal: ",", words: map[string]string{
		"title": "Remessa", "notfound.title": "Link inválido",
		"timeline.older": "Alterações mais antigas não são mostradas.",
		"notfound.body":  "Este link de rastreamento não é válido. Ele pode ter expirado ou sido retirado. Peça um novo link ao remetente.",
		"unavailable":    "O registro não está acessível agora. Tente novamente em um minuto.",
		"status":         "Situação", "overdue": "Atrasada", "expected": "Entrega prevista",
		"product": "Produto", "lot": "Lote", "quantity": "Quantidade", "route": "Rota", "origin": "Origem", "destination": "Destino",
		"timeline": "Histórico", "coldchain": "Cadeia de frio", "documents": "Documentos", "settlement": "Liquidação",
		"eudr": "Regulamento da UE sobre desmatamento", "eudr.plots": "Parcelas de produção", "eudr.area": "Área total",
		"eudr.countries": "Países de produção", "eudr.dds": "Declaração de devida diligência",
		"eudr.evidence": "Evidências no registro", "doc.deforestation_analysis": "análise de desmatamento",
		"doc.land_title": "título de terra", "doc.legality_certificate": "certificado de legalidade",
		"verified": "Verificado no registro", "band": "Permitido", "min": "Mín", "max": "Máx", "mean": "Média",
		"outofrange": "Tempo fora da faixa", "readings": "Leituras", "breach": "Ruptura", "excursion": "Fora da faixa",
		"time": "Hora", "from": "De", "to": "Para", "by": "Por", "step": "Etapa",
		"table.summary":  "Temperaturas em tabela",
		"chart.label":    "Temperatura ao longo do tempo por sensor, com a faixa permitida sombreada",
		"chart.capped":   "O gráfico mostra as primeiras %d leituras; os números acima incluem todas.",
		"noreadings":     "Ainda não há leituras.",
		"nodocuments":    "Nenhum documento anexado.",
		"check.label":    "Conferir um arquivo com o registro",
		"check.match":    "Este arquivo corresponde a um documento do registro.",
		"check.nomatch":  "Este arquivo não corresponde a nenhum documento do registro.",
		"check.nocrypto": "Este navegador não consegue calcular SHA-256 aqui.",
		"type":           "Tipo", "added": "Anexado", "tx": "Transação", "block": "Bloco", "endorsers": "Endossado por",
		"committed": "Hora", "valid": "Válida", "outcome": "Resultado", "final": "Definitivo", "provisional": "Provisório",
		"dayslate": "Dias de atraso", "footer": "Dados lidos do registro shiptrace em",
		"st.CREATED": "Criada", "st.SHIPPED": "Enviada", "st.IN_TRANSIT": "Em trânsito", "st.DELIVERED": "Entregue",
		"st.CANCELLED": "Cancelada", "st.REJECTED": "Recusada",
		"cc.OK": "Dentro da faixa", "cc.EXCURSION": "Fora da faixa agora", "cc.BREACHED": "Cadeia de frio rompida",
		"ev.created": "Criada", "ev.shipped": "Enviada", "ev.handover": "Transferida", "ev.delivered": "Entregue",
		"ev.rejected": "Recusada", "ev.cancelled": "Cancelada", "ev.overdue": "Marcada como atrasada",
		"ev.breached": "Cadeia de frio rompida", "ev.document": "Documento anexado", "ev.sensor": "Registrador de temperatura adicionado",
		"ev.updated":  "Registro atualizado",
		"out.RELEASE": "Pago integralmente", "out.RELEASE_LESS_REFUND": "Pago com reembolso", "out.FULL_REFUND": "Reembolsado integralmente",
		"out.HELD": "Retido até as partes resolverem", "out.PROVISIONAL": "Provisório: multa acumulando",
	}},
}

// T returns the word for key, in English when the language has none.
func (l lang) T(key string) string {
	if w, ok := l.words[key]; ok {
		return w
	}
	if w, ok := english[key]; ok {
		return w
	}
	return key
}

// Num formats a number with the language's decimal separator.
func (l lang) Num(f float64, decimals int) string {
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	if l.decimal != "." {
		s = strings.Replace(s, ".", l.decimal, 1)
	}
	return s
}

// chooseLang picks the page's language: the URL's lang parameter if it is
// one of ours, else the one signed into the link (the message's language),
// else the best of Accept-Language, else English.
func chooseLang(r *http.Request, signed string) lang {
	for _, want := range []string{r.URL.Query().Get("lang"), signed} {
		if code := matchLang(want); code != "" {
			return langs[code]
		}
	}
	best, bestQ := "en", 0.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if code := matchLang(tag); code != "" && q > bestQ {
			best, bestQ = code, q
		}
	}
	return langs[best]
}

// matchLang maps a BCP 47 tag (de-AT, pt, pt-PT, es-419) to our language
// with the same primary subtag; "" if none.
func matchLang(tag string) string {
	primary, _, _ := strings.Cut(strings.ToLower(strings.ReplaceAll(tag, "_", "-")), "-")
	for _, code := range Languages {
		if p, _, _ := strings.Cut(strings.ToLower(code), "_"); p == primary {
			return code
		}
	}
	return ""
}
