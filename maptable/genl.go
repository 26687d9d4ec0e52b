package maptable

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotLoaded is returned (errors.Is) by Dial when the kernel has no
// "l3dsr" generic netlink family: the module is not loaded and could not be
// autoloaded.
// Its text names the tc-BPF backend too, for hosts that cannot load it.
var ErrNotLoaded = errors.New("the l3dsr kernel module is not loaded: run 'modprobe xt_DADDR' (install the l3dsr-dkms package if modprobe cannot find it); a host without the module can use the tc-BPF backend instead: run 'l3dsr realserver up --backend bpf'")

// ErrNotFound is matched (errors.Is) by the error of an operation on an
// entry that does not exist (the kernel's ENOENT).
var ErrNotFound = errors.New("no such entry")

// ErrExists is matched (errors.Is) by the error of a create-only Add whose
// key is already in the table (the kernel's EEXIST).
var ErrExists = errors.New("an entry with this key exists")

// errDumpInterrupted is returned (errors.Is) by List when the table kept
// changing during every attempt to read it.
var errDumpInterrupted = errors.New("the table changed while it was being read")

// Limits of one REPLACE_ADD message: well under the default socket buffers
// (about 208 KiB), and few enough entries that a rejection is cheap to
// locate.
const (
	maxBatchEntries = 512
	maxBatchBytes   = 32 << 10
	// maxDumpAttempts bounds how often List retries an interrupted dump.
	maxDumpAttempts = 10
)

// genlTable is the table as the xt_DADDR module keeps it, reached over its
// "l3dsr" generic netlink family, in one network namespace. It is not safe
// for concurrent use.
type genlTable struct {
	c *nl.Conn
}

// BackendName names the backend Dial picks in this namespace, as the
// metrics show it: "bpf" where the tc-BPF backend is installed, else
// "xt_DADDR".
func BackendName() string {
	if ok, err := bpfInstalled(); err == nil && ok {
		return "bpf"
	}
	return "xt_DADDR"
}

// Dial opens the table of the calling thread's network namespace: the
// tc-BPF backend's pinned maps when `realserver up --backend bpf` installed
// them here, else the xt_DADDR module's (a generic netlink socket with the
// l3dsr family resolved by name). If neither is there the error matches
// ErrNotLoaded and names both ways out.
func Dial() (Table, error) {
	installed, err := bpfInstalled()
	if err != nil {
		return nil, fmt.Errorf("looking for the tc-BPF backend's maps: %w", err)
	}
	if installed {
		m, err := openBPF()
		if err != nil {
			return nil, fmt.Errorf("opening the tc-BPF backend's maps: %w", err)
		}
		return &bpfTable{m: m}, nil
	}
	t, err := dialGenl(0)
	if err != nil {
		return nil, err // not a Table holding a nil *genlTable
	}
	return t, nil
}

// dialGenl opens the table of the network namespace netns refers to (an
// open namespace file descriptor; 0 is the calling thread's).
func dialGenl(netns int) (*genlTable, error) {
	return tableOf(nl.Dial(familyName, genlVersion, netns, ErrNotLoaded))
}

// tableOf is the table over c, or the error of getting c.
func tableOf(c *nl.Conn, err error) (*genlTable, error) {
	if err != nil {
		return nil, err
	}
	return &genlTable{c: c}, nil
}

// Close closes the netlink socket.
func (c *genlTable) Close() error {
	return c.c.Close()
}

// Add adds e to the table. Without replace an existing entry with e's key
// is an error (matching ErrExists); with replace the entry is created or its
// VIP replaced (the kernel keeps its counters).
func (c *genlTable) Add(e Entry, replace bool) error {
	e, err := e.normalize()
	if err != nil {
		return fmt.Errorf("adding %v: %w", e, err)
	}
	ae := entryNest(e.Key(), e.VIP, e.SetDSCP)
	flags := netlink.Request | netlink.Acknowledge | netlink.Create
	if replace {
		flags |= netlink.Replace
	} else {
		flags |= netlink.Excl
	}
	if _, err := c.execute(cmdMapAdd, flags, ae); err != nil {
		return fmt.Errorf("adding %v: %w", e, olderModule(err, needsV2(e)))
	}
	return nil
}

// Delete removes the entry with key k. A missing entry is an error matching
// ErrNotFound.
func (c *genlTable) Delete(k Key) error {
	k, err := k.normalize()
	if err != nil {
		return fmt.Errorf("deleting %v: %w", k, err)
	}
	ae := entryNest(k, netip.Addr{}, nil)
	if _, err := c.execute(cmdMapDel, netlink.Request|netlink.Acknowledge, ae); err != nil {
		return fmt.Errorf("deleting %v: %w", k, olderModule(err, k.AnyDSCP))
	}
	return nil
}

// Get returns the entry with key k and its counters. A missing entry is an
// error matching ErrNotFound.
func (c *genlTable) Get(k Key) (Entry, error) {
	k, err := k.normalize()
	if err != nil {
		return Entry{}, fmt.Errorf("getting %v: %w", k, err)
	}
	ae := entryNest(k, netip.Addr{}, nil)
	msgs, err := c.execute(cmdMapGet, netlink.Request, ae)
	if err != nil {
		return Entry{}, fmt.Errorf("getting %v: %w", k, olderModule(err, k.AnyDSCP))
	}
	var entries []Entry
	for _, m := range msgs {
		r, err := parseReply(m.Data)
		if err != nil {
			return Entry{}, fmt.Errorf("getting %v: %w", k, err)
		}
		entries = append(entries, r.entries...)
	}
	if len(entries) != 1 {
		return Entry{}, fmt.Errorf("getting %v: the kernel answered with %d entries, want 1", k, len(entries))
	}
	return entries[0], nil
}

// List returns every entry of the table with its counters, from one
// consistent version of the table. The dump is bracketed by two reads of the
// table's generation: a dump during which the table changed (the kernel
// flags it NLM_F_DUMP_INTR, ends it early, or its replies carry another
// generation) is retried a few times, then reported as an error matching
// errDumpInterrupted.
//
// The bracket is needed because the kernel may flag only the final
// NLMSG_DONE of an interrupted dump, and mdlayher/netlink consumes that
// message without showing its flags.
func (c *genlTable) List() ([]Entry, error) {
	for range maxDumpAttempts {
		before, err := c.Stats()
		if err != nil {
			return nil, fmt.Errorf("listing the table: %w", err)
		}
		entries, gen, consistent, err := c.dumpOnce()
		if err != nil {
			return nil, fmt.Errorf("listing the table: %w", err)
		}
		after, err := c.Stats()
		if err != nil {
			return nil, fmt.Errorf("listing the table: %w", err)
		}
		if consistent && before.Generation == after.Generation &&
			(gen == nil || *gen == before.Generation) {
			return entries, nil
		}
	}
	return nil, fmt.Errorf("listing the table: %w in each of %d attempts: try again", errDumpInterrupted, maxDumpAttempts)
}

// dumpOnce runs one dump. consistent is false if a reply was flagged
// NLM_F_DUMP_INTR, if the replies carry different generations, or if the
// kernel ended the dump with EINTR or EAGAIN; gen is the replies'
// generation, nil if none carried one.
func (c *genlTable) dumpOnce() (entries []Entry, gen *uint32, consistent bool, err error) {
	req, err := c.c.Send(c.c.Message(cmdMapGet, nil), netlink.Request|netlink.Dump)
	if err != nil {
		return nil, nil, false, err
	}
	msgs, nmsgs, err := c.c.Receive()
	if err != nil {
		err = wrapKernel(err, "")
		var ke *nl.KernelError
		if errors.As(err, &ke) && (ke.Errno == unix.EINTR || ke.Errno == unix.EAGAIN) {
			return nil, nil, false, nil
		}
		return nil, nil, false, err
	}
	if err := netlink.Validate(req, nmsgs); err != nil {
		return nil, nil, false, err
	}
	consistent = true
	for i, m := range msgs {
		if nmsgs[i].Header.Flags&netlink.DumpInterrupted != 0 {
			consistent = false
		}
		r, err := parseReply(m.Data)
		if err != nil {
			return nil, nil, false, err
		}
		if r.haveGen {
			if gen != nil && r.generation != *gen {
				consistent = false
			}
			g := r.generation
			gen = &g
		}
		entries = append(entries, r.entries...)
	}
	return entries, gen, consistent, nil
}

// Flush removes every entry of family f, or of both families with
// AllFamilies.
func (c *genlTable) Flush(f dsrtypes.Family) error {
	ae := netlink.NewAttributeEncoder()
	switch f {
	case dsrtypes.AnyFamily:
	case dsrtypes.IPv4, dsrtypes.IPv6:
		ae.Uint8(attrFamily, uint8(f))
	default:
		return fmt.Errorf("flushing: %w", invalidf("address family %d is not supported: use IPv4 (%d), IPv6 (%d) or all (0)", uint8(f), dsrtypes.IPv4, dsrtypes.IPv6))
	}
	if _, err := c.execute(cmdMapFlush, netlink.Request|netlink.Acknowledge, ae); err != nil {
		return fmt.Errorf("flushing %v: %w", f, err)
	}
	return nil
}

// Stats returns the table's totals.
func (c *genlTable) Stats() (Stats, error) {
	msgs, err := c.execute(cmdStatsGet, netlink.Request, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("reading the statistics: %w", err)
	}
	if len(msgs) != 1 {
		return Stats{}, fmt.Errorf("reading the statistics: the kernel answered with %d messages, want 1", len(msgs))
	}
	r, err := parseReply(msgs[0].Data)
	if err != nil {
		return Stats{}, fmt.Errorf("reading the statistics: %w", err)
	}
	if !r.haveStats {
		return Stats{}, fmt.Errorf("reading the statistics: the reply has no statistics attribute")
	}
	r.stats.Generation = r.generation
	r.stats.Mode = ModeRule
	if r.mode == modeDirect {
		r.stats.Mode = ModeDirect
	}
	return r.stats, nil
}

// Replace makes entries the whole table (both families), atomically:
// traffic sees the old table or the new one, never a mix. The entries are
// checked first (nothing is sent if one is invalid or two share a key),
// then staged over as many messages as needed and committed; on any error
// the staged table is aborted and the old table stays.
func (c *genlTable) Replace(entries []Entry) (err error) {
	// Check everything and encode each entry once, before the first message.
	norm, err := normalizeAll(entries)
	if err != nil {
		return err
	}
	encoded := make([][]byte, len(entries))
	for i, n := range norm {
		if encoded[i], err = entryNest(n.Key(), n.VIP, n.SetDSCP).Encode(); err != nil {
			return fmt.Errorf("replacing the table: encoding entry %d: %w", i, err)
		}
	}

	id, err := c.replaceBegin()
	if err != nil {
		return fmt.Errorf("replacing the table: %w", err)
	}
	defer func() {
		if err == nil {
			return
		}
		// A stale id (superseded by another BEGIN) has nothing to abort.
		if aerr := c.replaceIDCommand(cmdReplaceAbort, id); aerr != nil && !errors.Is(aerr, unix.ESTALE) {
			err = fmt.Errorf("%w (and aborting the staged table failed: %v)", err, aerr)
		}
	}()

	for start := 0; start < len(encoded); {
		end, size := start, 0
		for end < len(encoded) && end-start < maxBatchEntries && size+len(encoded[end]) <= maxBatchBytes {
			size += len(encoded[end])
			end++
		}
		if err := c.replaceAdd(id, encoded[start:end]); err != nil {
			err = locateEntry(olderModule(err, slices.ContainsFunc(norm[start:end], needsV2)), encoded[start:end], norm[start:end], start)
			return fmt.Errorf("replacing the table: staging entries %d-%d of %d: %w", start, end-1, len(encoded), err)
		}
		start = end
	}
	if err := c.replaceIDCommand(cmdReplaceCommit, id); err != nil {
		return fmt.Errorf("replacing the table: committing %d entries: %w", len(entries), err)
	}
	return nil
}

func (c *genlTable) replaceBegin() (uint32, error) {
	msgs, err := c.execute(cmdReplaceBegin, netlink.Request, nil)
	if err != nil {
		return 0, fmt.Errorf("beginning: %w", err)
	}
	for _, m := range msgs {
		r, err := parseReply(m.Data)
		if err != nil {
			return 0, fmt.Errorf("beginning: %w", err)
		}
		if r.haveReplaceID {
			return r.replaceID, nil
		}
	}
	return 0, errors.New("beginning: the reply has no replace id")
}

func (c *genlTable) replaceIDCommand(cmd uint8, id uint32) error {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrReplaceID, id)
	_, err := c.execute(cmd, netlink.Request|netlink.Acknowledge, ae)
	return err
}

// replaceAdd sends one REPLACE_ADD: the replace id, then the entries
// (each an encoded L3DSR_A_ENTRY nest).
func (c *genlTable) replaceAdd(id uint32, batch [][]byte) error {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrReplaceID, id)
	b, err := ae.Encode()
	if err != nil {
		return err
	}
	for _, e := range batch {
		b = append(b, e...)
	}
	if _, err := c.c.ExecuteMessage(c.c.Message(cmdReplaceAdd, b), netlink.Request|netlink.Acknowledge); err != nil {
		return wrapKernel(err, "")
	}
	return nil
}

// locateEntry names the entry of a REPLACE_ADD batch that the kernel's
// extack offset points into, if it points into one.
func locateEntry(err error, batch [][]byte, entries []Entry, first int) error {
	var ke *nl.KernelError
	if !errors.As(err, &ke) || ke.Offset == 0 {
		return err
	}
	// Offsets count from the netlink header: 16 bytes, then the 4-byte
	// genetlink header, then the 8-byte replace id attribute.
	off := 16 + 4 + 8
	for i, e := range batch {
		if ke.Offset >= off && ke.Offset < off+len(e) {
			return fmt.Errorf("entry %d (%v): %w", first+i, entries[i], err)
		}
		off += len(e)
	}
	return err
}

// execute sends one request and returns the replies, with the kernel's
// refusal in this package's words.
func (c *genlTable) execute(cmd uint8, flags netlink.HeaderFlags, ae *netlink.AttributeEncoder) ([]genetlink.Message, error) {
	msgs, err := c.c.Execute(cmd, flags, ae)
	if err != nil {
		notFound := ""
		if cmd == cmdMapGet || cmd == cmdMapDel || cmd == cmdMapAdd {
			notFound = ErrNotFound.Error()
		}
		return nil, wrapKernel(err, notFound)
	}
	return msgs, nil
}

// wrapKernel turns a netlink error carrying a kernel errno into an
// *nl.KernelError in this package's words: ENOENT and EEXIST match
// ErrNotFound and ErrExists, a bare ENOENT of an entry operation says
// notFound, and EPERM says what is needed. Other errors are returned as
// they are.
func wrapKernel(err error, notFound string) error {
	ke := nl.Kernel(err)
	if ke == nil {
		return err
	}
	switch ke.Errno {
	case unix.EPERM, unix.EACCES:
		ke.Text = ke.Errno.Error() + " (this needs CAP_NET_ADMIN in the network namespace: run as root)"
	case unix.ENOENT:
		ke.Kind = ErrNotFound
		if notFound != "" && ke.Message == "" {
			ke.Text = notFound
		}
	case unix.EEXIST:
		ke.Kind = ErrExists
	}
	return ke
}

// Encoding and decoding of the attributes.

// entryNest is an L3DSR_A_ENTRY nest: the key k, the VIP if valid, and
// the DSCP after the rewrite if set.
func entryNest(k Key, vip netip.Addr, set *dsrtypes.DSCP) *netlink.AttributeEncoder {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrEntry, func(nae *netlink.AttributeEncoder) error {
		nae.Uint8(entryAttrFamily, uint8(k.Family))
		if k.AnyDSCP {
			nae.Uint8(entryAttrDSCP, dscpAny)
		} else {
			nae.Uint8(entryAttrDSCP, uint8(k.DSCP))
		}
		if k.Local.IsValid() {
			nae.Bytes(entryAttrLocal, k.Local.AsSlice())
		}
		if vip.IsValid() {
			nae.Bytes(entryAttrVIP, vip.AsSlice())
		}
		if set != nil {
			nae.Uint8(entryAttrDSCPSet, uint8(*set))
		}
		return nil
	})
	return ae
}

// reply is what one message from the kernel carries.
type reply struct {
	entries       []Entry
	generation    uint32
	haveGen       bool
	replaceID     uint32
	haveReplaceID bool
	stats         Stats
	haveStats     bool
	mode          uint8 // modeRule when absent (a version 2 module)
}

// parseReply decodes the attributes of one reply. Unknown attributes are
// skipped, so that a newer kernel may add some.
func parseReply(b []byte) (reply, error) {
	var r reply
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return r, fmt.Errorf("decoding a reply: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case attrEntry:
			var e Entry
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				var err error
				e, err = decodeEntry(nad)
				return err
			})
			r.entries = append(r.entries, e)
		case attrGeneration:
			r.generation, r.haveGen = ad.Uint32(), true
		case attrReplaceID:
			r.replaceID, r.haveReplaceID = ad.Uint32(), true
		case attrMode:
			r.mode = ad.Uint8()
		case attrHooks:
			r.stats.Hooks = Hooks(ad.Uint32())
		case attrStats:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				return nl.Decode(nad, nl.Fields{
					statsAttrRewritten: &r.stats.Rewritten,
					statsAttrNoEntry:   &r.stats.NoEntry,
					statsAttrErrors:    &r.stats.Errors,
					statsAttrEntries:   &r.stats.Entries,
				})
			})
			r.haveStats = true
		}
	}
	if err := ad.Err(); err != nil {
		return reply{}, fmt.Errorf("decoding a reply: %w", err)
	}
	return r, nil
}

func decodeEntry(ad *netlink.AttributeDecoder) (Entry, error) {
	var e Entry
	var local, vip []byte
	var haveFamily, haveDSCP bool
	for ad.Next() {
		switch ad.Type() {
		case entryAttrFamily:
			e.Family, haveFamily = dsrtypes.Family(ad.Uint8()), true
		case entryAttrDSCP:
			e.DSCP, haveDSCP = dsrtypes.DSCP(ad.Uint8()), true
			if e.DSCP == dscpAny {
				e.DSCP, e.AnyDSCP = 0, true
			}
		case entryAttrDSCPSet:
			d := dsrtypes.DSCP(ad.Uint8())
			e.SetDSCP = &d
		case entryAttrLocal:
			local = ad.Bytes()
		case entryAttrVIP:
			vip = ad.Bytes()
		case entryAttrPackets:
			e.Packets = ad.Uint64()
		case entryAttrBytes:
			e.Bytes = ad.Uint64()
		}
	}
	if err := ad.Err(); err != nil {
		return e, err
	}
	if !haveFamily || !haveDSCP || vip == nil {
		return e, fmt.Errorf("an entry in the reply lacks its family, DSCP or VIP")
	}
	n := e.Family.AddrLen()
	if n == 0 {
		return e, fmt.Errorf("an entry in the reply has the unknown address family %d", uint8(e.Family))
	}
	var ok bool
	if e.VIP, ok = addrFromBytes(vip, n); !ok {
		return e, fmt.Errorf("an %v entry in the reply has a VIP of %d bytes", e.Family, len(vip))
	}
	if local != nil {
		if e.Local, ok = addrFromBytes(local, n); !ok {
			return e, fmt.Errorf("an %v entry in the reply has a local address of %d bytes", e.Family, len(local))
		}
	}
	return e, nil
}

// needsV2 tells whether sending e needs genl version 2 of the module: an
// any-DSCP key or a DSCP after the rewrite.
func needsV2(e Entry) bool { return e.AnyDSCP || e.SetDSCP != nil }

// olderModule explains the refusal of a request that needs version 2 by a
// module of version 1, which has the code's range capped at 63 (ERANGE)
// and no DSCP_SET attribute (strict parsing: "Unknown attribute type").
// Other errors, and errors of requests version 1 understands, pass as they
// are.
func olderModule(err error, v2 bool) error {
	var ke *nl.KernelError
	if !v2 || !errors.As(err, &ke) {
		return err
	}
	if ke.Errno == unix.ERANGE || ke.Errno == unix.EINVAL && strings.Contains(ke.Message, "Unknown attribute") {
		ke.Text = "the xt_DADDR module is older than this l3dsr CLI: it has no any-DSCP entries or DSCP setting (genl version " + strconv.Itoa(genlVersion) + "); update the module (l3dsr-dkms) and reload it: modprobe -r xt_DADDR && modprobe xt_DADDR"
	}
	return err
}

func addrFromBytes(b []byte, n int) (netip.Addr, bool) {
	if len(b) != n {
		return netip.Addr{}, false
	}
	return netip.AddrFromSlice(b)
}
