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

// Rules is the one map-mode iptables rule per family that sends packets to
// the table (internal/xtrule.Rules): without it the table is never looked
// up.
type Rules interface {
	Ensure(ctx context.Context, f xtrule.Family) (added bool, err error)
	Delete(ctx context.Context, f xtrule.Family) error
}

func sameSetDSCP(a, b *dsrtypes.DSCP) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

// Existing says what AddWithRule does with an entry already in the table
// with the new entry's key.
type Existing int

const (
	// refuseExisting refuses it: an *ExistsError, before anything changes.
	refuseExisting Existing = iota
	// KeepSame keeps one with the same VIP as it is, or sets its SetDSCP
	// to the new entry's where that differs (the rule is still
	// made sure of), and refuses one with another VIP.
	KeepSame
	// replaceExisting gives it the new VIP (its counters are kept).
	replaceExisting
)

// ExistsError is the error of an add refused because the table has an
// entry with its key. It matches ErrExists.
type ExistsError struct {
	Entry Entry // the entry in the table
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%v already maps to VIP %s", e.Entry.Key(), e.Entry.VIP)
}

// Is makes an ExistsError match ErrExists.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// Added says what AddWithRule changed.
type Added struct {
	Rule  bool // the map-mode rule of the entry's family was appended
	Entry bool // the entry was added, or its VIP set
	// Warnings (of AddEntry) name the entries the new one shadows or is
	// shadowed by: the lookup order decides, no error.
	Warnings []string
}

// AddWithRule makes sure the map-mode rule of e's family is in place
// (appending it if it is missing, never a second one), then adds e. An
// entry already there with e's key is dealt with as how says. If adding e
// fails, a rule appended for it is removed again, and the error says so.
//
// On success every change is handed to record (if not nil) with how to undo
// it, so that a caller with more steps can take it back with its own.
func AddWithRule(ctx context.Context, t Entries, rules Rules, e Entry, how Existing, record func(what string, undo func() error)) (Added, error) {
	e.Family = dsrtypes.FamilyOf(e.VIP)
	there := false   // e is in the table as it is
	var reset *Entry // e's key is there with e's VIP but another SetDSCP
	if how != replaceExisting {
		old, err := t.Get(e.Key())
		switch {
		case err == nil && how == KeepSame && old.VIP == e.VIP && sameSetDSCP(old.SetDSCP, e.SetDSCP):
			there = true
		case err == nil && how == KeepSame && old.VIP == e.VIP:
			reset = &old
		case err == nil:
			return Added{}, &ExistsError{Entry: old}
		case !errors.Is(err, ErrNotFound):
			return Added{}, err
		}
	}

	var added Added
	var u undo.Stack
	var done []func() // hands the changes to record once all are made
	change := func(what string, fn func() error) {
		u.Push(what, fn)
		done = append(done, func() { record(what, fn) })
	}
	// Asked after the lookup, so that a refused add reads nothing more.
	rules, err := rulesFor(t, rules)
	if err != nil {
		return Added{}, err
	}
	f := xtFamily(e.Family)
	ok, err := rules.Ensure(ctx, f)
	if err != nil {
		return Added{}, fmt.Errorf("adding the map-mode rule: %w", err)
	}
	if ok {
		added.Rule = true
		change(fmt.Sprintf("appended the map-mode rule for %v (-t raw -A %s)", f, strings.Join(xtrule.MapRule, " ")),
			func() error { return rules.Delete(ctx, f) })
	}
	switch {
	case reset != nil:
		if err := t.Add(e, true); err != nil {
			return Added{}, removeRules(err, &u)
		}
		change(fmt.Sprintf("set %v", e), func() error { return t.Add(*reset, true) })
	case !there:
		if err := t.Add(e, how == replaceExisting); err != nil {
			return Added{}, removeRules(err, &u)
		}
		added.Entry = true
		change(fmt.Sprintf("mapped %v", e), func() error { return t.Delete(e.Key()) })
	}
	if record != nil {
		for _, d := range done {
			d()
		}
	}
	return added, nil
}

// ReplaceWithRules makes entries the whole table, after making sure the
// map-mode rule of each family they hold is in place. If that or the
// replace fails, the rules appended for it are removed again. appended
// lists the families whose rule was appended.
func ReplaceWithRules(ctx context.Context, t Table, rules Rules, entries []Entry) (appended []dsrtypes.Family, err error) {
	rules, err = rulesFor(t, rules)
	if err != nil {
		return nil, err
	}
	has := map[dsrtypes.Family]bool{}
	for _, e := range entries {
		has[e.Key().Family] = true
	}
	var u undo.Stack
	for _, f := range []dsrtypes.Family{dsrtypes.IPv4, dsrtypes.IPv6} {
		if !has[f] {
			continue
		}
		ok, err := rules.Ensure(ctx, xtFamily(f))
		if err != nil {
			return nil, removeRules(fmt.Errorf("adding the map-mode rule for %v: %w", f, err), &u)
		}
		if ok {
			appended = append(appended, f)
			u.Push(fmt.Sprintf("appended the map-mode rule for %v", f), func() error { return rules.Delete(ctx, xtFamily(f)) })
		}
	}
	if err := t.Replace(entries); err != nil {
		return nil, removeRules(err, &u)
	}
	return appended, nil
}

// removeRules undoes the rules appended for a change that failed with err,
// and says so in the error.
func removeRules(err error, u *undo.Stack) error {
	n := u.Len()
	if n == 0 {
		return err
	}
	if lerr := u.Rollback(); lerr != nil {
		return errors.Join(err, lerr)
	}
	if n == 1 {
		return fmt.Errorf("%w (the map-mode rule appended for it was removed again)", err)
	}
	return fmt.Errorf("%w (the map-mode rules appended for it were removed again)", err)
}

// xtFamily is f as iptables is chosen for it.
func xtFamily(f dsrtypes.Family) xtrule.Family {
	if f == dsrtypes.IPv6 {
		return xtrule.IPv6
	}
	return xtrule.IPv4
}
