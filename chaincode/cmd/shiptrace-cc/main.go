// Command shiptrace-cc runs the shiptrace chaincode, either as a chaincode
// server (chaincode-as-a-service, when CHAINCODE_SERVER_ADDRESS is set) or in
// the classic mode where the peer launches it.
//
// Server mode environment:
//
//	CHAINCODE_SERVER_ADDRESS  listen address, e.g. 127.0.0.1:17033
//	CHAINCODE_ID              package ID, e.g. shiptrace_1.0:abc...
//	CHAINCODE_TLS_CERT        server certificate (PEM file); with CHAINCODE_TLS_KEY enables TLS
//	CHAINCODE_TLS_KEY         server private key (PEM file)
//	CHAINCODE_TLS_CLIENT_CA   CA (PEM file) that peer client certificates must chain to (mutual TLS)
//
// In both modes:
//
//	CHAINCODE_CLOCK_TOLERANCE how far a write's transaction time may be from this host's clock
//	                          (Go duration, default 5m); the host must keep its clock synchronised (NTP)
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/shiptrace/shiptrace/chaincode/contract"
	"github.com/shiptrace/shiptrace/shipment"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("chaincode stopped", slog.Any("error", err))
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	tolerance, err := clockTolerance(os.Getenv("CHAINCODE_CLOCK_TOLERANCE"))
	if err != nil {
		return err
	}
	cc, err := contractapi.NewChaincode(contract.New(log, contract.WithClock(time.Now, tolerance), contract.WithPackageID(packageID())))
	if err != nil {
		return fmt.Errorf("create chaincode: %w", err)
	}
	cc.Info.Title = "shiptrace"
	cc.Info.Version = "1.0.0"

	addr := os.Getenv("CHAINCODE_SERVER_ADDRESS")
	if addr == "" {
		log.Info("starting in peer-launched mode")
		return cc.Start()
	}
	server, err := serverFromEnv(addr, os.Getenv)
	if err != nil {
		return err
	}
	server.CC = cc
	log.Info("starting chaincode server", slog.String("address", addr), slog.String("ccid", server.CCID),
		slog.Bool("tls", !server.TLSProps.Disabled), slog.Bool("mutualTLS", len(server.TLSProps.ClientCACerts) > 0))
	return server.Start()
}

// packageID is the package the server runs for: CHAINCODE_ID as a chaincode
// server, the peer's CORE_CHAINCODE_ID_NAME when the peer launched it.
func packageID() string {
	if id := os.Getenv("CHAINCODE_ID"); id != "" {
		return id
	}
	return os.Getenv("CORE_CHAINCODE_ID_NAME")
}

// clockTolerance parses CHAINCODE_CLOCK_TOLERANCE; empty means the default.
func clockTolerance(v string) (time.Duration, error) {
	if v == "" {
		return shipment.DefaultClockTolerance, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("CHAINCODE_CLOCK_TOLERANCE=%q: want a positive Go duration such as 5m", v)
	}
	return d, nil
}

// serverFromEnv builds the chaincode server configuration. TLS is on when a
// certificate and key are given; a client CA turns on client-certificate
// verification, so only the peer can connect.
func serverFromEnv(addr string, getenv func(string) string) (*shim.ChaincodeServer, error) {
	ccid := getenv("CHAINCODE_ID")
	if ccid == "" {
		return nil, errors.New("CHAINCODE_ID must be set with CHAINCODE_SERVER_ADDRESS")
	}
	server := &shim.ChaincodeServer{CCID: ccid, Address: addr, TLSProps: shim.TLSProperties{Disabled: true}}
	certFile, keyFile, caFile := getenv("CHAINCODE_TLS_CERT"), getenv("CHAINCODE_TLS_KEY"), getenv("CHAINCODE_TLS_CLIENT_CA")
	if certFile == "" && keyFile == "" {
		if caFile != "" {
			return nil, errors.New("CHAINCODE_TLS_CLIENT_CA needs CHAINCODE_TLS_CERT and CHAINCODE_TLS_KEY")
		}
		return server, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("CHAINCODE_TLS_CERT and CHAINCODE_TLS_KEY must be set together")
	}
	cert, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CHAINCODE_TLS_CERT: %w", err)
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read CHAINCODE_TLS_KEY: %w", err)
	}
	server.TLSProps = shim.TLSProperties{Cert: cert, Key: key}
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CHAINCODE_TLS_CLIENT_CA: %w", err)
		}
		server.TLSProps.ClientCACerts = ca
	}
	return server, nil
}
