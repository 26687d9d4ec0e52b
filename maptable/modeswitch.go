package maptable

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/undo"
	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// ModeRules is the map-mode rule keeper a switch of the path needs.
type ModeRules interface {
	Rules
	Exists(ctx context.Context, f xtrule.Family) (bool, error)
}

// errNoModes is SwitchMode's error for a table that has no paths at all.
var errNoModes = errors.New("this table has no map path to switch: it is not the xt_DADDR module's")

// SwitchMode makes m the path of t's namespace, in the order that leaves
// no packet unrewritten: to direct, the kernel first (its hooks are
// registered before it returns and the --map rule goes idle), then l3dsr's
// own --map rules are deleted; to rule, the --map rule of each family with
// entries is made sure of first, then the kernel is switched. It returns
// what it changed, in the words the CLI prints; a failed switch to rule
// removes the rules it appended.
func SwitchMode(ctx context.Context, t ModeTable, rules ModeRules, m Mode) ([]string, error) {
	if _, err := ParseMode(string(m)); err != nil {
		return nil, invalidf("%v", err)
	}
	if bt, ok := t.(*bpfTable); ok {
		// Before toRule would append rules for a table no rule reads.
		return nil, bt.SetMode(m)
	}
	if m == ModeDirect {
		return toDirect(ctx, t, rules)
	}
	return toRule(ctx, t, rules)
}

// ModeTable is a table whose path can be switched (the module's).
type ModeTable interface {
	List() ([]Entry, error)
	SetMode(m Mode) error
}

func toDirect(ctx context.Context, mt ModeTable, rules ModeRules) ([]string, error) {
	if err := mt.SetMode(ModeDirect); err != nil {
		return nil, err
	}
	changes := []string{"map path set to direct"}
	for _, f := range []xtrule.Family{xtrule.IPv4, xtrule.IPv6} {
		there, err := rules.Exists(ctx, f)
		if err == nil && there {
			err = rules.Delete(ctx, f)
		}
		if err != nil {
			return changes, fmt.Errorf("the map path is direct, but removing the idle map-mode rule for %v failed (it does nothing now; run 'l3dsr rule mode direct' again): %w", f, err)
		}
		if there {
			changes = append(changes, fmt.Sprintf("deleted the map-mode rule for %v: %s", f, mapRuleCommand(rules, f, "-D")))
		}
	}
	return changes, nil
}

func toRule(ctx context.Context, mt ModeTable, rules ModeRules) ([]string, error) {
	entries, err := mt.List()
	if err != nil {
		return nil, err
	}
	has := map[dsrtypes.Family]bool{}
	for _, e := range entries {
		has[e.Key().Family] = true
	}
	var changes []string
	var u undo.Stack
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		if !has[f] {
			continue
		}
		xf := xtFamily(f)
		added, err := rules.Ensure(ctx, xf)
		if err != nil {
			return nil, removeRules(fmt.Errorf("adding the map-mode rule for %v: %w", f, err), &u)
		}
		if added {
			changes = append(changes, fmt.Sprintf("appended the map-mode rule for %v: %s", f, mapRuleCommand(rules, xf, "-A")))
			u.Push(fmt.Sprintf("appended the map-mode rule for %v", f), func() error { return rules.Delete(ctx, xf) })
		}
	}
	if err := mt.SetMode(ModeRule); err != nil {
		return nil, removeRules(err, &u)
	}
	return append(changes, "map path set to rule"), nil
}

// mapRuleCommand is the iptables command that appends (-A) or deletes
// (-D) the plain map-mode rule of f, with rules' binary when it says.
func mapRuleCommand(rules any, f xtrule.Family, op string) string {
	r, ok := rules.(*xtrule.Rules)
	if !ok {
		r = &xtrule.Rules{}
	}
	return r.Binary(f) + " -t raw " + op + " " + strings.Join(xtrule.MapRule, " ")
}
