package network_test

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"
)

// statusOf extracts the per-peer error details of a gateway error.
func statusOf(err error) ([]string, bool) {
	var gs interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &gs) {
		return nil, false
	}
	var out []string
	for _, d := range gs.GRPCStatus().Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			out = append(out, fmt.Sprintf("%s (%s): %s", ed.GetAddress(), ed.GetMspId(), ed.GetMessage()))
		}
	}
	return out, len(out) > 0
}
