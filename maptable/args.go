package maptable

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// What 'l3dsr rule' asks of the table, with errors that name its flags.

// AddEntry is AddWithRule as 'rule add' asks it: an entry with e's key is
// replaced when replace (--replace) is set, and refused otherwise with an
// error that says to give --replace.
func AddEntry(ctx context.Context, t Entries, rules Rules, e Entry, replace bool) (Added, error) {
	how := refuseExisting
	if replace {
		how = replaceExisting
	}
	added, err := AddWithRule(ctx, t, rules, e, how, nil)
	var ee *ExistsError
	if errors.As(err, &ee) {
		return added, fmt.Errorf("%v: use --replace to change it", ee)
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
	if k.Family != dsrtypes.AnyFamily {
		return k, k.Validate()
	}
	return k, nil
}
