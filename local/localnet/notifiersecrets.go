package localnet

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The local notifier's secret, generated once per data directory like the
// gateway's API keys and kept across stop and start: the key of its phone
// references (a new key would make its store refuse to open). It lives in a
// file (0600) the notifier reads through store.phone_ref_key_file, so it
// appears neither in its arguments nor in its environment.
const notifierRefKeyFile = "phone-ref-key"

func (n *Network) notifierDir() string { return filepath.Join(n.serviceDir(), "notifier") }

// notifierSecrets makes the secret file if it does not exist yet and
// returns its path.
func (n *Network) notifierSecrets() (refKey string, err error) {
	if err := os.MkdirAll(n.notifierDir(), 0o700); err != nil {
		return "", err
	}
	refKey = filepath.Join(n.notifierDir(), notifierRefKeyFile)
	if err := keepSecret(refKey); err != nil {
		return "", fmt.Errorf("notifier secret %s: %w", refKey, err)
	}
	return refKey, nil
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
