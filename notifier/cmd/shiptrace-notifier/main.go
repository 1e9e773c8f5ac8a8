// Command shiptrace-notifier turns the exporter's chaincode events into
// WhatsApp template messages.
//
//	shiptrace-notifier [--config notifier.yaml] [--key value ...]   run the notifier
//	shiptrace-notifier config [flags]                               print the effective configuration (secrets masked)
//	shiptrace-notifier notifications --admin URL SHIPMENT_ID        list a shipment's notifications
//	                                                                (token: SHIPTRACE_NOTIFIER_ADMIN_TOKEN or --token-file)
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/shiptrace/shiptrace/notifier/config"
	"github.com/shiptrace/shiptrace/notifier/service"
)

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) > 0 && args[0] == "notifications":
		err = listNotifications(args[1:], os.Stdout)
	case len(args) > 0 && args[0] == "config":
		err = printConfig(args[1:], os.Stdout)
	case len(args) > 0 && args[0] == "run":
		err = run(args[1:])
	default:
		err = run(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shiptrace-notifier:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := config.Load(args)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	svc, err := service.New(cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return svc.Run(ctx)
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func printConfig(args []string, w io.Writer) error {
	cfg, err := config.Load(args)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(cfg.Redacted())
}

func listNotifications(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("notifications", flag.ContinueOnError)
	admin := fs.String("admin", "http://127.0.0.1:9464", "admin API of the running notifier")
	tokenFile := fs.String("token-file", os.Getenv(config.EnvPrefix+"_ADMIN_TOKEN_FILE"), "file holding the admin token (default: "+config.EnvPrefix+"_ADMIN_TOKEN)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: notifications [--admin URL] [--token-file FILE] [--json] SHIPMENT_ID")
	}
	token, err := adminToken(*tokenFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *admin+"/v1/shipments/"+url.PathEscape(fs.Arg(0))+"/notifications", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask the notifier: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("notifier answered %s", resp.Status)
	}
	if *asJSON {
		_, err := io.Copy(w, resp.Body)
		return err
	}
	var body struct {
		Notifications []service.View `json:"notifications"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tRECIPIENT\tTEMPLATE\tLANG\tSTATUS\tATTEMPTS\tREASON\tUPDATED\tERASED")
	for _, n := range body.Notifications {
		erased := "-"
		if !n.ErasedAt.IsZero() {
			erased = n.ErasedAt.Format(time.RFC3339)
		}
		reason := n.Reason
		if !n.NotBefore.IsZero() {
			reason += " (until " + n.NotBefore.Format(time.RFC3339) + ")" // deferred: when it will go
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", n.EventType, n.Recipient, n.Message.Template,
			n.Message.Language, n.Status, n.Attempts, reason, n.UpdatedAt.Format(time.RFC3339), erased)
	}
	return tw.Flush()
}

// adminToken reads the admin API's token from file, or else from the
// environment, as the notifier itself does.
func adminToken(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("admin token: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t := os.Getenv(config.EnvPrefix + "_ADMIN_TOKEN"); t != "" {
		return t, nil
	}
	return "", fmt.Errorf("the admin API needs its token: set %s_ADMIN_TOKEN or pass --token-file", config.EnvPrefix)
}
