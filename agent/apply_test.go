package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/health"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// noMHDirector is a kernel without ip_vs_mh: a service on mh is refused as
// the ipvs package words the kernel's ENOENT.
type noMHDirector struct{ *fakeDirector }

func (f noMHDirector) AddService(s director.Service) (director.Result, error) {
	if s.Scheduler == "mh" {
		return director.Result{}, fmt.Errorf("ipvs: create service %s: %w", s.Key, ipvs.ErrNoScheduler)
	}
	return f.fakeDirector.AddService(s)
}

// The file's mh on a kernel without it stops the agent as the file's
// error (exit 2), not as a failure systemd would restart into, and nothing
// is left added.
func TestStartNoSchedulerIsConfigError(t *testing.T) {
	fd := &fakeDirector{}
	svc := testService(health.Quiesce)
	svc.Service.Scheduler = "mh"
	a, _ := newTestAgent(t, fd, svc, "")
	a.o.Host.OpenDirector = func() (config.DirectorHost, func() error, error) {
		return noMHDirector{fd}, func() error { return nil }, nil
	}
	a.file = fileWith(t, svc)
	err := a.start(context.Background())
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ipvs.ErrNoScheduler) {
		t.Fatalf("start: %v (%T), want a *ConfigError matching ipvs.ErrNoScheduler", err, err)
	}
	if len(fd.svcs) != 0 {
		t.Errorf("services left after the refusal: %v (calls %q)", fd.svcs, fd.calls)
	}
}
