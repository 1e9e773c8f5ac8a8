// Command refcc is the benchmarks' reference chaincode: one transaction,
// Put(key, value), that writes one key and nothing else, with the bare shim
// (no contract API, no validation, no event). BenchmarkCreateShipmentCPU
// deploys it beside shiptrace (localnet.DeployExtra) and measures
// CreateShipment's cost against it on the same network: what remains is the
// floor any transaction pays (endorsement, ordering, validation, commit).
//
// It runs as a chaincode server with the environment of shiptrace's
// (CHAINCODE_SERVER_ADDRESS, CHAINCODE_ID, CHAINCODE_TLS_CERT,
// CHAINCODE_TLS_KEY, CHAINCODE_TLS_CLIENT_CA) and, when
// CHAINCODE_PPROF_ADDRESS is set, serves net/http/pprof there.
package main

import (
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof" // served only on CHAINCODE_PPROF_ADDRESS
	"os"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

func main() {
	if err := run(); err != nil {
		log.Fatalf("refcc: %v", err)
	}
}

func run() error {
	if addr := os.Getenv("CHAINCODE_PPROF_ADDRESS"); addr != "" {
		go func() { log.Printf("refcc: pprof: %v", http.ListenAndServe(addr, nil)) }()
	}
	tls, err := tlsFromEnv()
	if err != nil {
		return err
	}
	server := &shim.ChaincodeServer{CCID: os.Getenv("CHAINCODE_ID"), Address: os.Getenv("CHAINCODE_SERVER_ADDRESS"), CC: putter{}, TLSProps: tls}
	return server.Start()
}

// tlsFromEnv reads the server's TLS pair and the CA its clients (the peer)
// must chain to; without a pair TLS is off.
func tlsFromEnv() (shim.TLSProperties, error) {
	files := map[string][]byte{}
	for _, k := range []string{"CHAINCODE_TLS_CERT", "CHAINCODE_TLS_KEY", "CHAINCODE_TLS_CLIENT_CA"} {
		if path := os.Getenv(k); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return shim.TLSProperties{}, fmt.Errorf("read %s: %w", k, err)
			}
			files[k] = b
		}
	}
	if files["CHAINCODE_TLS_CERT"] == nil {
		return shim.TLSProperties{Disabled: true}, nil
	}
	return shim.TLSProperties{Cert: files["CHAINCODE_TLS_CERT"], Key: files["CHAINCODE_TLS_KEY"], ClientCACerts: files["CHAINCODE_TLS_CLIENT_CA"]}, nil
}

// putter writes one key per transaction.
type putter struct{}

func (putter) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (putter) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	if fn != "Put" || len(args) != 2 {
		return shim.Error("want Put(key, value)")
	}
	if err := stub.PutState(args[0], []byte(args[1])); err != nil {
		return shim.Error(fmt.Sprintf("put %s: %v", args[0], err))
	}
	return shim.Success(nil)
}
