package agent

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/nstest"
)

// A link created in the namespace reaches the keeper as an event, and the
// listing that follows has it.
func TestIntegrationLinkWatchSeesANewLink(t *testing.T) {
	ns := nstest.New(t, "l3dsr-agentlinks", "root (a network namespace)")
	h := hostLinks{netns: ns.FD}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kick, err := h.watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "-n", ns.Name, "link", "add", "dsr0", "type", "veth", "peer", "name", "dsr1").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	select {
	case <-kick:
	case <-time.After(5 * time.Second):
		t.Fatal("no link event within 5s of creating dsr0 (veth)")
	}
	links, err := h.links()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	if got := wantedLinks(links, nil); !slices.Equal(got, []string{"dsr0", "dsr1"}) {
		t.Errorf("links %q: wanted %q, want [dsr0 dsr1] (lo never)", names, got)
	}
}
