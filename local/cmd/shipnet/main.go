// Command shipnet runs the local shiptrace consortium network:
//
//	shipnet up       build if needed, create crypto and channel, start, deploy
//	                 (--hosts: each organisation and orderer on its own host)
//	shipnet down     stop everything and delete the network's data
//	shipnet stop     stop every process, keep all data
//	shipnet start    start a stopped network again
//	shipnet status   each process: up or down, channel height, memory
//	shipnet deploy   package, install, approve and commit the next chaincode version
//	shipnet build    build the pinned Fabric binaries (and helpers) only
//	shipnet package --version V --out FILE
//	                 write the chaincode package every member installs (from
//	                 this checkout) and print its package ID; needs no network
//	shipnet systemd --org MSPID --out DIR
//	                 write systemd units for one member's processes
//	shipnet identity issue|reenroll|revoke|list --org MSPID [--name N] [--role R]
//	                 manage identities at the org's Fabric CA; revoke also puts
//	                 the CRL into the channel configuration
//	shipnet org add --name NAME --role carrier|exporter|retailer
//	                 a new member joins the running hosts network: its host,
//	                 CA, peer, chaincode server and gateway; the channel update
//	                 signed by a majority of the members' admins one by one;
//	                 the chaincode definition and member registry that name it
//	shipnet org remove --name NAME
//	                 a member that joined leaves: registry, endorsement policy
//	                 and channel configuration without it; its host goes
//
// Settings come from flags or SHIPTRACE_HOME / SHIPTRACE_BASE_PORT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shiptrace/shiptrace/local/localnet"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/network/systemd"
	"github.com/shiptrace/shiptrace/shipment"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "shipnet:", err)
		var exit exitCode
		if errors.As(err, &exit) {
			os.Exit(int(exit))
		}
		os.Exit(1)
	}
}

type exitCode int

func (e exitCode) Error() string {
	return "not every process is up (exit status " + strconv.Itoa(int(e)) + ")"
}

func run(args []string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repo, err := localnet.RepoRoot(wd)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("shipnet", flag.ContinueOnError)
	home := fs.String("home", envOr("SHIPTRACE_HOME", filepath.Join(repo, ".shiptrace")), "data directory (env SHIPTRACE_HOME)")
	base := fs.Int("base-port", envInt("SHIPTRACE_BASE_PORT", topology.DefaultBasePort), "first port of the network's port block (env SHIPTRACE_BASE_PORT)")
	cache := fs.String("cache", envOr("SHIPTRACE_CACHE", filepath.Join(repo, ".cache")), "build cache (env SHIPTRACE_CACHE)")
	batch := fs.Duration("batch-timeout", 100*time.Millisecond, "orderer batch timeout written into a new channel")
	version := fs.String("version", "", "deploy, package: chaincode version (deploy's default 1.<sequence-1>)")
	crypto := fs.String("crypto", envOr("SHIPTRACE_CRYPTO", localnet.CryptoCA), "crypto material for a new network: ca (a Fabric CA per org) or cryptogen (env SHIPTRACE_CRYPTO)")
	services := fs.Bool("services", envOr("SHIPTRACE_SERVICES", "true") == "true", "also run the gateway, notifier and WhatsApp stand-in (env SHIPTRACE_SERVICES)")
	logSpec := fs.String("log-spec", envOr("FABRIC_LOGGING_SPEC", "info"), "Fabric logging spec for the nodes")
	hosts := fs.Bool("hosts", false, "up: run every organisation and every orderer on a host of its own (a network namespace, as root); recorded, so later commands follow")
	profile := fs.Bool("pprof", envOr("SHIPTRACE_PPROF", "false") == "true", "up/start: serve pprof on each peer's and orderer's port+4, on loopback, for benchmarks (env SHIPTRACE_PPROF)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: shipnet [flags] up|down|stop|start|status|deploy|package|systemd|build|identity|org")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return errors.New("no command")
	}
	cmd, rest := args[0], args[1:]
	sub := ""
	if cmd == "identity" {
		if len(rest) == 0 {
			return errors.New("usage: shipnet identity issue|reenroll|revoke|list --org MSPID [--name N] [--role R]")
		}
		sub, rest = rest[0], rest[1:]
	}
	if cmd == "org" {
		if len(rest) == 0 || (rest[0] != "add" && rest[0] != "remove") {
			return errors.New("usage: shipnet org add --name NAME --role carrier|exporter|retailer, or shipnet org remove --name NAME")
		}
		sub, rest = rest[0], rest[1:]
	}
	org := fs.String("org", "", "identity, systemd: organisation MSP ID, e.g. ExporterMSP")
	name := fs.String("name", "", "identity: enrolment ID; org add: the new organisation's name, e.g. Carrier2 (MSP ID Carrier2MSP)")
	role := fs.String("role", "", "identity issue: shiptrace.role attribute; org add: the member's capacity (carrier, exporter, retailer)")
	idType := fs.String("type", "client", "identity issue: client, admin, peer or orderer")
	reason := fs.String("reason", "unspecified", "identity revoke: reason")
	out := fs.String("out", "", "package: the package file to write; systemd: the folder for the units")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	absHome, err := filepath.Abs(*home)
	if err != nil {
		return err
	}
	absCache, err := filepath.Abs(*cache)
	if err != nil {
		return err
	}
	n := &localnet.Network{
		Layout:       topology.Layout{BasePort: *base, Home: absHome},
		Repo:         repo,
		Cache:        absCache,
		BatchTimeout: *batch,
		LogSpec:      *logSpec,
		Crypto:       *crypto,
		Services:     *services,
		Profile:      *profile,
		Out:          os.Stdout,
	}
	// An existing network keeps the base port and crypto source it was created
	// with; `up --base-port` with another port is refused by Up.
	if st, err := n.LoadState(); err == nil {
		if !flagSet(fs, "base-port") {
			n.Layout.BasePort = st.BasePort
		}
		n.Crypto = st.Crypto
		if !flagSet(fs, "services") {
			n.Services = st.Services
		}
		n.Layout.Hosts = st.Hosts
	} else if *hosts && cmd == "up" {
		h, err := localnet.ChooseHosts(absHome)
		if err != nil {
			return err
		}
		n.Layout.Hosts = h
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "up":
		return n.Up(ctx)
	case "down":
		return n.Down(ctx)
	case "stop":
		return n.Stop(ctx)
	case "start":
		return n.Start(ctx)
	case "deploy":
		if err := n.EnsureChaincode(ctx); err != nil {
			return err
		}
		return n.Deploy(ctx, *version)
	case "build":
		return n.EnsureTools(ctx)
	case "org":
		if sub == "remove" {
			if *name == "" {
				return errors.New("org remove needs --name (as given to org add, e.g. Carrier2)")
			}
			return n.RemoveOrg(ctx, *name)
		}
		if *name == "" || *role == "" {
			return errors.New("org add needs --name (e.g. Carrier2) and --role (carrier, exporter or retailer)")
		}
		if err := n.CheckJoin(localnet.JoinRequest{Name: *name, Role: *role}); err != nil {
			return err // before a build: nothing to build for a refusal
		}
		if err := n.EnsureTools(ctx); err != nil {
			return err
		}
		return n.AddOrg(ctx, localnet.JoinRequest{Name: *name, Role: *role})
	case "systemd":
		o, ok := n.Layout.OrgByMSPID(*org)
		if !ok || o == topology.OrdererOrg || *out == "" {
			return fmt.Errorf("systemd needs --out and --org, one of %s (got %q)", mspIDs(n.Layout.PeerOrgs()), *org)
		}
		names, err := systemd.Write(systemd.Member{MSPID: o.MSPID, Notifier: o.MSPID == "ExporterMSP"}, *out)
		if err != nil {
			return err
		}
		for _, name := range names {
			fmt.Println(filepath.Join(*out, name))
		}
		return nil
	case "package":
		if *version == "" || *out == "" {
			return errors.New("package needs --version and --out")
		}
		id, err := n.WritePackage(ctx, *version, *out)
		if err != nil {
			return err
		}
		fmt.Println(id)
		return nil
	case "identity":
		o, ok := n.Layout.OrgByMSPID(*org)
		if !ok {
			return fmt.Errorf("identity needs --org, one of %s (got %q)", mspIDs(n.Layout.AllOrgs()), *org)
		}
		if sub != "list" && *name == "" {
			return fmt.Errorf("identity %s needs --name", sub)
		}
		if *role != "" && !shipment.KnownRole(*role) {
			return fmt.Errorf("unknown role %q: the contract knows %v", *role, shipment.Roles)
		}
		if err := n.EnsureIdentityTool(ctx); err != nil {
			return err
		}
		return n.Identity(ctx, sub, localnet.IdentityRequest{Org: o, Name: *name, Type: *idType, Role: *role, Reason: *reason}, os.Stdout)
	case "status":
		st := n.Status(ctx)
		localnet.PrintStatus(os.Stdout, st)
		for _, s := range st {
			if !s.Up {
				return exitCode(3)
			}
		}
		return nil
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

// mspIDs lists orgs' MSP IDs for an error message: the founding members
// and any that joined.
func mspIDs(orgs []topology.Org) string {
	ids := make([]string, len(orgs))
	for i, o := range orgs {
		ids[i] = o.MSPID
	}
	return strings.Join(ids, ", ")
}
