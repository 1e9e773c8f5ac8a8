package localnet

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The local notifier's two secrets, generated once per data directory like
// the gateway's API keys and kept across stop and start: the key of its
// phone references (a new key would make its store refuse to open) and
// the token of its admin API. They live in files (0600) the notifier reads
// through store.phone_ref_key_file and admin.token_file, so they appear
// neither in its arguments nor in its environment.
const (
	notifierRefKeyFile = "phone-ref-key"
	notifierTokenFile  = "admin-token"
)

func (n *Network) notifierDir() string { return filepath.Join(n.serviceDir(), "notifier") }

// NotifierAdminToken is the bearer token of the local notifier's admin API
// (GET /v1/status, /v1/shipments/{id}/notifications).
func (n *Network) NotifierAdminToken() (string, error) {
	b, err := os.ReadFile(filepath.Join(n.notifierDir(), notifierTokenFile))
	if err != nil {
		return "", fmt.Errorf("notifier admin token: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// notifierSecrets makes the secret files that do not exist yet and returns
// their paths (phone reference key, admin token).
func (n *Network) notifierSecrets() (refKey, token string, err error) {
	if err := os.MkdirAll(n.notifierDir(), 0o700); err != nil {
		return "", "", err
	}
	refKey, token = filepath.Join(n.notifierDir(), notifierRefKeyFile), filepath.Join(n.notifierDir(), notifierTokenFile)
	for _, p := range []string{refKey, token} {
		if err := keepSecret(p); err != nil {
			return "", "", fmt.Errorf("notifier secret %s: %w", p, err)
		}
	}
	return refKey, token, nil
}

// trackingSecretFile is the secret the notifier signs tracking links with
// and the gateway checks them with: one file both read, made once and kept,
// so links already sent keep working across stop and start.
func (n *Network) trackingSecretFile() (string, error) {
	if err := os.MkdirAll(n.serviceDir(), 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(n.serviceDir(), "tracking-secret")
	if err := keepSecret(p); err != nil {
		return "", fmt.Errorf("tracking link secret %s: %w", p, err)
	}
	return p, nil
}

// TrackingSecret is the secret the local notifier signs tracking links
// with, for tests that make links of their own (an expired one, one for an
// unknown shipment).
func (n *Network) TrackingSecret() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(n.serviceDir(), "tracking-secret"))
	if err != nil {
		return nil, fmt.Errorf("tracking link secret: %w", err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// keepSecret writes 32 random bytes, hex-encoded, to path unless it exists.
func keepSecret(path string) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteString(hex.EncodeToString(b) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
