package identity

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shiptrace/shiptrace/identity/plan"
)

// Bootstrap issues everything a plan asks for: the organisation's MSP
// definition and CA roots, then every member.
func Bootstrap(p *plan.Plan) error {
	c, err := New(p.CA)
	if err != nil {
		return err
	}
	defer c.Close()
	roots, err := c.roots()
	if err != nil {
		return err
	}
	if err := WriteOrgMSP(filepath.Join(p.OrgDir, "msp"), roots); err != nil {
		return err
	}
	if err := writeAll(p.OrgDir, map[string][]byte{
		filepath.Join("ca", roots.CAFile):       roots.CACert,
		filepath.Join("tlsca", roots.TLSCAFile): roots.TLSCACert,
	}); err != nil {
		return err
	}
	for _, m := range p.Members {
		if err := c.Issue(m); err != nil {
			return err
		}
	}
	return nil
}

// Issue registers one member, then enrols an enrolment certificate into an
// MSP folder (when MSPDir is set) and a TLS certificate (when TLSDir is set).
// A member with no MSP folder is registered at the TLS CA only.
func (c *Client) Issue(m plan.Member) error {
	roots, err := c.roots()
	if err != nil {
		return err
	}
	secret, err := c.Register(Registration{Name: m.Name, Type: m.Type, Role: m.Role, TLSOnly: m.MSPDir == ""})
	if err != nil {
		return err
	}
	if m.MSPDir != "" {
		e, err := c.Enroll(m.Name, secret)
		if err != nil {
			return err
		}
		if err := WriteMSP(m.MSPDir, m.CertFile, e, roots); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	if m.TLSDir != "" {
		hosts := m.Hosts
		if len(hosts) == 0 {
			hosts = []string{m.Name}
		}
		t, err := c.EnrollTLS(m.Name, secret, hosts)
		if err != nil {
			return err
		}
		if err := WriteTLS(m.TLSDir, t, roots.TLSCACert, m.Server); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	return nil
}

// roots reads the organisation's two CA roots from the CA server's home.
func (c *Client) roots() (Roots, error) {
	caRoot, err := os.ReadFile(c.ca.CARoot())
	if err != nil {
		return Roots{}, err
	}
	tlsRoot, err := os.ReadFile(c.ca.TLSCARoot())
	if err != nil {
		return Roots{}, err
	}
	return Roots{CACert: caRoot, CAFile: "ca." + c.ca.Domain + "-cert.pem",
		TLSCACert: tlsRoot, TLSCAFile: "tlsca." + c.ca.Domain + "-cert.pem"}, nil
}
