// Package epcis translates between the shiptrace contract and GS1 EPCIS 2.0
// (JSON-LD, with the Core Business Vocabulary 2.0): a shipment's committed
// history and readings become ObjectEvents (Export), and ObjectEvents a
// partner's system sends become contract operations (Capture). It knows the
// domain (shipment/) and GS1 identifiers, not Fabric or HTTP; how members,
// products and sensors are named is configuration (Identifiers). The
// mapping and its reasons are in gateway/README.md, "EPCIS 2.0".
package epcis
