package xtrule

import (
	"context"
	"fmt"
	"time"

	"github.com/l3dsr/l3dsr/internal/statedir"
)

// Every change of the map-mode rules reads the chain (-S), then appends or
// deletes by what it read. iptables' -w serializes single iptables runs on
// the xtables lock (and iptables-nft takes none), not a read and the
// append that follows it: two l3dsr processes that both read "no rule"
// would both append one (issue 19). So each change holds a lock file of
// the network namespace's own (statedir.LockNetns: one per namespace,
// since `ip netns exec` shares /run) from its read to its last write.
// That read, right before the append, is what makes the append idempotent;
// it is -S and not `iptables -C`, which ip6tables-legacy answers wrong for
// DADDR rules (the package doc).

// lockName names the lock file: /run/l3dsr/lock/rules-INODE.lock.
const lockName = "rules"

// lockTimeout is how long a change waits for another l3dsr's. Each holder
// runs a few iptables commands; twenty parallel `rule add`s were seen to
// take 48 s in all under qemu's emulation (rule_race), so 30 s made the
// last ones fail. iptables -w itself waits forever; a holder stuck longer
// than this is a fault the error names.
var lockTimeout = 2 * time.Minute

// lock takes the namespace's rule lock; the returned func releases it.
func lock(ctx context.Context) (func(), error) {
	release, err := statedir.LockNetns(ctx, lockName, lockTimeout)
	if err != nil {
		return nil, fmt.Errorf("waiting for other l3dsr processes to finish changing the map-mode rules: %w", err)
	}
	return release, nil
}
