// Package sysctl reads and writes kernel parameters under /proc/sys, in the
// network namespace of the calling process (the net.* keys are per
// namespace). Names are in sysctl(8)'s dotted form, e.g.
// "net.ipv4.conf.all.rp_filter"; a name with a slash is taken in the slash
// form instead ("net/ipv4/conf/eth0.100/rp_filter"), which is how sysctl(8)
// spells interface names that contain dots. The package never prints.
package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// defaultRoot is where the kernel shows its parameters.
const defaultRoot = "/proc/sys"

// FS reads and writes parameters below Root. The zero FS uses defaultRoot;
// tests point Root at a directory of their own.
type FS struct {
	Root string
}

var std FS

// Get reads the parameter name with the default FS.
func Get(name string) (string, error) { return std.Get(name) }

// Set writes value to the parameter name with the default FS.
func Set(name, value string) error { return std.Set(name, value) }

// IPv4Conf names the per-interface IPv4 parameter key of iface ("all",
// "default" or an interface name), in the form Get and Set take whatever
// characters iface has.
func IPv4Conf(iface, key string) string {
	if strings.Contains(iface, ".") {
		return "net/ipv4/conf/" + iface + "/" + key
	}
	return "net.ipv4.conf." + iface + "." + key
}

// path turns a parameter name into its file below the root.
func (f FS) path(name string) (string, error) {
	rel := name
	if !strings.Contains(name, "/") {
		rel = strings.ReplaceAll(name, ".", "/")
	}
	if name == "" || strings.HasPrefix(rel, "/") || strings.HasSuffix(rel, "/") {
		return "", fmt.Errorf("sysctl name %q is not valid: give it as net.ipv4.conf.all.rp_filter", name)
	}
	for _, p := range strings.Split(rel, "/") {
		if p == "" || p == "." || p == ".." {
			return "", fmt.Errorf("sysctl name %q is not valid: give it as net.ipv4.conf.all.rp_filter", name)
		}
	}
	root := f.Root
	if root == "" {
		root = defaultRoot
	}
	return filepath.Join(root, rel), nil
}

// Get returns the value of name without the trailing newline.
func (f FS) Get(name string) (string, error) {
	p, err := f.path(name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w%s", name, err, hint(err))
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// Set writes value to name. The kernel checks the value (EINVAL for one
// out of range), so the error names both.
func (f FS) Set(name, value string) error {
	p, err := f.path(name)
	if err != nil {
		return err
	}
	if strings.ContainsAny(value, "\n") {
		return fmt.Errorf("setting sysctl %s to %q: the value has a newline: give one line", name, value)
	}
	// O_TRUNC without O_CREATE: a missing key must stay an error, never
	// become a file (it would, below a test root).
	fd, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("setting sysctl %s to %q: %w%s", name, value, err, hint(err))
	}
	// One write: the kernel parses each write of a sysctl file on its own.
	_, werr := fd.Write([]byte(value + "\n"))
	cerr := fd.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("setting sysctl %s to %q: %w%s", name, value, werr, hint(werr))
	}
	return nil
}

func hint(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return " (no such key: the interface does not exist in this network namespace, or the module that provides the key is not loaded)"
	case errors.Is(err, fs.ErrPermission):
		return " (run as root, with CAP_NET_ADMIN in this network namespace)"
	case errors.Is(err, syscall.EINVAL):
		return " (the kernel refused the value: check the documented range of the key)"
	}
	return ""
}
