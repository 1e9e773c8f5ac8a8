package fabric

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// certWithAttrs is a self-signed certificate carrying Fabric CA's attribute
// extension with attrs (none when attrs is empty), as PEM.
func certWithAttrs(t *testing.T, attrs string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logger-7"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if attrs != "" {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: attrsOID, Value: []byte(attrs)}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestRoleReadsTheCertificateAttribute(t *testing.T) {
	tests := []struct {
		name, attrs, want string
	}{
		{"a sensor", `{"attrs":{"hf.EnrollmentID":"logger-7","shiptrace.role":"sensor"}}`, "sensor"},
		{"attributes without a role", `{"attrs":{"hf.EnrollmentID":"logger-7"}}`, ""},
		{"no attributes at all (cryptogen)", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cert.pem")
			if err := os.WriteFile(path, certWithAttrs(t, tt.attrs), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Role(User{Cert: path})
			if err != nil || got != tt.want {
				t.Fatalf("role %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// TestLookupNamesTheSubmitter: the creator in a transaction's signature
// header is matched to the member with that certificate, in that MSP, and
// to nobody else.
func TestLookupNamesTheSubmitter(t *testing.T) {
	carrierPEM, sensorPEM := certWithAttrs(t, ""), certWithAttrs(t, "")
	c := &Client{}
	c.members.Store(&map[string]*member{
		"carrier":          {Member: Member{Name: "carrier", MSPID: "CarrierMSP"}, cert: certDER(carrierPEM)},
		"carrier.logger-7": {Member: Member{Name: "carrier.logger-7", MSPID: "CarrierMSP"}, cert: certDER(sensorPEM)},
	})
	env := func(mspID string, cert []byte) *common.Envelope {
		id, _ := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: cert})
		sh, _ := proto.Marshal(&common.SignatureHeader{Creator: id})
		payload, _ := proto.Marshal(&common.Payload{Header: &common.Header{SignatureHeader: sh}})
		return &common.Envelope{Payload: payload}
	}
	tests := []struct {
		name, msp string
		cert      []byte
		want      string
	}{
		{"the carrier's identity", "CarrierMSP", carrierPEM, "carrier"},
		{"the logger's identity", "CarrierMSP", sensorPEM, "carrier.logger-7"},
		{"the same certificate claimed for another MSP", "RetailerMSP", carrierPEM, ""},
		{"a certificate the gateway does not hold", "CarrierMSP", certWithAttrs(t, ""), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creator, err := creatorOf(env(tt.msp, tt.cert))
			if err != nil {
				t.Fatal(err)
			}
			if creator.GetMspid() != tt.msp {
				t.Errorf("creator MSP %q, want %q", creator.GetMspid(), tt.msp)
			}
			if got := c.memberWithCert(creator.GetMspid(), certDER(creator.GetIdBytes())); got != tt.want {
				t.Errorf("submitter %q, want %q", got, tt.want)
			}
		})
	}
}
