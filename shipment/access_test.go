package shipment

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// partyMatrix is who may do what by position alone (no role), on a shipment
// in transit where the exporter, the custodian (carrier), the buyer and an
// outsider are four different organisations.
var partyMatrix = map[Operation][]string{
	OpCreate:          {"exporter", "custodian", "buyer", "outsider"},
	OpSetContact:      {"exporter"},
	OpAttachDocument:  {"exporter", "custodian", "buyer"},
	OpShip:            {"exporter"},
	OpHandOver:        {"custodian"},
	OpRecordReadings:  {"custodian"},
	OpRegisterSensors: {"custodian"},
	OpDeliver:         {"buyer"},
	OpReject:          {"buyer"},
	OpCancel:          {"exporter"},
	OpFlagOverdue:     {"exporter", "custodian", "buyer", "outsider"},
	OpRead:            {"exporter", "custodian", "buyer", "outsider"},
	OpList:            {"exporter", "custodian", "buyer", "outsider"},
	OpHistory:         {"exporter", "custodian", "buyer", "outsider"},
	OpReadings:        {"exporter", "custodian", "buyer", "outsider"},
	OpReadContact:     {"exporter"},
	OpDeleteContact:   {"exporter"},
	OpReadMembers:     {"exporter", "custodian", "buyer", "outsider"},
	OpApproveMembers:  {"exporter", "custodian", "buyer", "outsider"}, // the registry's own rules decide
	OpCommitMembers:   {"exporter", "custodian", "buyer", "outsider"},

	// Proof of notification: any member anchors its own notifier's roots.
	OpAnchorNotifications: {"exporter", "custodian", "buyer", "outsider"},
	OpReadAnchor:          {"exporter", "custodian", "buyer", "outsider"},
	OpOpenClaim:           {"exporter"},
	OpClaims:              {"exporter", "custodian", "buyer", "outsider"},

	OpAttachPlots:        {"exporter"},
	OpReadPlots:          {"exporter", "buyer"},
	OpErasePlots:         {"exporter"},
	OpRecordDueDiligence: {"buyer"},
}

// roleMatrix is the documented role matrix (chaincode/README.md): which
// roles may ask for each operation. A certificate without the attribute ("")
// is in no row: it may do nothing. A role that may ask still needs its
// organisation's position.
var roleMatrix = map[Operation][]string{
	OpCreate:          {RoleAdmin, RoleGateway, RoleExporterOperator},
	OpSetContact:      {RoleAdmin, RoleGateway, RoleExporterOperator},
	OpAttachDocument:  {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver},
	OpShip:            {RoleAdmin, RoleGateway, RoleExporterOperator},
	OpHandOver:        {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator},
	OpRecordReadings:  {RoleAdmin, RoleGateway, RoleCarrierOperator, RoleSensor},
	OpRegisterSensors: {RoleAdmin, RoleGateway, RoleCarrierOperator},
	OpDeliver:         {RoleAdmin, RoleGateway, RoleBuyerReceiver},
	OpReject:          {RoleAdmin, RoleGateway, RoleBuyerReceiver},
	OpCancel:          {RoleAdmin, RoleGateway, RoleExporterOperator},
	OpFlagOverdue:     {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver},
	OpRead:            {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver, RoleAuditor, RoleNotifier},
	OpList:            {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver, RoleAuditor, RoleNotifier},
	OpHistory:         {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver, RoleAuditor},
	OpReadings:        {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver, RoleAuditor},
	OpReadContact:     {RoleAdmin, RoleGateway, RoleExporterOperator, RoleNotifier},
	OpDeleteContact:   {RoleAdmin, RoleGateway},
	OpReadMembers:     {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver, RoleAuditor, RoleNotifier},
	OpApproveMembers:  {RoleAdmin},
	OpCommitMembers:   {RoleAdmin},

	OpAnchorNotifications: {RoleAdmin, RoleGateway, RoleNotifier},
	OpReadAnchor:          {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver, RoleAuditor, RoleNotifier},
	OpOpenClaim:           {RoleAdmin, RoleGateway, RoleExporterOperator, RoleNotifier},
	OpClaims:              {RoleAdmin, RoleGateway, RoleExporterOperator, RoleCarrierOperator, RoleBuyerReceiver, RoleAuditor, RoleNotifier},
	OpAttachPlots:         {RoleAdmin, RoleGateway, RoleExporterOperator},
	OpReadPlots:           {RoleAdmin, RoleGateway, RoleExporterOperator, RoleBuyerReceiver},
	OpErasePlots:          {RoleAdmin, RoleGateway},
	OpRecordDueDiligence:  {RoleAdmin, RoleGateway, RoleBuyerReceiver},
}

// allRoles is every role value the tests try: none, each role, and values
// that are not roles.
var allRoles = append([]string{""}, append(slices.Clone(Roles), "intern", "Sensor", "viewer", "operator")...)

func TestMatricesCoverEveryOperation(t *testing.T) {
	for _, m := range []map[Operation][]string{partyMatrix, roleMatrix} {
		if len(m) != len(Operations) {
			t.Fatalf("matrix covers %d operations, Operations lists %d", len(m), len(Operations))
		}
		for _, op := range Operations {
			if _, ok := m[op]; !ok {
				t.Fatalf("matrix lacks %s", op)
			}
		}
	}
}

// TestAuthorizeRoleByPosition pins every role x operation x position: a
// caller may act exactly when its role allows the operation and its
// organisation holds the position the operation needs. A refusal is
// FORBIDDEN and names the caller's organisation and role.
func TestAuthorizeRoleByPosition(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	positions := []struct {
		name string
		msp  string
	}{{"exporter", exporterMSP}, {"custodian", carrierMSP}, {"buyer", buyerMSP}, {"outsider", outsiderMSP}}
	for _, role := range allRoles {
		for _, op := range Operations {
			for _, pos := range positions {
				name := role
				if name == "" {
					name = "no role"
				}
				t.Run(name+"/"+string(op)+"/"+pos.name, func(t *testing.T) {
					target := s
					if op == OpCreate || op == OpList {
						target = nil
					}
					c := Caller{MSPID: pos.msp, Role: role}
					err := Authorize(c, target, op)
					if slices.Contains(roleMatrix[op], role) && slices.Contains(partyMatrix[op], pos.name) {
						wantCode(t, err, "")
						return
					}
					wantCode(t, err, Forbidden)
					if !strings.Contains(err.Error(), pos.msp) {
						t.Fatalf("refusal %q does not name the caller's organisation", err)
					}
					if role == "" && !strings.Contains(err.Error(), "without a role") && !strings.Contains(err.Error(), "no "+RoleAttribute) {
						t.Fatalf("refusal %q does not say the certificate has no role", err)
					}
					if role != "" && !strings.Contains(err.Error(), "role "+role) && !strings.Contains(err.Error(), "role "+strconv.Quote(role)) {
						t.Fatalf("refusal %q does not name the role", err)
					}
				})
			}
		}
	}
}

func TestRoleAllowsMatchesMatrix(t *testing.T) {
	for _, role := range allRoles {
		for _, op := range Operations {
			if got, want := RoleAllows(role, op), slices.Contains(roleMatrix[op], role); got != want {
				t.Errorf("RoleAllows(%q, %s) = %v, want %v", role, op, got, want)
			}
			err := AuthorizeRole(Caller{MSPID: carrierMSP, Role: role}, op)
			if (err == nil) != slices.Contains(roleMatrix[op], role) {
				t.Errorf("AuthorizeRole(%q, %s) = %v", role, op, err)
			}
		}
	}
}

// TestRoleRefusalMessages pins the wording clients and people see: the role
// first, then what it may do.
func TestRoleRefusalMessages(t *testing.T) {
	s := inStatus(t, StatusShipped) // the exporter still holds the goods
	tests := []struct {
		name   string
		caller Caller
		target *Shipment
		op     Operation
		want   string
	}{
		{"sensor may not ship", Caller{MSPID: exporterMSP, Role: RoleSensor}, s, OpShip,
			"FORBIDDEN: role sensor may not Ship; it may only RecordReadings; caller is ExporterMSP"},
		{"sensor may not even read", Caller{MSPID: exporterMSP, Role: RoleSensor}, s, OpRead,
			"FORBIDDEN: role sensor may not ReadShipment; it may only RecordReadings; caller is ExporterMSP"},
		{"sensor records only for shipments its organisation holds", Caller{MSPID: carrierMSP, Role: RoleSensor}, s, OpRecordReadings,
			"FORBIDDEN: RecordReadings of shipment SHP-2026-0001: only the current custodian (ExporterMSP) may do this; caller is CarrierMSP with role sensor"},
		{"exporter operator may not erase the buyer contact", Caller{MSPID: exporterMSP, Role: RoleExporterOperator}, s, OpDeleteContact,
			"FORBIDDEN: role exporter_operator may not DeleteBuyerContact; it may only CreateShipment, SetBuyerContact, AttachDocument, Ship, HandOver, Cancel, FlagOverdue, BuyerContact, OpenClaim, ReadShipment, ListShipments, ShipmentHistory, Readings, Members, NotificationAnchor, Claims, AttachPlots, Plots; caller is ExporterMSP"},
		{"auditor may not read the buyer contact", Caller{MSPID: exporterMSP, Role: RoleAuditor}, s, OpReadContact,
			"FORBIDDEN: role auditor may not BuyerContact; it may only ReadShipment, ListShipments, ShipmentHistory, Readings, Members, NotificationAnchor, Claims; caller is ExporterMSP"},
		{"unknown role may do nothing", Caller{MSPID: carrierMSP, Role: "intern"}, s, OpRead,
			`FORBIDDEN: role "intern" may not ReadShipment: it is not a shiptrace role (exporter_operator, carrier_operator, sensor, buyer_receiver, auditor, gateway, notifier, admin); caller is CarrierMSP`},
		{"admin role does not widen the organisation's rights", Caller{MSPID: carrierMSP, Role: RoleAdmin}, s, OpDeliver,
			"FORBIDDEN: Deliver of shipment SHP-2026-0001: only the buyer (RetailerMSP) may do this; caller is CarrierMSP with role admin"},
		{"a refusal by position names the role", carrier, s, OpShip,
			"FORBIDDEN: Ship of shipment SHP-2026-0001: only the exporter (ExporterMSP) may do this; caller is CarrierMSP with role gateway"},
		{"no role may do nothing, not even read", Caller{MSPID: exporterMSP}, s, OpRead,
			"FORBIDDEN: ReadShipment: the caller's certificate carries no shiptrace.role attribute, and an identity without a role may do nothing (roles: exporter_operator, carrier_operator, sensor, buyer_receiver, auditor, gateway, notifier, admin); caller is ExporterMSP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Authorize(tt.caller, tt.target, tt.op)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Authorize = %v\nwant       %s", err, tt.want)
			}
		})
	}
}

func TestAuthorizeRefusesMalformedCalls(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	tests := []struct {
		name   string
		caller Caller
		op     Operation
	}{
		{"caller without an MSP ID", Caller{}, OpRead},
		{"caller with a role but no MSP ID", Caller{Role: RoleAuditor}, OpRead},
		{"unknown operation", exporter, Operation("Explode")},
		{"unknown operation for an admin", Caller{MSPID: exporterMSP, Role: RoleAdmin}, Operation("Explode")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, Authorize(tt.caller, s, tt.op), Forbidden)
		})
	}
}

func TestKnownRole(t *testing.T) {
	for _, r := range Roles {
		if !KnownRole(r) {
			t.Errorf("KnownRole(%q) = false", r)
		}
	}
	for _, r := range []string{"", "intern", "Sensor", " sensor", "viewer", "operator"} {
		if KnownRole(r) {
			t.Errorf("KnownRole(%q) = true", r)
		}
	}
}

// TestForbiddenBeforeConflict: a caller without the right learns nothing about
// the state from the error.
func TestForbiddenBeforeConflict(t *testing.T) {
	s := inStatus(t, StatusDelivered)
	wantCode(t, s.Ship(outsider, t0.Add(2*time.Hour)), Forbidden)
	wantCode(t, s.Ship(Caller{MSPID: exporterMSP, Role: RoleSensor}, t0.Add(2*time.Hour)), Forbidden)
	wantCode(t, s.Ship(exporter, t0.Add(2*time.Hour)), Conflict)
}
