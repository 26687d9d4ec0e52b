// Package cpuprof writes a CPU profile of an l3dsr process when the
// environment asks for one: where an apply's time goes on a host (or in
// the VM bench, which has no perf) is then a `go tool pprof` away.
package cpuprof

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// env names the file to write the profile to; unset or empty, none is
// written.
const env = "L3DSR_CPUPROFILE"

// Start starts profiling if env is set; stop ends it and closes the file.
func Start() (stop func(), err error) {
	path := os.Getenv(env)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}, fmt.Errorf("%s: %w", env, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}, fmt.Errorf("%s: %w", env, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
