package topology

import (
	"fmt"
	"regexp"
	"strings"
)

// joinName is what a joining organisation may be called: it becomes the
// MSP ID (<Name>MSP), a domain (<name>.shiptrace), host, process and file
// names, so letters and digits only, starting with a capital letter.
var joinName = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{1,19}$`)

// JoiningOrg is the organisation called name that joins the consortium
// (`shipnet org add --name Carrier2`: Carrier2Org, Carrier2MSP,
// carrier2.shiptrace, label carrier2). It refuses a malformed name and one
// this layout already has (as MSP ID, label or host name).
func (l Layout) JoiningOrg(name string) (Org, error) {
	if !joinName.MatchString(name) {
		return Org{}, fmt.Errorf("organisation name %q: want 2 to 20 letters or digits starting with a capital letter, e.g. Carrier2", name)
	}
	org := Org{Name: name + "Org", MSPID: name + "MSP", Domain: strings.ToLower(name) + ".shiptrace", Label: strings.ToLower(name)}
	for _, o := range l.AllOrgs() {
		if o.MSPID == org.MSPID || o.Label == org.Label {
			return Org{}, fmt.Errorf("organisation %s is already a member of this network", name)
		}
	}
	if l.Hosts != nil {
		for _, o := range l.Hosts.Joined { // those that left too: their names stay taken
			if o.MSPID == org.MSPID || o.Label == org.Label {
				return Org{}, fmt.Errorf("organisation %s was a member of this network; a new one joins under a new name", name)
			}
		}
	}
	for _, h := range HostNames() {
		if h == org.Label {
			return Org{}, fmt.Errorf("organisation name %q is the name of a host of the network (%v)", name, HostNames())
		}
	}
	return org, nil
}
