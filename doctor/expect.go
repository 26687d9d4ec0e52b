package doctor

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"

	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/realserver"
)

// Expect is what the host should run: the config file's sections, or,
// without a file, nothing yet (Check then takes the roles from the running
// state).
type Expect struct {
	file string // "" without a file
	// rs: the file has a real-server section, with vips (one Config per
	// code of a dscp-mode VIP).
	rs   bool
	vips []realserver.Config
	// dir: the file has a director section.
	dir      bool
	services []service
}

// service is a director service as the checks need it.
type service struct {
	key   director.Key
	mode  dsrtypes.Mode
	reals []netip.Addr
	// dsrCheck: its health check goes the DSR path, and is answered from
	// the VIP, which the director owns.
	dsrCheck bool
}

// Expected reads the config file path. A file that is not there is no
// expectation unless given (-f): then, like a file with errors, it is an
// error matching config.ErrGiven.
func Expected(path string, given bool) (*Expect, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !given {
		return &Expect{}, nil
	}
	f, err := config.LoadGiven(path)
	if err != nil {
		return nil, err
	}
	e := &Expect{file: path}
	e.vips, e.rs = f.RealServerUnits()
	svcs, dir := f.DirectorServices()
	e.dir = dir
	for _, s := range svcs {
		e.services = append(e.services, fromConfig(s))
	}
	return e, nil
}

func fromConfig(s config.Service) service {
	out := service{key: s.Service.Key, mode: s.Service.Mode, dsrCheck: dsrChecked(s)}
	for _, r := range s.Service.Reals {
		out.reals = append(out.reals, r.Addr)
	}
	return out
}

// apply is the command that brings the host to the file, or "" without
// one.
func (e *Expect) apply() string {
	if e.file == "" {
		return ""
	}
	return "l3dsr apply -f " + e.file
}
