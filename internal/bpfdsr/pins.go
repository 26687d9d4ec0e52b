package bpfdsr

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/l3dsr/l3dsr/internal/statedir"
)

var (
	// errNotInstalled: this network namespace has no pinned maps of ours.
	errNotInstalled = errors.New("the BPF backend is not installed in this network namespace (l3dsr realserver up --backend bpf)")
	// ErrNotFound: the table has no entry with that key.
	ErrNotFound = errors.New("no such entry")
	// ErrExists: the table has an entry with that key already.
	ErrExists = errors.New("the entry exists")
)

const (
	defaultBPFFS = "/sys/fs/bpf"
	bpffsEnv     = "L3DSR_BPFFS"
	progName     = "l3dsr_ingress"
)

// The pins of a namespace's directory. owned and carried are ours only (no
// program reads them): owned, the interfaces whose clsact qdisc we
// created, so that Uninstall removes no qdisc someone else made; carried,
// the counts entries brought from the tables a replace took out of use
// (carried.go).
const (
	pinTables  = "tables"
	pinPresent = "present"
	pinTotals  = "totals"
	pinMeta    = "meta"
	pinOwned   = "owned"
	pinCarried = "carried"
	pinProg    = "prog"
	linkPrefix = "link-"
)

// ownedCreatedClsact is the owned map's flag: we created the clsact.
const ownedCreatedClsact = 1

// PinRoot is the BPF filesystem the pins go under: $L3DSR_BPFFS if set,
// else /sys/fs/bpf.
func PinRoot() (string, error) {
	if p := os.Getenv(bpffsEnv); p != "" {
		if err := checkBPFFS(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", bpffsEnv, p, err)
		}
		return p, nil
	}
	if checkBPFFS(defaultBPFFS) != nil {
		return "", fmt.Errorf("no BPF filesystem mounted at %s: mount it (mount -t bpf bpf %s; systemd does this at boot) or set %s to one",
			defaultBPFFS, defaultBPFFS, bpffsEnv)
	}
	return defaultBPFFS, nil
}

func checkBPFFS(p string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return fmt.Errorf("checking for a BPF filesystem at %s: %w", p, err)
	}
	if uint32(st.Type) != unix.BPF_FS_MAGIC {
		return fmt.Errorf("%s is not a BPF filesystem: mount one there (mount -t bpf bpf %s)", p, p)
	}
	return nil
}

// pinDir is this namespace's directory: named by its cookie, which unlike
// its inode is never reused, so a new namespace never finds a dead one's
// table.
func pinDir() (string, error) {
	root, err := PinRoot()
	if err != nil {
		return "", err
	}
	c, ok := statedir.NetnsCookie()
	if !ok {
		return "", errors.New("this kernel gives no network namespace cookie (SO_NETNS_COOKIE, Linux 5.14): the BPF backend needs it to keep tables per namespace")
	}
	return filepath.Join(root, "l3dsr", "netns-"+strconv.FormatUint(c, 10)), nil
}

// Installed says whether this namespace has our pinned maps.
func Installed() (bool, error) {
	dir, err := pinDir()
	if err != nil {
		return false, err
	}
	_, err = os.Stat(filepath.Join(dir, pinTables))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking for the BPF backend's pins: %w", err)
	}
	return true, nil
}

// Open opens the pinned maps and program of this namespace.
func Open() (*Table, error) {
	ok, err := Installed()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotInstalled
	}
	dir, _ := pinDir()
	spec, err := loadSpec()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	t := &Table{dir: dir, inner: spec.Maps[pinTables].InnerMap}
	for _, p := range []struct {
		name string
		m    **ebpf.Map
	}{{pinTables, &t.tables}, {pinPresent, &t.present}, {pinTotals, &t.totals}, {pinMeta, &t.meta}, {pinOwned, &t.owned}, {pinCarried, &t.carried}} {
		if *p.m, err = ebpf.LoadPinnedMap(filepath.Join(dir, p.name), nil); err != nil {
			t.Close()
			return nil, fmt.Errorf("opening the pinned map %s: %w", p.name, permErr(err))
		}
	}
	if t.prog, err = ebpf.LoadPinnedProgram(filepath.Join(dir, pinProg), nil); err != nil {
		t.Close()
		return nil, fmt.Errorf("opening the pinned program: %w", permErr(err))
	}
	return t, nil
}

// Install loads the program and pins it with its maps, or opens them when
// they are pinned already.
func Install() (*Table, error) {
	t, err := Open()
	if err == nil {
		if err := t.upgrade(); err != nil {
			t.Close()
			return nil, err
		}
		return t, nil
	}
	if !errors.Is(err, errNotInstalled) {
		return nil, err
	}
	dir, err := pinDir()
	if err != nil {
		return nil, err
	}
	spec, err := loadSpec()
	if err != nil {
		return nil, fmt.Errorf("reading the embedded BPF object: %w", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return nil, fmt.Errorf("loading the BPF program: %w", permErr(err))
	}
	defer coll.Close()
	// What an Install that died before its last pin (tables) left.
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("removing the pins of an unfinished install: %w", err)
	}
	t = &Table{dir: dir, inner: spec.Maps[pinTables].InnerMap}
	if err := t.build(coll); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.pinAll(); err != nil {
		t.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return t, nil
}

// build takes the collection's maps and program, with an empty table in
// slot 0 and the namespace's cookie in meta.
func (t *Table) build(coll *ebpf.Collection) error {
	var err error
	if t.tables, err = coll.Maps[pinTables].Clone(); err != nil {
		return err
	}
	if t.present, err = coll.Maps[pinPresent].Clone(); err != nil {
		return err
	}
	if t.totals, err = coll.Maps[pinTotals].Clone(); err != nil {
		return err
	}
	if t.meta, err = coll.Maps[pinMeta].Clone(); err != nil {
		return err
	}
	if t.prog, err = coll.Programs[progName].Clone(); err != nil {
		return err
	}
	if t.owned, err = ebpf.NewMap(&ebpf.MapSpec{Name: "l3dsr_owned", Type: ebpf.Hash, KeySize: 4, ValueSize: 4, MaxEntries: 4096}); err != nil {
		return fmt.Errorf("creating the map of owned qdiscs: %w", permErr(err))
	}
	if t.carried, err = newCarried(); err != nil {
		return err
	}
	inner, err := t.newInner()
	if err != nil {
		return err
	}
	defer inner.Close()
	if err := t.tables.Put(uint32(0), inner); err != nil {
		return fmt.Errorf("putting the empty table in slot 0: %w", err)
	}
	c, _ := statedir.NetnsCookie()
	return t.meta.Put(uint32(0), l3dsrL3dsrMeta{NetnsCookie: c})
}

func (t *Table) pinAll() error {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return fmt.Errorf("making the pin directory: %w", err)
	}
	for _, p := range []struct {
		name string
		m    *ebpf.Map
	}{{pinPresent, t.present}, {pinTotals, t.totals}, {pinMeta, t.meta}, {pinOwned, t.owned}, {pinCarried, t.carried}} {
		if err := p.m.Pin(filepath.Join(t.dir, p.name)); err != nil {
			return fmt.Errorf("pinning the map %s: %w", p.name, err)
		}
	}
	if err := t.prog.Pin(filepath.Join(t.dir, pinProg)); err != nil {
		return fmt.Errorf("pinning the program: %w", err)
	}
	// tables last: its pin is what Installed looks for.
	if err := t.tables.Pin(filepath.Join(t.dir, pinTables)); err != nil {
		return fmt.Errorf("pinning the map %s: %w", pinTables, err)
	}
	return nil
}

// Uninstall detaches every attachment of ours in this namespace and
// removes the pins; nothing installed is not an error.
func Uninstall() error {
	t, err := Open()
	if errors.Is(err, errNotInstalled) {
		return nil
	}
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.detachAll(); err != nil {
		return err
	}
	ents, err := os.ReadDir(t.dir)
	if err != nil {
		return fmt.Errorf("reading the pin directory: %w", err)
	}
	for _, e := range ents {
		if err := os.Remove(filepath.Join(t.dir, e.Name())); err != nil {
			return fmt.Errorf("unpinning %s: %w", e.Name(), err)
		}
	}
	if err := os.Remove(t.dir); err != nil {
		return fmt.Errorf("removing the pin directory: %w", err)
	}
	// The parent goes with the last namespace's directory; another
	// namespace's keeps it.
	os.Remove(filepath.Dir(t.dir))
	return nil
}

// loadSpec is the embedded object; tests put another program in it to
// play an upgrade.
var loadSpec = loadL3dsr

// permErr names what is missing when the kernel says EPERM.
func permErr(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("loading the BPF program needs CAP_BPF and CAP_NET_ADMIN (run as root): %w", err)
	}
	return err
}

// With opens this namespace's pinned table, runs fn on it and closes it:
// for callers that do one thing with the table and keep no descriptor.
func With(fn func(*Table) error) error {
	t, err := Open()
	if err != nil {
		return err
	}
	defer t.Close()
	return fn(t)
}
