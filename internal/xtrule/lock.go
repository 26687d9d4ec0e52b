package xtrule

import (
	"context"
	"fmt"
	"os"
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
// $L3DSR_LOCK_TIMEOUT (a Go duration) replaces it, for a host slower still:
// twenty adds on the KASAN kernel of make test-debug took longer.
var lockTimeout = 2 * time.Minute

// lockTimeoutEnv names the variable that sets how long a rule change waits.
const lockTimeoutEnv = "L3DSR_LOCK_TIMEOUT"

// waitLimit is lockTimeout, or $L3DSR_LOCK_TIMEOUT when set.
func waitLimit() (time.Duration, error) {
	s := os.Getenv(lockTimeoutEnv)
	if s == "" {
		return lockTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("$%s=%q is not a positive duration: give one such as 5m, or unset it for the default %s", lockTimeoutEnv, s, lockTimeout)
	}
	return d, nil
}

// lock takes the namespace's rule lock; the returned func releases it.
func lock(ctx context.Context) (func(), error) {
	limit, err := waitLimit()
	if err != nil {
		return nil, err
	}
	release, err := statedir.LockNetns(ctx, lockName, limit)
	if err != nil {
		return nil, fmt.Errorf("waiting for other l3dsr processes to finish changing the map-mode rules: %w", err)
	}
	return release, nil
}
