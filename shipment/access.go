package shipment

import (
	"slices"
	"strings"
)

// Operation names a contract operation for authorisation.
type Operation string

// The operations of the contract, named as the transactions are.
const (
	OpCreate          Operation = "CreateShipment"
	OpSetContact      Operation = "SetBuyerContact"
	OpAttachDocument  Operation = "AttachDocument"
	OpShip            Operation = "Ship"
	OpHandOver        Operation = "HandOver"
	OpRecordReadings  Operation = "RecordReadings"
	OpRegisterSensors Operation = "RegisterSensors"
	OpDeliver         Operation = "Deliver"
	OpReject          Operation = "Reject"
	OpCancel          Operation = "Cancel"
	OpFlagOverdue     Operation = "FlagOverdue"
	OpRead            Operation = "ReadShipment"
	OpList            Operation = "ListShipments"
	OpHistory         Operation = "ShipmentHistory"
	OpReadings        Operation = "Readings"
	OpReadContact     Operation = "BuyerContact"
	OpDeleteContact   Operation = "DeleteBuyerContact"
	OpReadMembers     Operation = "Members"
	OpApproveMembers  Operation = "ApproveMembers"
	OpCommitMembers   Operation = "CommitMembers"
	// OpAnchorNotifications records the Merkle root of a batch of a
	// notifier's message status records; OpReadAnchor reads one back.
	OpAnchorNotifications Operation = "AnchorNotifications"
	OpReadAnchor          Operation = "NotificationAnchor"
	// OpOpenClaim records a buyer's claim (hashes only); OpClaims lists them.
	OpOpenClaim Operation = "OpenClaim"
	OpClaims    Operation = "Claims"
)

// EUDR operations: the exporter attaches (and erases) a shipment's
// production plots, the exporter and the buyer read them, the buyer records
// its due-diligence statement's numbers.
const (
	OpAttachPlots        Operation = "AttachPlots"
	OpReadPlots          Operation = "Plots"
	OpErasePlots         Operation = "ErasePlots"
	OpRecordDueDiligence Operation = "RecordDueDiligence"
)

// Operations lists every operation, for exhaustive tests and documentation.
var Operations = []Operation{
	OpCreate, OpSetContact, OpAttachDocument, OpShip, OpHandOver, OpRecordReadings, OpRegisterSensors, OpDeliver,
	OpReject, OpCancel, OpFlagOverdue, OpRead, OpList, OpHistory, OpReadings, OpReadContact, OpDeleteContact,
	OpReadMembers, OpApproveMembers, OpCommitMembers, OpAnchorNotifications, OpReadAnchor, OpOpenClaim, OpClaims,
	OpAttachPlots, OpReadPlots, OpErasePlots, OpRecordDueDiligence,
}

// Writes reports whether op changes the ledger. Only writes are held to the
// endorsing peer's clock (see CheckTxTime): a read's timestamp decides nothing.
func (op Operation) Writes() bool {
	switch op {
	case OpRead, OpList, OpHistory, OpReadings, OpReadContact, OpReadMembers, OpReadAnchor, OpClaims, OpReadPlots:
		return false
	}
	return true
}

// RoleAttribute is the certificate attribute that carries a caller's role.
const RoleAttribute = "shiptrace.role"

// Roles a certificate may carry in its shiptrace.role attribute. Every
// identity must carry one: a certificate without the attribute, or with any
// other value, is refused everything. Why no default: Fabric CA issues a
// certificate without attributes to anyone who re-enrols with an empty
// attr_reqs list, so "no attribute" must never mean more rights than a role.
const (
	RoleExporterOperator = "exporter_operator" // an exporter's ERP
	RoleCarrierOperator  = "carrier_operator"  // a carrier's transport system or staff
	RoleSensor           = "sensor"            // a temperature logger: readings only
	RoleBuyerReceiver    = "buyer_receiver"    // a buyer's goods-in desk
	RoleAuditor          = "auditor"           // reads the public record, changes nothing
	RoleGateway          = "gateway"           // the organisation's REST gateway: every shipment operation, no governance
	RoleNotifier         = "notifier"          // the exporter's notifier: reads shipments and buyer contacts
	RoleAdmin            = "admin"             // the organisation's administrator: everything, including membership votes
)

// Roles lists every role, in documentation order.
var Roles = []string{RoleExporterOperator, RoleCarrierOperator, RoleSensor, RoleBuyerReceiver, RoleAuditor,
	RoleGateway, RoleNotifier, RoleAdmin}

// publicReads are the reads of the shared public record.
var publicReads = []Operation{OpRead, OpList, OpHistory, OpReadings, OpReadMembers, OpReadAnchor, OpClaims}

// shipmentOps are every operation on shipments: what the gateway signs for
// its API keys. Governance (membership votes) is the admin's alone.
var shipmentOps = []Operation{OpCreate, OpSetContact, OpAttachDocument, OpShip, OpHandOver, OpRecordReadings,
	OpRegisterSensors, OpDeliver, OpReject, OpCancel, OpFlagOverdue, OpRead, OpList, OpHistory, OpReadings, OpReadContact,
	OpDeleteContact, OpReadMembers, OpAnchorNotifications, OpReadAnchor, OpOpenClaim, OpClaims,
	OpAttachPlots, OpReadPlots, OpErasePlots, OpRecordDueDiligence}

// roleOps says which operations each role may ask for; the organisation's
// position on the shipment is checked after that.
var roleOps = map[string][]Operation{
	RoleExporterOperator: append([]Operation{OpCreate, OpSetContact, OpAttachDocument, OpShip, OpHandOver,
		OpCancel, OpFlagOverdue, OpReadContact, OpOpenClaim}, append(publicReads, OpAttachPlots, OpReadPlots)...),
	RoleCarrierOperator: append([]Operation{OpAttachDocument, OpHandOver, OpRecordReadings, OpRegisterSensors, OpFlagOverdue}, publicReads...),
	RoleSensor:          {OpRecordReadings},
	RoleBuyerReceiver:   append([]Operation{OpAttachDocument, OpDeliver, OpReject, OpFlagOverdue}, append(publicReads, OpReadPlots, OpRecordDueDiligence)...),
	RoleAuditor:         publicReads,
	RoleGateway:         shipmentOps,
	RoleNotifier:        {OpRead, OpList, OpReadContact, OpReadMembers, OpAnchorNotifications, OpReadAnchor, OpOpenClaim, OpClaims},
	RoleAdmin:           Operations,
}

// KnownRole reports whether role is a shiptrace role ("" is not).
func KnownRole(role string) bool {
	_, ok := roleOps[role]
	return ok
}

// RoleAllows reports whether role may ask for op at all. It says nothing
// about the organisation's position on a shipment: see Authorize.
func RoleAllows(role string, op Operation) bool {
	return slices.Contains(roleOps[role], op)
}

// Caller is the authenticated submitter of a transaction: its organisation's
// MSP ID, its role and the enrolment ID (certificate common name) that says
// which of the organisation's identities (a person's desk, a logger) acted.
type Caller struct {
	MSPID string
	Role  string
	ID    string
}

// String names the caller in refusals: its MSP ID and its role, if any.
func (c Caller) String() string {
	if c.Role == "" {
		return c.MSPID + " without a role"
	}
	return c.MSPID + " with role " + c.Role
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
	case OpCreate, OpFlagOverdue, OpRead, OpList, OpHistory, OpReadings, OpReadMembers, OpApproveMembers, OpCommitMembers,
		OpAnchorNotifications, OpReadAnchor, OpClaims:
		// Any member may anchor its own notifier's records (its MSP is
		// recorded with the root) and read any member's anchors and claims.
		return []party{partyAnyMember}, true
	case OpAttachDocument:
		return []party{partyExporter, partyCustodian, partyBuyer}, true
	case OpShip, OpCancel, OpSetContact, OpReadContact, OpDeleteContact, OpOpenClaim, OpAttachPlots, OpErasePlots:
		return []party{partyExporter}, true
	case OpReadPlots:
		// Plot geometry and producer names are shared by the exporter and
		// the buyer who files the due-diligence statement, nobody else.
		return []party{partyExporter, partyBuyer}, true
	case OpRecordDueDiligence:
		return []party{partyBuyer}, true
	case OpHandOver, OpRecordReadings, OpRegisterSensors:
		return []party{partyCustodian}, true
	case OpDeliver, OpReject:
		return []party{partyBuyer}, true
	}
	return nil, false
}

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

// AuthorizeRole decides whether the caller's role lets it ask for op at all,
// before any shipment is read, so a caller refused by its role learns
// nothing about the ledger, not even whether a shipment exists. Authorize
// makes the same check first.
func AuthorizeRole(c Caller, op Operation) error {
	if _, ok := partiesFor(op); !ok {
		return Errorf(Forbidden, "operation %s is not known", op)
	}
	switch {
	case RoleAllows(c.Role, op):
		return nil
	case c.Role == "":
		return Errorf(Forbidden, "%s: the caller's certificate carries no %s attribute, and an identity without a role may do nothing (roles: %s); caller is %s",
			op, RoleAttribute, strings.Join(Roles, ", "), c.MSPID)
	case !KnownRole(c.Role):
		return Errorf(Forbidden, "role %q may not %s: it is not a shiptrace role (%s); caller is %s",
			c.Role, op, strings.Join(Roles, ", "), c.MSPID)
	}
	ops := make([]string, len(roleOps[c.Role]))
	for i, o := range roleOps[c.Role] {
		ops[i] = string(o)
	}
	return Errorf(Forbidden, "role %s may not %s; it may only %s; caller is %s",
		c.Role, op, strings.Join(ops, ", "), c.MSPID)
}

// Authorize decides whether caller may perform op on s (nil for creation and
// listing). It is a pure function of the caller's organisation and role, the
// shipment and the operation, so the contract, the gateway and tests all ask
// the same question. The role is checked first; then the organisation must
// hold the position op needs on s. A refusal is a FORBIDDEN *Error that names
// the caller's role and says who may do it.
func Authorize(c Caller, s *Shipment, op Operation) error {
	if err := AuthorizeRole(c, op); err != nil {
		return err
	}
	if c.MSPID == "" {
		return Errorf(Forbidden, "%s: the caller has no MSP ID", op)
	}
	parties, _ := partiesFor(op)
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
	return Errorf(Forbidden, "%s%s: only the %s may do this; caller is %s", op, id, joinOr(names), c)
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
