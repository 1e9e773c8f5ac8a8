// The domain model: shipment rules, cold-chain evaluation, validation and
// events. It imports nothing outside the standard library but
// tidwall/geodesic (itself dependency-free, for EUDR plot areas on the
// ellipsoid), so that the chaincode module and the services' module can both
// depend on it without pulling each other's dependencies.
module github.com/shiptrace/shiptrace/shipment

go 1.26.0

require github.com/tidwall/geodesic v0.3.0
