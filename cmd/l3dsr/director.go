package main

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/spf13/cobra"
)

// directorAPI is what the director commands use of *director.Director.
type directorAPI interface {
	director.Changer
	Show() (director.Status, error)
	drainAPI
}

// openDirector connects to IPVS, nftables and rtnetlink of the current
// network namespace.
func openDirector(need func() error) (directorAPI, func() error, error) {
	if err := need(); err != nil {
		return nil, nil, err
	}
	d, closeFn, err := director.Open()
	if err != nil {
		return nil, nil, err
	}
	return d, closeFn, nil
}

func (h *hostSystem) withDirector(fn func(d directorAPI) error) error {
	d, closeFn, err := h.openDirector()
	if err != nil {
		return hostError(err)
	}
	defer closeFn()
	return fn(d)
}

// changeCmd makes cmd a director command that changes something: prep
// checks the command line (its error, touching nothing, is a usage error)
// and gives the change, which runs on the director; what it did is printed.
func changeCmd(sys *system, cmd *cobra.Command, prep func(*cobra.Command) (func(directorAPI) (director.Result, error), error)) *cobra.Command {
	cmd.Args = cobra.NoArgs
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		change, err := prep(cmd)
		if err != nil {
			return &usageError{err}
		}
		return sys.withDirector(func(d directorAPI) error {
			r, err := change(d)
			director.WriteResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), r, err)
			if errors.Is(err, director.ErrNotConnected) {
				// The real given cannot work in mode dr: the command line's fault.
				return &usageError{err}
			}
			return err
		})
	}
	return cmd
}

func newDirectorCmd(sys *system) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "director",
		Short: "Set up IPVS services, real servers and DSCP marks (on a director)",
		Long: `The director commands set up an L3 DSR director in the current network
namespace: IPVS services and real servers over generic netlink, the DSCP mark
of each service in the nftables table 'inet l3dsr', the VIP on lo, and the
sysctls IPVS needs for one-way flows. No ipvsadm, iptables or sysctl command is
needed besides.

Each service runs in one of three modes:
  dscp  IPVS masquerade to the real server's address, plus the service's DSCP
        code; the real server's xt_DADDR puts the VIP back ('l3dsr realserver
        up --vip VIP --dscp N' there). No header bytes are added.
  ipip  IPVS tunnel mode: IPIP (IPv4) or IP6IP6 (IPv6) encapsulation; the real
        server decapsulates ('l3dsr realserver up --vip VIP --mode ipip').
  dr    IPVS direct routing (L2 DSR): the packet goes unchanged to the real
        server's MAC, so every real server must be on a subnet of one of the
        director's links ('l3dsr realserver up --vip VIP --mode dr').

Every command prints what it changed; running it again changes nothing.`,
	}
	svc := &cobra.Command{Use: "service", Short: "Add, edit or delete a virtual service"}
	svc.AddCommand(newDirServiceAddCmd(sys), newDirServiceEditCmd(sys), newDirServiceDelCmd(sys))
	real := &cobra.Command{Use: "real", Short: "Add, edit, delete, drain or undrain a real server of a service"}
	real.AddCommand(newDirRealAddCmd(sys), newDirRealEditCmd(sys), newDirRealDelCmd(sys), newDirRealDrainCmd(sys), newDirRealUndrainCmd(sys))
	cmd.AddCommand(svc, real, newDirShowCmd(sys), newDirMaintenanceCmd(sys))
	return cmd
}

// keyFlags are the flags that name a service.
type keyFlags struct {
	vip     netip.AddrPort
	vipFlag dsrtypes.Flag
	proto   dsrtypes.Proto
}

func (f *keyFlags) add(cmd *cobra.Command) {
	f.vipFlag = dsrtypes.Flag{Value: dsrtypes.Parsed[netip.AddrPort]{Dst: &f.vip, Parse: dsrtypes.ParseAddrPort, Name: "vip:port"}, Prefix: "--vip "}
	f.proto = dsrtypes.TCP
	cmd.Flags().Var(&f.vipFlag, "vip", "the service: VIP:PORT, e.g. 10.0.0.1:80 or [2001:db8::1]:80 (required)")
	// The protocols' names come from dsrtypes, whose parser reads them.
	cmd.Flags().Var(&f.proto, "proto", fmt.Sprintf("protocol: %s, %s or %s", dsrtypes.TCP, dsrtypes.UDP, dsrtypes.SCTP))
}

func (f *keyFlags) key() (director.Key, error) {
	return director.KeyOf(f.vip, f.vipFlag.String(), f.proto)
}

type change = func(directorAPI) (director.Result, error)

// given calls set of each flag given.
func given(cmd *cobra.Command, set map[string]func()) {
	for name, fn := range set {
		if cmd.Flags().Changed(name) {
			fn()
		}
	}
}

func newDirServiceAddCmd(sys *system) *cobra.Command {
	var kf keyFlags
	var dscp dsrtypes.DSCP
	s := director.Service{Mode: dsrtypes.ModeDSCP}
	cmd := changeCmd(sys, &cobra.Command{
		Use:   "add --vip VIP:PORT [--proto tcp] (--dscp N | --mode addr|ipip|dr|nat) [--scheduler wlc] [--persistent SECONDS]",
		Short: "Add a virtual service",
		Example: `  l3dsr director service add --vip 10.0.0.1:80 --proto tcp --dscp 10 --scheduler wlc --persistent 300
  l3dsr director service add --vip [2001:db8::1]:53 --proto udp --mode ipip --scheduler mh
  l3dsr director service add --vip 10.0.0.2:443 --mode addr   # then: real add --real RIP, the VIP's own address on each real server`,
	}, func(cmd *cobra.Command) (change, error) {
		var err error
		if s.Key, err = kf.key(); err != nil {
			return nil, err
		}
		s.DSCP = uint8(dscp)
		return func(d directorAPI) (director.Result, error) { return d.AddService(s) }, s.CheckNew(cmd.Flags().Changed("dscp"))
	})
	kf.add(cmd)
	cmd.Flags().Var(&s.Mode, "mode", "how packets reach the real servers: dscp (L3 DSR), addr (L3 DSR to the VIP's own address on each real, no DSCP), ipip (IPVS tunnel), dr (IPVS direct routing) or nat (plain LVS-NAT)")
	cmd.Flags().Var(&dscp, "dscp", "the DSCP code (0-63) that stands for the VIP (mode dscp)")
	cmd.Flags().StringVar(&s.Scheduler, "scheduler", director.DefaultScheduler, "IPVS scheduler: wlc, rr, wrr, lc, sh, mh, ... (any the kernel has)")
	cmd.Flags().Uint32Var(&s.Persistent, "persistent", 0, "persistence timeout in seconds: a client sticks to one real server (0: off)")
	return cmd
}

func newDirServiceEditCmd(sys *system) *cobra.Command {
	var kf keyFlags
	var dscp dsrtypes.DSCP
	var sched string
	var persistent uint32
	cmd := changeCmd(sys, &cobra.Command{
		Use:   "edit --vip VIP:PORT [--proto tcp] [--dscp N] [--scheduler S] [--persistent SECONDS]",
		Short: "Change a service's DSCP code, scheduler or persistence",
	}, func(cmd *cobra.Command) (change, error) {
		k, err := kf.key()
		if err != nil {
			return nil, err
		}
		var e director.ServiceEdit
		given(cmd, map[string]func(){
			"dscp":       func() { e.DSCP = (*uint8)(&dscp) },
			"scheduler":  func() { e.Scheduler = &sched },
			"persistent": func() { e.Persistent = &persistent },
		})
		return func(d directorAPI) (director.Result, error) { return d.EditService(k, e) }, e.Check()
	})
	kf.add(cmd)
	cmd.Flags().Var(&dscp, "dscp", "new DSCP code (0-63)")
	cmd.Flags().StringVar(&sched, "scheduler", "", "new IPVS scheduler")
	cmd.Flags().Uint32Var(&persistent, "persistent", 0, "new persistence timeout in seconds (0: off)")
	return cmd
}

func newDirServiceDelCmd(sys *system) *cobra.Command {
	var kf keyFlags
	cmd := changeCmd(sys, &cobra.Command{
		Use:   "del --vip VIP:PORT [--proto tcp]",
		Short: "Delete a service, its real servers and its DSCP mark",
	}, func(*cobra.Command) (change, error) {
		k, err := kf.key()
		return func(d directorAPI) (director.Result, error) { return d.DelService(k) }, err
	})
	kf.add(cmd)
	return cmd
}
