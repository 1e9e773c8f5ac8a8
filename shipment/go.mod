// The domain model: shipment rules, cold-chain evaluation, validation and
// events. It imports nothing outside the standard library, so that the
// chaincode module and the services' module can both depend on it without
// pulling each other's dependencies.
module github.com/shiptrace/shiptrace/shipment

go 1.26.0
