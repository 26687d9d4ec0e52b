package config

import "github.com/l3dsr/l3dsr/realserver"

// RealServerUnits are the real-server section's VIPs, one Config per code
// of a dscp-mode VIP (what one 'realserver up' sets up), and whether the
// file has the section: what a checker of the running host expects.
func (f *File) RealServerUnits() ([]realserver.Config, bool) {
	if f.realServer == nil {
		return nil, false
	}
	var out []realserver.Config
	for _, v := range f.realServer.VIPs {
		if len(v.codes) == 0 {
			out = append(out, v.Config)
			continue
		}
		for _, d := range v.codes {
			out = append(out, v.withCode(d))
		}
	}
	return out, true
}

// DirectorServices are the director section's services, and whether the
// file has the section.
func (f *File) DirectorServices() ([]Service, bool) {
	if f.director == nil {
		return nil, false
	}
	return f.director.Services, true
}
