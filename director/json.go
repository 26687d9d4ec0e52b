package director

import (
	"cmp"
	"encoding/json"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// The JSON of 'l3dsr director show -o json': names and units of ipvsadm's
// --stats, a DSCP only for dscp-mode services, managed (l3dsr made the
// service), the persistence netmask as ipvsadm -M writes it (always, the
// full mask or 128 for one address), a tunnel only for tunnel reals, and
// empty lists as [].
type jsonStats struct {
	Connections uint64 `json:"connections"`
	PacketsIn   uint64 `json:"packets_in"`
	PacketsOut  uint64 `json:"packets_out"`
	BytesIn     uint64 `json:"bytes_in"`
	BytesOut    uint64 `json:"bytes_out"`
	CPS         uint64 `json:"cps"`
	PPSIn       uint64 `json:"pps_in"`
	PPSOut      uint64 `json:"pps_out"`
	BPSIn       uint64 `json:"bps_in"`
	BPSOut      uint64 `json:"bps_out"`
}

// jsonTunnel is a tunnel real's encapsulation: "ipip", "gue" or "gre",
// and GUE's UDP port (0 for the others).
type jsonTunnel struct {
	Type     string `json:"type"`
	Port     uint16 `json:"port"`
	Checksum string `json:"checksum"`
}

type jsonReal struct {
	Address        string      `json:"address"`
	Port           uint16      `json:"port"`
	Forward        string      `json:"forward"`
	Tunnel         *jsonTunnel `json:"tunnel"`
	Weight         int32       `json:"weight"`
	UpperThreshold uint32      `json:"upper_threshold"`
	LowerThreshold uint32      `json:"lower_threshold"`
	ActiveConns    uint32      `json:"active_conns"`
	InactiveConns  uint32      `json:"inactive_conns"`
	PersistConns   uint32      `json:"persist_conns"`
	Stats          jsonStats   `json:"stats"`
	Health         string      `json:"health,omitempty"`
}

type jsonService struct {
	Protocol   string     `json:"protocol"`
	VIP        string     `json:"vip"`
	Port       uint16     `json:"port"`
	Mode       string     `json:"mode"`
	Managed    bool       `json:"managed"`
	DSCP       *uint8     `json:"dscp"`
	Scheduler  string     `json:"scheduler"`
	SchedFlags []string   `json:"scheduler_flags"`
	OnePacket  bool       `json:"ops"`
	Persistent uint32     `json:"persistent"`
	Netmask    string     `json:"persistence_netmask"`
	PE         string     `json:"persistence_engine"`
	Stats      jsonStats  `json:"stats"`
	Reals      []jsonReal `json:"reals"`
}

type jsonStatus struct {
	Services []jsonService `json:"services"`
	Problems []string      `json:"problems"`
}

func statsJSON(s ipvs.Stats) jsonStats {
	return jsonStats{s.Connections, s.PacketsIn, s.PacketsOut, s.BytesIn, s.BytesOut, s.CPS, s.PPSIn, s.PPSOut, s.BPSIn, s.BPSOut}
}

// MarshalJSON writes st as 'l3dsr director show -o json' prints it.
func (st Status) MarshalJSON() ([]byte, error) {
	out := jsonStatus{Services: []jsonService{}, Problems: st.Problems}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	for _, s := range st.Services {
		js := jsonService{
			Protocol: s.Proto.String(), VIP: s.VIP.String(), Port: s.Port, Mode: s.Mode.String(), Managed: s.Managed,
			Scheduler: s.Scheduler, SchedFlags: s.SchedFlags.Names(s.Scheduler), OnePacket: s.OnePacket,
			Persistent: s.Persistent, Netmask: FormatNetmask(s.VIP, s.Netmask), PE: s.PE,
			Stats: statsJSON(s.Stats), Reals: []jsonReal{},
		}
		if js.SchedFlags == nil {
			js.SchedFlags = []string{}
		}
		if s.Mode == dsrtypes.ModeDSCP {
			d := s.DSCP
			js.DSCP = &d
		}
		for _, r := range s.Reals {
			jr := jsonReal{
				Address: r.Addr.String(), Port: cmp.Or(r.Port, s.Port), Forward: r.Forward.String(), Weight: r.Weight,
				UpperThreshold: r.UpperThreshold, LowerThreshold: r.LowerThreshold,
				ActiveConns: r.ActiveConns, InactiveConns: r.InactiveConns, PersistConns: r.PersistConns,
				Stats: statsJSON(r.Stats), Health: r.Health,
			}
			if r.Forward == ipvs.Tunnel {
				jr.Tunnel = &jsonTunnel{Type: r.Tunnel.String(), Port: r.TunnelPort, Checksum: cmp.Or(TunnelChecksumName(r.TunnelFlags), "nocsum")}
			}
			js.Reals = append(js.Reals, jr)
		}
		out.Services = append(out.Services, js)
	}
	return json.Marshal(out)
}
