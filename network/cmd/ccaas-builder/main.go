// Command ccaas-builder is the peer's external builder for chaincode-as-a-
// service packages. Install it as bin/detect, bin/build and bin/release (links
// to one binary); it acts by the name it was started under, as Fabric calls
// each program by path. The peer must pass it ccaas.ConfigEnv
// (propagateEnvironment in core.yaml's externalBuilders entry).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/shiptrace/shiptrace/network/ccaas"
)

func main() {
	if err := run(filepath.Base(os.Args[0]), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ccaas-builder:", err)
		os.Exit(1)
	}
}

func run(name string, args []string) error {
	if name == "ccaas-builder" && len(args) > 0 { // ccaas-builder detect ... for manual use
		name, args = args[0], args[1:]
	}
	switch name {
	case "detect":
		if len(args) != 2 {
			return fmt.Errorf("usage: detect SOURCE METADATA")
		}
		return ccaas.Detect(args[1])
	case "build":
		if len(args) != 3 {
			return fmt.Errorf("usage: build SOURCE METADATA OUTPUT")
		}
		config, err := ccaas.ParseConfig(os.Getenv(ccaas.ConfigEnv))
		if err != nil {
			return err
		}
		return ccaas.Build(args[0], args[1], args[2], config)
	case "release":
		if len(args) != 2 {
			return fmt.Errorf("usage: release BUILD RELEASE")
		}
		return ccaas.Release(args[0], args[1])
	}
	return fmt.Errorf("unknown program name %q: want detect, build or release", name)
}
