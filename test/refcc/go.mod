// The benchmarks' reference chaincode is its own module, like the contract
// (chaincode/): its dependency versions are the contract's, not the
// services'.
module github.com/shiptrace/shiptrace/test/refcc

go 1.26.0

require (
	github.com/hyperledger/fabric-chaincode-go/v2 v2.0.0
	github.com/hyperledger/fabric-protos-go-apiv2 v0.3.4
)

require (
	golang.org/x/net v0.28.0 // indirect
	golang.org/x/sys v0.24.0 // indirect
	golang.org/x/text v0.17.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20240814211410-ddb44dafa142 // indirect
	google.golang.org/grpc v1.67.0 // indirect
	google.golang.org/protobuf v1.36.8 // indirect
)
