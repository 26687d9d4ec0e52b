package realserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/l3dsr/l3dsr/internal/rtnl"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// Any host that reaches one of the server's addresses can set a DSR code
// and so reach a VIP's socket, around the director and its ACLs. Ingress
// limits the map-mode rules (host-wide: one for every VIP) to the
// interfaces the directors' packets come in on; the other defence is
// re-marking DSCP at the network's edge.

// Ingress is the interfaces the map-mode rules are limited to, sorted;
// empty means any interface.
type Ingress []string

// parseIngress reads a comma-separated list of interface names; "any" or
// an empty value is no limit.
func parseIngress(s string) (Ingress, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "any" {
		return nil, nil
	}
	return NewIngress(strings.Split(s, ","))
}

// NewIngress checks the names and sorts them; none is no limit.
func NewIngress(names []string) (Ingress, error) {
	var ing Ingress
	for _, n := range names {
		n = strings.TrimSpace(n)
		if err := xtrule.CheckIface(n); err != nil {
			return nil, fmt.Errorf("ingress interface %w", err)
		}
		if !slices.Contains(ing, n) {
			ing = append(ing, n)
		}
	}
	slices.Sort(ing)
	return ing, nil
}

func (i Ingress) String() string {
	if len(i) == 0 {
		return "any"
	}
	return strings.Join(i, ",")
}

// Set and Type make *Ingress a flag value (pflag.Value).
func (i *Ingress) Set(s string) (err error) {
	*i, err = parseIngress(s)
	return err
}

// Type is the flag's type in help.
func (i *Ingress) Type() string { return "ifaces" }

// IngressFlag is a flag value that sets *p to a new list when given, and
// leaves it nil (keep the host's list, as UpIngress reads it) otherwise.
func IngressFlag(p **Ingress) pflag.Value { return &ingressFlag{p} }

type ingressFlag struct{ p **Ingress }

func (f *ingressFlag) Set(s string) error {
	*f.p = new(Ingress)
	return (*f.p).Set(s)
}

func (f *ingressFlag) String() string {
	if *f.p == nil {
		return ""
	}
	return (*f.p).String()
}

func (f *ingressFlag) Type() string { return "ifaces" }

// checkLinks makes sure every interface of ing exists.
func (m *Manager) checkLinks(ing Ingress) error {
	for _, n := range ing {
		_, err := m.net.LinkByName(n)
		if errors.Is(err, rtnl.ErrNotFound) {
			return hostInputf("ingress interface %q does not exist here: give the interfaces the directors' packets come in on ('ip link' lists them), or any", n)
		}
		if err != nil {
			return fmt.Errorf("looking up ingress interface %s: %w", n, err)
		}
	}
	return nil
}

// UpIngress is Up that also limits the host's map-mode rules to *ing
// (empty: any interface), in the same all-or-nothing change; a nil ing
// keeps the list (Up). An interface the host lacks is an error matching
// ErrHostInput, before anything changes.
func (m *Manager) UpIngress(ctx context.Context, c Config, v xtrule.Variant, ing *Ingress) (Applied, error) {
	if ing != nil {
		if err := m.checkLinks(*ing); err != nil {
			return Applied{}, err
		}
	}
	return m.up(ctx, c, v, ing)
}

// UpIngress is Manager.UpIngress within the batch.
func (b *Batch) UpIngress(ctx context.Context, c Config, v xtrule.Variant, ing *Ingress) (Applied, error) {
	return b.m.UpIngress(ctx, c, v, ing)
}

// ingressStep is Up's step that moves the map-mode rules to ing: for each
// family whose rule Up appended, or that a VIP set up here needs, the new
// rules go in before the old ones go (Reshape), so that no coded packet on
// an allowed interface passes unrewritten meanwhile. v is the variant for
// a rule Up did not append itself; such a rule becomes Up's (Down removes
// the limited rules with the last VIP).
func (m *Manager) ingressStep(ctx context.Context, ing Ingress, v xtrule.Variant) func(*upRecord, *vipRecord, *txn) error {
	return func(s *upRecord, _ *vipRecord, t *txn) error {
		// Reshape runs even with the list as recorded: it repairs rules
		// someone changed (show says so), and changes nothing otherwise.
		old := s.Ingress
		for _, f := range []xtrule.Family{xtrule.IPv4, xtrule.IPv6} {
			fam := f.Name() // as famKey names it
			rc, ours := s.Rules[fam]
			if !ours && !needsRule(configs(s.VIPs), fam) {
				continue
			}
			rv := v
			if ours {
				rv = xtrule.Variant(rc.Variant)
			}
			if ok, err := m.newRules(rv, old).Exists(ctx, f); err != nil || !ok {
				if err != nil {
					return fmt.Errorf("looking for the map-mode rule: %w", err)
				}
				continue // Up appends it, limited, if a VIP needs it
			}
			changed, err := m.newRules(rv, ing).Reshape(ctx, f)
			if err != nil {
				return fmt.Errorf("limiting the %v map-mode rule to ingress %s: %w", f, ing, err)
			}
			if !ours {
				s.Rules[fam] = ruleChange{Variant: string(rv)}
			}
			if changed {
				t.did(fmt.Sprintf("limited the %v map-mode rule to ingress %s (was %s)", f, ing, old), func() error {
					_, err := m.newRules(rv, old).Reshape(ctx, f)
					return err
				})
			}
		}
		s.Ingress = ing
		return nil
	}
}

// ingressProblems checks that l3dsr's map-mode rules of each family are on
// the recorded list and nowhere else: an unlimited rule beside them, added
// by hand or by 'l3dsr rule add' where none was, lets coded packets in
// from every interface again.
func (m *Manager) ingressProblems(ctx context.Context, st upRecord) []Problem {
	if len(st.Ingress) == 0 || len(st.VIPs) == 0 || m.readRules == nil {
		return nil
	}
	all, err := m.readRules(ctx)
	if err != nil {
		return nil // Show reports that the rules could not be read
	}
	var out []Problem
	for _, f := range []xtrule.Family{xtrule.IPv4, xtrule.IPv6} {
		var on Ingress
		for _, r := range all {
			if r.Ours && r.Family == f {
				on = append(on, r.Ingress)
			}
		}
		slices.Sort(on)
		on = slices.Compact(on)
		if len(on) == 0 || slices.Equal(on, st.Ingress) {
			continue // no rule is show's other problem
		}
		where := strings.Join(on, ",")
		if on[0] == "" {
			where = "every interface"
		}
		out = append(out, Problem{
			What: fmt.Sprintf("the %v map-mode rules look up packets from %s, not from ingress %s alone: coded packets from other interfaces reach the VIPs", f, where, st.Ingress),
			Fix:  fmt.Sprintf("run '%s --ingress %s' (it puts the rules back on the list)", st.VIPs[0].first().upCommand(), st.Ingress),
		})
	}
	return out
}
