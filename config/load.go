package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/internal/errclass"
	"github.com/l3dsr/l3dsr/realserver"
)

// ErrGiven is matched (errors.Is) by LoadGiven's error for a file that is
// missing or wrong: the caller's input to fix, before anything is touched.
var ErrGiven = errors.New("the config file given is missing or wrong")

// LoadGiven is Load of the file an operator gives (apply -f): its errors,
// or its absence, are an error matching ErrGiven that says how to fix it.
func LoadGiven(file string) (*File, error) {
	f, err := Load(file)
	var es Errors
	switch {
	case errors.As(err, &es):
		return nil, errclass.New(ErrGiven, "%s has errors, nothing was changed:\n%v", file, es)
	case errors.Is(err, fs.ErrNotExist):
		return nil, errclass.New(ErrGiven, "config file %s does not exist: write it (see docs/config.md) or give another with -f", file)
	}
	return f, err
}

// Load reads, parses and checks a config file, with the dsrtools directory it
// names merged in. A problem in the file (or in a dsrtools file) is returned
// as Errors; not being able to read them is another error.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config file: %w", err)
	}
	f, errs := parse(path, data)
	if len(errs) > 0 {
		return nil, errs
	}
	if f.dsrTools != "" {
		dir := f.dsrTools
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(filepath.Dir(path), dir)
		}
		vips, err := dsrTools{}.dir(dir)
		var es Errors
		if errors.As(err, &es) {
			return nil, es
		}
		if err != nil {
			return nil, Errors{{Pos{path, 0}, err.Error()}}
		}
		mergeDSRTools(f, vips)
	}
	if errs := check(f); len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// FromDSRTools is the config of a real server that dsrtools set up from dir:
// what `l3dsr save --from-dsrtools` prints. A host name is resolved now,
// with the system's resolver, and the file gets its address. Every error
// is dir's to fix; the problems of its files come in one, naming dir.
func FromDSRTools(dir string) (*File, error) {
	f, err := fromDSRTools(dir, systemResolver)
	var es Errors
	if errors.As(err, &es) {
		return nil, fmt.Errorf("%s has errors:\n%v", dir, es)
	}
	return f, err
}

func fromDSRTools(dir string, resolve resolver) (*File, error) {
	vips, err := dsrTools{resolve}.dir(dir)
	if err != nil {
		return nil, err
	}
	f := &File{}
	mergeDSRTools(f, vips)
	if errs := check(f); len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// FromRunning is the config of what runs: the VIPs 'l3dsr realserver up'
// set up and the IPVS services by address; what `l3dsr save` prints. A side
// with nothing set up is left out, so that applying the file leaves it alone.
func fromRunning(vips []realserver.VIPStatus, svcs []director.Service) *File {
	f := &File{}
	if len(vips) > 0 {
		f.realServer = &RealServer{}
		for _, v := range vips {
			x := VIP{Config: v.Config}
			if codes := v.DSCPs; len(codes) > 0 {
				x.withCodes(codes, make([]Pos, len(codes)))
			} else if v.DSCP != nil { // a report made without the list
				x.withCodes(realserver.Codes{*v.DSCP}, make([]Pos, 1))
			}
			f.realServer.VIPs = append(f.realServer.VIPs, x)
		}
	}
	if len(svcs) > 0 {
		f.director = &Director{}
		for _, s := range svcs {
			f.director.Services = append(f.director.Services, Service{Service: s})
		}
	}
	return f
}

// Configs are the VIPs of the section.
func (rs *RealServer) Configs() []realserver.Config {
	cs := make([]realserver.Config, 0, len(rs.VIPs))
	for _, v := range rs.VIPs {
		cs = append(cs, v.Config)
	}
	return cs
}
