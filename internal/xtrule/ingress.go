package xtrule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The map-mode rule comes in two shapes, both l3dsr's own: MapRule, which
// looks up every packet, and, with Rules.Ingress set, one ingressRule per
// interface, which looks up only the packets that come in where DSR codes
// may come from (any host that reaches a real server's address could
// otherwise set a code and reach a VIP's socket around the director).

// ingressRule is the map-mode rule limited to packets that come in on
// iface, as iptables arguments after the command option.
func ingressRule(iface string) []string {
	return []string{MapRule[0], "-i", iface, "-j", "DADDR", "--map"}
}

// CheckIface checks that name can be an interface of an ingress rule: a
// Linux interface name (1-15 bytes, no space, '/' or ':'), not an iptables
// option or wildcard.
func CheckIface(name string) error {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, " \t\n/:!+*\"") || strings.HasPrefix(name, "-") ||
		name == "." || name == ".." {
		return fmt.Errorf("%q is not an interface name: give the names 'ip link' lists (1-15 characters, no wildcard)", name)
	}
	return nil
}

// ourRule is one of l3dsr's map-mode rules in raw PREROUTING: its 1-based
// number (as -D counts) and its ingress interface ("" for MapRule).
type ourRule struct {
	num   int
	iface string
}

// ourShape tells whether line (as -S prints it) is one of l3dsr's
// map-mode rules, and which interface it is limited to ("" for none).
func ourShape(line string) (iface string, ok bool) {
	if line == savedRule {
		return "", true
	}
	rest, ok := strings.CutPrefix(line, "-A "+MapRule[0]+" -i ")
	if !ok {
		return "", false
	}
	iface, tail, ok := strings.Cut(rest, " ")
	if !ok || tail != "-j DADDR --map" || CheckIface(iface) != nil {
		return "", false
	}
	return iface, true
}

// positions lists l3dsr's map-mode rules in raw PREROUTING, both shapes.
func (r *Rules) positions(ctx context.Context, f Family) ([]ourRule, error) {
	if err := checkFamily(f); err != nil {
		return nil, err
	}
	res, cmdline := r.run(ctx, f, "-S", MapRule[0])
	switch {
	case res.Err != nil:
		return nil, r.startError(f, cmdline, res.Err)
	case res.ExitCode != 0:
		return nil, commandError(cmdline, res)
	}
	var pos []ourRule
	n := 0
	for _, line := range strings.Split(res.Stdout, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "-A "+MapRule[0]+" ") {
			continue // "-P PREROUTING ACCEPT", "-N ..." and the like
		}
		n++
		if iface, ok := ourShape(line); ok {
			pos = append(pos, ourRule{n, iface})
		}
	}
	return pos, nil
}

// Count reports how many map-mode rules raw PREROUTING holds, of either
// shape (Ensure keeps it at one, or one per ingress interface).
func (r *Rules) Count(ctx context.Context, f Family) (int, error) {
	pos, err := r.positions(ctx, f)
	return len(pos), err
}

// Exists reports whether a map-mode rule of either shape is in raw
// PREROUTING.
func (r *Rules) Exists(ctx context.Context, f Family) (bool, error) {
	n, err := r.Count(ctx, f)
	return n > 0, err
}

// Ensure makes sure the map-mode rule for family f is there and reports
// whether it appended any. Without Ingress a rule of either shape will do
// (a host limited to its ingress interfaces stays limited); with it, each
// interface's rule is appended unless it is there. If an append fails, the
// rules this call appended are deleted again.
//
// It holds the namespace's rule lock (lock.go) from its read of the chain
// to its last append, so that a concurrent Ensure reads the rule this one
// appended.
func (r *Rules) Ensure(ctx context.Context, f Family) (added bool, err error) {
	release, err := lock(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	have, err := r.positions(ctx, f)
	if err != nil {
		return false, err
	}
	if len(r.Ingress) == 0 && len(have) > 0 {
		return false, nil
	}
	n, err := r.appendMissing(ctx, f, have)
	return n > 0, err
}

// appendMissing appends the rules of r's shape that have lacks; on error
// it deletes those it appended.
func (r *Rules) appendMissing(ctx context.Context, f Family, have []ourRule) (int, error) {
	var added []string
	for _, iface := range r.shape() {
		if slices.ContainsFunc(have, func(o ourRule) bool { return o.iface == iface }) {
			continue
		}
		if err := r.exec(ctx, f, append([]string{"-A"}, ruleOf(iface)...)...); err != nil {
			if len(added) > 0 {
				undo := *r
				undo.Ingress = added
				if uerr := undo.deleteShape(ctx, f); uerr != nil {
					err = errors.Join(err, fmt.Errorf("deleting the rules appended before: %w", uerr))
				}
			}
			return 0, err
		}
		added = append(added, iface)
	}
	return len(added), nil
}

// Delete removes the map-mode rule of r's shape for family f: without
// Ingress the plain one (the last, should there be several), with it the
// last rule of each interface. A missing rule is not an error. It deletes
// by rule number, found in the -S listing, because a delete by rule
// specification compares rules as -C does.
func (r *Rules) Delete(ctx context.Context, f Family) error {
	release, err := lock(ctx)
	if err != nil {
		return err
	}
	defer release()
	return r.deleteShape(ctx, f)
}

// deleteShape is Delete, under the lock already.
func (r *Rules) deleteShape(ctx context.Context, f Family) error {
	have, err := r.positions(ctx, f)
	if err != nil {
		return err
	}
	var nums []int
	for _, iface := range r.shape() {
		last := -1
		for _, o := range have {
			if o.iface == iface {
				last = o.num
			}
		}
		if last > 0 {
			nums = append(nums, last)
		}
	}
	return r.deleteNums(ctx, f, nums)
}

// Reshape makes the map-mode rules of family f r's shape: it appends the
// rules of the shape that are missing first, then deletes every other
// map-mode rule of l3dsr's (the plain one, other interfaces'), so that no
// packet on an allowed interface passes unlooked-up meanwhile. It reports
// whether it changed anything.
func (r *Rules) Reshape(ctx context.Context, f Family) (bool, error) {
	release, err := lock(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	have, err := r.positions(ctx, f)
	if err != nil {
		return false, err
	}
	n, err := r.appendMissing(ctx, f, have)
	if err != nil {
		return false, err
	}
	keep := r.shape()
	var nums []int
	for _, o := range have {
		if !slices.Contains(keep, o.iface) {
			nums = append(nums, o.num)
		}
	}
	// The appended rules went after every listed one: the numbers hold.
	if err := r.deleteNums(ctx, f, nums); err != nil {
		return n > 0, err
	}
	return n > 0 || len(nums) > 0, nil
}

// shape is the interfaces of r's rules: "" alone for the plain one.
func (r *Rules) shape() []string {
	if len(r.Ingress) == 0 {
		return []string{""}
	}
	return r.Ingress
}

func ruleOf(iface string) []string {
	if iface == "" {
		return MapRule
	}
	return ingressRule(iface)
}

// deleteNums deletes the rules numbered nums, highest first so that each
// number stays right.
func (r *Rules) deleteNums(ctx context.Context, f Family, nums []int) error {
	slices.Sort(nums)
	for i := len(nums) - 1; i >= 0; i-- {
		if err := r.exec(ctx, f, "-D", MapRule[0], strconv.Itoa(nums[i])); err != nil {
			return err
		}
	}
	return nil
}

// exec runs one changing command.
func (r *Rules) exec(ctx context.Context, f Family, args ...string) error {
	res, cmdline := r.run(ctx, f, args...)
	if res.Err != nil {
		return r.startError(f, cmdline, res.Err)
	}
	if res.ExitCode != 0 {
		return commandError(cmdline, res)
	}
	return nil
}
