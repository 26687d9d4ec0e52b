package main

import (
	"errors"
	"fmt"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/xtrule"
	"github.com/l3dsr/l3dsr/realserver"
	"github.com/spf13/cobra"
)

// rsManager is what the realserver commands use of realserver.Manager.
type rsManager = config.RealServerHost

// openRealServer gives the manager of this network namespace. Every command
// checks its command line before calling it.
func openRealServer(need func() error) (*realserver.Manager, error) {
	if err := need(); err != nil {
		return nil, err
	}
	return realserver.Open()
}

func newRealServerCmd(sys *system) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "realserver",
		Short: "Set up, tear down and check a real server's VIPs (dscp, addr, ipip or dr mode)",
		Long: `The realserver commands do the whole real-server side of L3 DSR for one VIP at a
time, through netlink (no ip, sysctl or nft commands):

  dscp mode (default): the VIP on lo, ARP kept quiet about it, rp_filter loose,
    the one map-mode rule (iptables -t raw -A PREROUTING -j DADDR --map) and the
    mapping DSCP [+ local address] -> VIP in xt_DADDR's table. A VIP may have
    several codes (up to 63): 'up' with another --dscp adds one, 'down --dscp'
    takes one off, and the VIP stays up while it has a code.
  addr mode: as dscp mode, but the VIP is known by the address the director
    NATs to (its RIP, put on the receiving interface) with any DSCP, so DSCP
    and ECN pass through untouched.
  ipip mode: the VIP on lo, ARP kept quiet about it, tunl0 (IPv4) or ip6tnl0
    (IPv6) up, rp_filter off on tunl0 and conf/all (every other interface keeps
    its effective value), and the MSS of the VIP's SYN-ACKs clamped (nftables
    table inet l3dsr_rs) to what fits through the tunnel.
  dr mode (L2 DSR, the director on this server's link): the VIP on lo and ARP
    kept quiet about it, nothing else.

'up' is idempotent and all or nothing; 'down' undoes exactly what 'up' did
(what was there before stays); 'show' lists the VIPs and exits 1 if anything
differs from what 'up' set up. The record lives in /run/l3dsr/netns-INODE/
($` + realserver.StateDirEnv + ` overrides /run/l3dsr). See docs/realserver.md.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return usageErrorf("'l3dsr realserver' needs a subcommand: up, down or show")
		},
	}
	cmd.AddCommand(newRealServerUpCmd(sys), newRealServerDownCmd(sys), newRealServerShowCmd(sys))
	return cmd
}

func newRealServerUpCmd(sys *system) *cobra.Command {
	var variant xtrule.VariantFlag
	c := realserver.Config{Mode: dsrtypes.ModeDSCP}
	var vip, local, rip dsrtypes.Addr
	var dscp, set dsrtypes.DSCP
	var ingress *realserver.Ingress
	cmd := &cobra.Command{
		Use:   "up --vip ADDR [--dscp N] [--local ADDR] [--mode dscp|addr|ipip|dr] [--rip ADDR] [--dev IF] [--set-dscp N] [--mss N] [--ingress IFACE,...] [--backend module|bpf|auto]",
		Short: "Set a VIP up on this real server (again: repair what is missing)",
		Example: `  l3dsr realserver up --vip 10.0.0.1 --dscp 21
  l3dsr realserver up --vip 10.0.0.1 --dscp 22    # a second code for the VIP
  l3dsr realserver up --vip 10.0.0.1 --dscp 21 --ingress eth0    # coded packets only from eth0
  l3dsr realserver up --vip 2001:db8::1 --dscp 22 --local 2001:db8:e::30
  l3dsr realserver up --vip 10.0.0.4 --mode addr --rip 192.0.2.50 --set-dscp 0
  l3dsr realserver up --vip 10.0.0.2 --mode ipip
  l3dsr realserver up --vip 10.0.0.3 --mode dr`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if !fl.Changed("vip") {
				return usageErrorf("--vip is missing: give the VIP to set up, e.g. --vip 10.0.0.1")
			}
			if c.VIP, c.Local, c.RIP = vip.Addr, local.Addr, rip.Addr; fl.Changed("dscp") {
				c.DSCP = (*uint8)(&dscp)
			}
			if fl.Changed("set-dscp") {
				c.SetDSCP = (*uint8)(&set)
			}
			if err := c.Validate(); err != nil {
				return &usageError{err}
			}
			v, err := variant.Variant()
			if err != nil {
				return &usageError{err}
			}
			return sys.withRealServer(func(m rsManager) error {
				a, err := m.UpIngress(cmd.Context(), c, v, ingress)
				if err != nil {
					return err
				}
				realserver.WriteApplied(cmd.OutOrStdout(), "set up", a)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.Var(addrFlag("--vip", &vip), "vip", "the VIP (IPv4 or IPv6)")
	fl.Var(&dscp, "dscp", "dscp mode: the DSCP code that stands for the VIP, 0-63 (decimal or hex); a VIP set up already gets it beside its codes")
	fl.Var(&local, "local", "dscp mode: map the code only for packets to this local address (default: any)")
	fl.Var(&c.Mode, "mode", "dscp, addr, ipip or dr")
	fl.Var(addrFlag("--rip", &rip), "rip", "addr mode: this server's address that stands for the VIP (required; added as a host address unless on an interface already)")
	fl.StringVar(&c.Dev, "dev", "", "addr mode: the interface to put --rip on (default: that of the route to it)")
	fl.Var(&set, "set-dscp", "dscp and addr modes: the DSCP the VIP's packets leave the rewrite with, 0-63 (ECN kept); default: unchanged")
	fl.Var(&dsrtypes.Flag{Value: dsrtypes.Parsed[uint16]{Dst: &c.MSS, Parse: dsrtypes.ParseMSS, Name: "bytes"}, Prefix: "--mss "}, "mss", "ipip mode: clamp the VIP's SYN-ACKs to this MSS (default: interface MTU - 60 for IPv4, - 100 for IPv6)")
	fl.Var(&variant, "iptables", "iptables variant for the map-mode rule: default, legacy or nft (default $"+xtrule.VariantEnv+", else the system's)")
	fl.Var(&c.Backend, "backend", "dscp and addr modes: module (xt_DADDR), bpf (tc-BPF, no module) or auto (the module if it loads, else bpf) (default: the one in use, else module)")
	fl.Var(realserver.IngressFlag(&ingress), "ingress", "limit the map-mode rule (host-wide, every VIP's) to packets in on these interfaces; any: no limit (default: keep the host's list)")
	return cmd
}

func newRealServerDownCmd(sys *system) *cobra.Command {
	var vip dsrtypes.Addr
	var dscp dsrtypes.DSCP
	cmd := &cobra.Command{
		Use:   "down --vip ADDR [--dscp N]",
		Short: "Undo what 'realserver up' did for a VIP (or for one of its codes), and only that",
		Long: `Undo what 'realserver up' did for a VIP: an address, sysctl, rule, mapping or
tunnel device that was there before 'up' stays; a shared setting is restored
only when no other VIP set up by 'up' needs it, and only if nobody changed it
since; anything left alone is said so.

With --dscp, only that code's mapping goes, and the VIP stays up for its other
codes (a VIP moving to a new code: 'up' the new code, move the directors, then
'down --dscp' the old one). Its last code takes the VIP down. A code the VIP
does not have is a usage error (exit 2) that lists its codes.`,
		Example: `  l3dsr realserver down --vip 10.0.0.1
  l3dsr realserver down --vip 10.0.0.1 --dscp 21`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("vip") {
				return usageErrorf("--vip is missing: give the VIP to take down ('l3dsr realserver show' lists them)")
			}
			return sys.withRealServer(func(m rsManager) error {
				var res realserver.Applied
				var err error
				if cmd.Flags().Changed("dscp") {
					res, err = m.DownCode(cmd.Context(), vip.Addr, uint8(dscp))
				} else {
					res, err = m.Down(cmd.Context(), vip.Addr)
				}
				realserver.WriteApplied(cmd.OutOrStdout(), "took down", res)
				if errors.Is(err, realserver.ErrNoSuchCode) {
					return &usageError{err}
				}
				return err
			})
		},
	}
	cmd.Flags().Var(addrFlag("--vip", &vip), "vip", "the VIP to take down")
	cmd.Flags().Var(&dscp, "dscp", "take only this code off the VIP (dscp mode), 0-63; the VIP stays up for its other codes")
	return cmd
}

func newRealServerShowCmd(sys *system) *cobra.Command {
	var variant xtrule.VariantFlag
	cmd := outputCmd(&cobra.Command{
		Use:   "show [-o table|json]",
		Short: "List the VIPs set up here and everything that differs from the setup (exit 1 if so)",
	}, func(cmd *cobra.Command, output string) error {
		v, err := variant.Variant()
		if err != nil {
			return &usageError{err}
		}
		return sys.withRealServer(func(m rsManager) error {
			rep, err := m.Show(cmd.Context(), v)
			if err != nil {
				return hostError(fmt.Errorf("reading the real server's VIPs: %w", err))
			}
			if err := sys.realServerPieces(cmd.Context(), v, rep.Configs(), false); err != nil {
				return err
			}
			if err := realserver.WriteReport(cmd.OutOrStdout(), rep, output); err != nil {
				return err
			}
			return rep.Err()
		})
	})
	cmd.Flags().Var(&variant, "iptables", "iptables variant to look for a map-mode rule 'up' did not append: default, legacy or nft (default $"+xtrule.VariantEnv+")")
	return cmd
}

func (h *hostSystem) withRealServer(fn func(m rsManager) error) error {
	m, err := h.openRealServer()
	if err != nil {
		return hostError(err)
	}
	defer m.Close()
	return fn(m)
}
