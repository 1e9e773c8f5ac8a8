package localnet

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// PrintWelcome prints where everything runs, the local members' API keys and
// a copy-paste walk-through of a shipment's life.
func (n *Network) PrintWelcome(w io.Writer) error {
	keys, err := n.APIKeys()
	if err != nil {
		return err
	}
	wa := "local WhatsApp Cloud API stand-in: " + n.StandinURL() + "/_standin/messages (what it received)"
	if !n.useStandin() {
		wa = "WhatsApp Cloud API: real credentials from " + EnvWhatsAppToken
	}
	fmt.Fprintf(w, `
shiptrace is up.
  REST gateway      %[1]s/v1   (OpenAPI: %[1]s/v1/openapi.json, metrics with an API key: %[1]s/metrics)
  notifier          %[2]s/v1/status   (admin API: -H "Authorization: Bearer $(cat %[9]s)";
                    health and metrics: %[10]s/healthz, /metrics; webhook for Meta: %[3]s)
  %[4]s
  logs              %[5]s/<process>.log
  status            scripts/shipnet status        stop: scripts/shipnet stop        wipe: scripts/down

API keys of the local members (header X-API-Key):
  export EXPORTER_KEY=%[6]s
  export CARRIER_KEY=%[7]s
  export RETAILER_KEY=%[8]s

Walk-through (or run scripts/demo, which does all of it):
`, n.GatewayURL(), n.NotifierURL(), n.WebhookURL(), wa, n.Layout.LogDir(), keys["exporter"], keys["carrier"], keys["retailer"],
		filepath.Join(n.notifierDir(), notifierTokenFile), n.NotifierHealthURL())
	ca := ""
	if strings.HasPrefix(n.GatewayURL(), "https://") {
		ca = n.GatewayCA()
	}
	if n.Layout.Hosts != nil {
		// Each member's key works only at its own gateway.
		fmt.Fprintf(w, "Members on their own hosts (network %s): each member has its own gateway, and its key works only there:\n", n.Layout.Hosts.CIDR())
		for _, org := range n.Layout.PeerOrgs() {
			fmt.Fprintf(w, "  %-9s %s   (--cacert %s)\n", org.Label, n.GatewayURLOf(org), n.GatewayCAOf(org))
		}
		fmt.Fprintln(w, "In the walk-through below, send the carrier's and the retailer's requests to their own gateways.")
	}
	fmt.Fprintln(w, Walkthrough(n.GatewayURL(), ca, n.StandinURL()))
	return nil
}

// Walkthrough is the curl walk-through printed by up and run by scripts/demo.
// ca is the root certificate curl trusts the gateway's HTTPS certificate
// with ("" when the gateway speaks plain HTTP).
func Walkthrough(gateway, ca, standin string) string {
	head := "  G=" + gateway + "\n"
	if ca != "" {
		head += "  CA=" + ca + "   # the exporter organisation's TLS CA, which issued the gateway's certificate\n"
	}
	curl := "curl -s"
	if ca != "" {
		curl = "curl -s --cacert $CA"
	}
	return head + strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(`  # 1. the exporter creates a shipment (cold chain 2-8 °C, 30 min tolerated) and records the buyer's contact
  curl -s -X POST $G/v1/shipments -H "X-API-Key: $EXPORTER_KEY" -H 'Content-Type: application/json' -d '{
    "id":"SHP-DEMO-1","buyer":"RetailerMSP","carrier":"CarrierMSP","buyerRef":"PO-7781",
    "product":{"sku":"COF-GRN-60","lot":"L-42","description":"Green coffee","quantity":60,"unit":"bag"},
    "origin":{"name":"Santos","country":"BR"},"destination":{"name":"Hamburg","country":"DE"},
    "coldChain":{"minC":2,"maxC":8,"maxExcursionMinutes":30},"expectedDeliveryAt":"2030-01-31T00:00:00Z",
    "buyerContact":{"phone":"+4915112345678","name":"Anna","language":"de","consent":true}}'
  # 2. attach the phytosanitary certificate (its SHA-256), ship, hand over to the carrier
  curl -s -X POST $G/v1/shipments/SHP-DEMO-1/documents -H "X-API-Key: $EXPORTER_KEY" -H 'Content-Type: application/json' \
    -d '{"type":"phytosanitary_certificate","sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}'
  curl -s -X POST $G/v1/shipments/SHP-DEMO-1/ship -H "X-API-Key: $EXPORTER_KEY"
  curl -s -X POST $G/v1/shipments/SHP-DEMO-1/handover -H "X-API-Key: $EXPORTER_KEY" -H 'Content-Type: application/json' -d '{"toMSP":"CarrierMSP"}'
  # 3. the carrier pairs the container's loggers (their first batches then commit side by side
  #    instead of each rewriting the shipment record), uploads temperature readings (dated inside
  #    its custody: from the hand-over on), then hands over to the retailer, who confirms delivery
  curl -s -X POST $G/v1/shipments/SHP-DEMO-1/sensors -H "X-API-Key: $CARRIER_KEY" -H 'Content-Type: application/json' -d '{"sensors":["logger-1"]}'
  curl -s -X POST $G/v1/shipments/SHP-DEMO-1/readings -H "X-API-Key: $CARRIER_KEY" -H 'Content-Type: application/json' \
    -d '{"readings":[{"sensorId":"logger-1","time":"'$(date -u +%FT%T.%3NZ)'","celsius":4.5},{"sensorId":"logger-1","time":"'$(date -u -d '+1 min' +%FT%T.%3NZ)'","celsius":5.1}]}'
  curl -s -X POST $G/v1/shipments/SHP-DEMO-1/handover -H "X-API-Key: $CARRIER_KEY" -H 'Content-Type: application/json' -d '{"toMSP":"RetailerMSP"}'
  curl -s -X POST $G/v1/shipments/SHP-DEMO-1/deliver -H "X-API-Key: $RETAILER_KEY"
  # 4. history, and the WhatsApp messages the buyer got
  curl -s $G/v1/shipments/SHP-DEMO-1/history -H "X-API-Key: $RETAILER_KEY"
  STANDIN_CURL STANDIN/_standin/messages
  # 5. each message's Track button (its url parameter) opens the public page: $G/track/<that text>, in a browser`, "curl -s", curl), "STANDIN_CURL", "curl -s"), "STANDIN", standin)
}
