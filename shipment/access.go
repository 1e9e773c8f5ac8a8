package shipment

// Operation names a contract operation for authorisation.
type Operation string

// The operations of the contract, named as the transactions are.
const (
	OpCreate         Operation = "CreateShipment"
	OpAttachDocument Operation = "AttachDocument"
	OpShip           Operation = "Ship"
	OpHandOver       Operation = "HandOver"
	OpRecordReadings Operation = "RecordReadings"
	OpDeliver        Operation = "Deliver"
	OpReject         Operation = "Reject"
	OpCancel         Operation = "Cancel"
	OpFlagOverdue    Operation = "FlagOverdue"
	OpRead           Operation = "ReadShipment"
	OpReadContact    Operation = "BuyerContact"
	OpSetContact     Operation = "SetBuyerContact"
	OpDeleteContact  Operation = "DeleteBuyerContact"
)

// Operations lists every operation, for exhaustive tests and documentation.
var Operations = []Operation{
	OpCreate, OpAttachDocument, OpShip, OpHandOver, OpRecordReadings, OpDeliver,
	OpReject, OpCancel, OpFlagOverdue, OpRead, OpSetContact, OpReadContact, OpDeleteContact,
}

// Roles a certificate may carry in its shiptrace.role attribute. An identity
// without the attribute acts with the full rights of its organisation, so the
// rules work before any CA issues attributes.
const (
	RoleAdmin    = "admin"
	RoleOperator = "operator"
	RoleViewer   = "viewer"
)

// RoleAttribute is the certificate attribute that carries a caller's role.
const RoleAttribute = "shiptrace.role"

// Caller is the authenticated submitter of a transaction: its organisation's
// MSP ID and, where the certificate has one, its role.
type Caller struct {
	MSPID string
	Role  string
}

// party is a position an organisation holds on a shipment.
type party string

const (
	partyAnyMember party = "any member"
	partyExporter  party = "exporter"
	partyCustodian party = "current custodian"
	partyBuyer     party = "buyer"
)

// partiesFor says which parties may perform op. Reads are open to every
// channel member: the public record is shared truth. The buyer contact is
// personal data of the exporter's relationship, so only the exporter sees it.
func partiesFor(op Operation) ([]party, bool) {
	switch op {
	case OpCreate, OpFlagOverdue, OpRead:
		return []party{partyAnyMember}, true
	case OpAttachDocument:
		return []party{partyExporter, partyCustodian, partyBuyer}, true
	case OpShip, OpCancel, OpSetContact, OpReadContact, OpDeleteContact:
		return []party{partyExporter}, true
	case OpHandOver, OpRecordReadings:
		return []party{partyCustodian}, true
	case OpDeliver, OpReject:
		return []party{partyBuyer}, true
	}
	return nil, false
}

func (op Operation) readOnly() bool { return op == OpRead }

func (p party) holder(s *Shipment) string {
	switch p {
	case partyExporter:
		return s.Exporter
	case partyCustodian:
		return s.Custodian
	case partyBuyer:
		return s.Buyer
	}
	return ""
}

// Authorize decides whether caller may perform op on s (nil for creation). It
// is a pure function of the caller's organisation and role, the shipment and
// the operation, so the contract, the gateway and tests all ask the same
// question. A refusal is a FORBIDDEN *Error that says who may do it.
func Authorize(c Caller, s *Shipment, op Operation) error {
	parties, ok := partiesFor(op)
	if !ok {
		return Errorf(Forbidden, "operation %s is not known", op)
	}
	switch c.Role {
	case "", RoleAdmin, RoleOperator:
	case RoleViewer:
		if !op.readOnly() {
			return Errorf(Forbidden, "%s: role %q may only read shipments; caller is %s", op, c.Role, c.MSPID)
		}
	default:
		if !op.readOnly() {
			return Errorf(Forbidden, "%s: role %q is not a shiptrace role (admin, operator, viewer); caller is %s", op, c.Role, c.MSPID)
		}
	}
	if c.MSPID == "" {
		return Errorf(Forbidden, "%s: the caller has no MSP ID", op)
	}
	names := make([]string, 0, len(parties))
	for _, p := range parties {
		if p == partyAnyMember {
			return nil
		}
		if s != nil && p.holder(s) == c.MSPID {
			return nil
		}
		if s != nil {
			names = append(names, string(p)+" ("+p.holder(s)+")")
		}
	}
	id := ""
	if s != nil {
		id = " of shipment " + s.ID
	}
	return Errorf(Forbidden, "%s%s: only the %s may do this; caller is %s", op, id, joinOr(names), c.MSPID)
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return "nobody"
	case 1:
		return s[0]
	}
	out := ""
	for i, v := range s {
		switch {
		case i == 0:
		case i == len(s)-1:
			out += " or "
		default:
			out += ", "
		}
		out += v
	}
	return out
}
