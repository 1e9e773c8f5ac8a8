// Package fabric is shiptrace's one adapter to Hyperledger Fabric, and the
// only package that speaks to Fabric's gRPC services. The gateway, the
// notifier and the tests reach peers, orderers and CAs through it, so that
// connection material (the connection profile, MSP folders, TLS roots and
// client pairs), timeouts, failover and the reading of the contract's error
// codes are written once: a fix to how a refusal is recognised or how a peer
// is dialled reaches every client at the same time.
//
// One file per concept, as fabric-gateway's pkg/client: profile.go (the
// connection profile), member.go (an identity and its peers), identity.go
// (signing identities, MSP folders), tls.go (TLS and dialling), connect.go (a
// bare fabric-gateway connection), client.go (members, options, failover
// across an organisation's peers), transaction.go (evaluate, submit, the
// pending transaction and its retries), readiness.go (readiness and
// read-your-writes across members), errors.go (classification), ledger.go
// (ledger lookups via qscc), metrics.go.
package fabric
