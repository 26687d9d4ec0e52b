package maptable

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// What 'l3dsr rule' asks of the table, with errors that name its flags.

// AddEntry is AddWithRule as 'rule add' asks it: an entry with e's key is
// replaced when replace (--replace) is set, and refused otherwise with an
// error that says to give --replace. Once e is added, added.Warnings says
// which entries it shadows or is shadowed by (when t can list its
// entries): the add stands, but the operator should know.
func AddEntry(ctx context.Context, t Entries, rules Rules, e Entry, replace bool) (added Added, err error) {
	how := refuseExisting
	if replace {
		how = replaceExisting
	}
	added, err = AddWithRule(ctx, t, rules, e, how, nil)
	var ee *ExistsError
	if errors.As(err, &ee) {
		return added, fmt.Errorf("%v: use --replace to change it", ee)
	}
	if l, ok := t.(interface{ List() ([]Entry, error) }); ok && err == nil {
		table, lerr := l.List()
		if lerr != nil {
			added.Warnings = []string{fmt.Sprintf("could not check which entries %v shadows or is shadowed by: %v", e, lerr)}
			return added, nil
		}
		e.Family = dsrtypes.FamilyOf(e.VIP)
		added.Warnings = shadowing(table, e)
	}
	return added, err
}

// DelKey is the key of the entry 'rule del' deletes: k has the code and
// the family given (--family, given as familyText), local the --local
// given, which decides the family when given. An error is the command
// line's (matching errInvalid).
func DelKey(k Key, familyText string, local netip.Addr) (Key, error) {
	if k.Local = local; k.Local.IsValid() {
		lf := dsrtypes.FamilyOf(k.Local)
		if k.Family != dsrtypes.AnyFamily && k.Family != lf {
			return k, invalidf("--family %s does not match --local %s (%v): leave --family out", familyText, k.Local, lf)
		}
		k.Family = lf
	}
	if k.Family != dsrtypes.AnyFamily || k.AnyDSCP {
		return k, k.Validate()
	}
	return k, nil
}

// dscpOrAny is --dscp as 'rule add', 'rule del' take it: a code (as
// dsrtypes.ParseDSCP reads it) or "any" (addr mode).
type dscpOrAny struct {
	d       *dsrtypes.DSCP
	anyDSCP *bool
}

func (v dscpOrAny) Set(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), "any") {
		*v.d, *v.anyDSCP = 0, true
		return nil
	}
	d, err := dsrtypes.ParseDSCP(s)
	if err != nil {
		return fmt.Errorf("%w, or any (with --local)", err)
	}
	*v.d, *v.anyDSCP = d, false
	return nil
}

func (dscpOrAny) String() string { return "" }
func (dscpOrAny) Type() string   { return "dscp|any" }

// DSCPFlag is the --dscp flag of 'rule add' and 'rule del': a code 0-63
// into d, or "any" (setting anyDSCP).
func DSCPFlag(d *dsrtypes.DSCP, anyDSCP *bool) dsrtypes.Value {
	return &dsrtypes.Flag{Value: dscpOrAny{d, anyDSCP}}
}

// SetDSCPFlag is the --set-dscp flag of 'rule add': the DSCP the packet
// leaves the rewrite with, into a new *set.
func SetDSCPFlag(set **dsrtypes.DSCP) dsrtypes.Value {
	return &dsrtypes.Flag{Value: dsrtypes.Parsed[*dsrtypes.DSCP]{Dst: set, Name: "dscp", Parse: func(s string) (*dsrtypes.DSCP, error) {
		d, err := dsrtypes.ParseDSCP(s)
		return &d, err
	}}}
}
