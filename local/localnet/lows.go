package localnet

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// Fabric's MSP accepts only low-S ECDSA signatures (s <= n/2). cryptogen 2.5
// signs leaf certificates low-S, but signs each self-signed CA certificate with
// the raw private key, so about half of them carry a high-S signature; the MSP
// then fails with "certificate signed by unknown authority". Rather than patch
// Fabric's source, normaliseCACerts re-signs such CA certificates with the same
// key, subject and extensions: leaf certificates stay valid because they name
// the CA by subject and key identifier, and only the signature bytes change.

// normaliseCACerts re-signs every high-S self-signed CA certificate under
// cryptoDir and replaces every copy of it (cacerts, tlscacerts, tls/ca.crt...).
func normaliseCACerts(cryptoDir string) (fixed int, err error) {
	keys, err := filepath.Glob(filepath.Join(cryptoDir, "*Organizations", "*", "*ca", "priv_sk"))
	if err != nil {
		return 0, err
	}
	for _, keyFile := range keys {
		certs, err := filepath.Glob(filepath.Join(filepath.Dir(keyFile), "*-cert.pem"))
		if err != nil || len(certs) != 1 {
			return fixed, fmt.Errorf("%s: want one CA certificate beside the key, found %v", filepath.Dir(keyFile), certs)
		}
		oldPEM, newPEM, changed, err := resignLowS(certs[0], keyFile)
		if err != nil {
			return fixed, err
		}
		if !changed {
			continue
		}
		if err := replaceEverywhere(cryptoDir, oldPEM, newPEM); err != nil {
			return fixed, err
		}
		fixed++
	}
	return fixed, nil
}

func resignLowS(certFile, keyFile string) (oldPEM, newPEM []byte, changed bool, err error) {
	oldPEM, err = os.ReadFile(certFile)
	if err != nil {
		return nil, nil, false, err
	}
	cert, err := parsePEMCert(oldPEM)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", certFile, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return oldPEM, oldPEM, false, nil
	}
	low, err := isLowS(cert.Signature, pub)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", certFile, err)
	}
	if low {
		return oldPEM, oldPEM, false, nil
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, false, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, false, fmt.Errorf("%s: not PEM", keyFile)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, false, fmt.Errorf("%s: %w", keyFile, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(pub) {
		return nil, nil, false, fmt.Errorf("%s does not hold the key of %s", keyFile, certFile)
	}
	der, err := x509.CreateCertificate(rand.Reader, cert, cert, pub, lowSSigner{key})
	if err != nil {
		return nil, nil, false, fmt.Errorf("re-sign %s: %w", certFile, err)
	}
	fresh, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, false, err
	}
	if !bytes.Equal(fresh.RawSubject, cert.RawSubject) || !bytes.Equal(fresh.SubjectKeyId, cert.SubjectKeyId) {
		return nil, nil, false, fmt.Errorf("re-signed %s changed its subject or key identifier", certFile)
	}
	return oldPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), true, nil
}

func replaceEverywhere(root string, oldPEM, newPEM []byte) error {
	return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".pem") || strings.HasSuffix(path, ".crt")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Equal(b, oldPEM) {
			return os.WriteFile(path, newPEM, 0o644)
		}
		return nil
	})
}

// lowSSigner signs with s normalised to the lower half of the curve order.
type lowSSigner struct{ k *ecdsa.PrivateKey }

func (s lowSSigner) Public() crypto.PublicKey { return &s.k.PublicKey }

func (s lowSSigner) Sign(r io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	sr, ss, err := ecdsa.Sign(r, s.k, digest)
	if err != nil {
		return nil, err
	}
	n := s.k.Curve.Params().N
	if ss.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		ss = new(big.Int).Sub(n, ss)
	}
	return asn1.Marshal(struct{ R, S *big.Int }{sr, ss})
}

func isLowS(sig []byte, pub *ecdsa.PublicKey) (bool, error) {
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		return false, fmt.Errorf("signature: %w", err)
	}
	return rs.S.Cmp(new(big.Int).Rsh(pub.Curve.Params().N, 1)) <= 0, nil
}

func parsePEMCert(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("not PEM")
	}
	return x509.ParseCertificate(block.Bytes)
}
