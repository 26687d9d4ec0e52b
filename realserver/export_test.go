package realserver

import (
	"context"
	"testing"

	"github.com/l3dsr/l3dsr/internal/xtrule"
)

// UpAll sets cs up one after the other on a fresh in-memory real server and
// returns the first error: 'realserver up' for the tests of the external
// package (clash_test.go), which cannot reach the fakes.
func UpAll(t *testing.T, cs ...Config) error {
	m := newFakeSys().manager(t)
	for _, c := range cs {
		if _, err := m.Up(context.Background(), c, xtrule.Default); err != nil {
			return err
		}
	}
	return nil
}
