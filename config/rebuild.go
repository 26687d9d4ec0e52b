package config

import (
	"fmt"
	"strings"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
)

// checkRebuilds refuses to save the director's services svcs as f when the
// file would build another director: a service whose reals' methods name
// no mode (mixed, or none to read), a persistence engine, or a real on
// another port than its service's, which the file has no words for. Then,
// as a net for whatever else the file cannot say, it reads f back and
// plans it against svcs: any step is an attribute lost on the way.
func checkRebuilds(f *File, svcs []director.Service) error {
	var errs []string
	for _, s := range svcs {
		switch s.Mode {
		case dsrtypes.ModeDSCP, dsrtypes.ModeAddr, dsrtypes.ModeIPIP, dsrtypes.ModeDR, dsrtypes.ModeNAT:
		default:
			errs = append(errs, fmt.Sprintf("service %s: its mode is %s (%s), which the config file has no word for: give its reals one forwarding method with ipvsadm -e, or leave the director out of the file",
				s.Key, s.Mode, methods(s)))
		}
		if s.PE != "" {
			errs = append(errs, fmt.Sprintf("service %s: persistence engine %s (ipvsadm --pe) is not in the config file's words: remove it with ipvsadm -E, or leave the director out of the file", s.Key, s.PE))
		}
		for _, r := range s.Reals {
			if r.Port != 0 {
				errs = append(errs, fmt.Sprintf("service %s: real server %s listens on port %d, and the config file gives a real the service's port (%d): move it to port %d, or leave the director out of the file",
					s.Key, r.Addr, r.Port, s.Port, s.Port))
			}
		}
	}
	if len(errs) == 0 {
		errs = lostOnTheWay(f, svcs)
	}
	if len(errs) > 0 {
		return fmt.Errorf("save refuses to write a file that would build another director:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// methods lists the forwarding methods of s's reals, or says it has none.
func methods(s director.Service) string {
	var out []string
	for _, r := range s.Reals {
		out = append(out, r.Addr.String()+" "+r.Forward.String())
	}
	if len(out) == 0 {
		return "no real server to read a forwarding method from"
	}
	return "reals " + strings.Join(out, ", ")
}

// lostOnTheWay writes f, reads it back, and lists the steps apply would
// take from svcs to it; none when f says all of svcs.
func lostOnTheWay(f *File, svcs []director.Service) []string {
	f, _, err := readBack(f)
	if err != nil {
		return []string{fmt.Sprintf("the file does not read back: %v", err)}
	}
	var lost []string
	if f.director != nil {
		for _, st := range planDirector(f.director, svcs, nil) {
			lost = append(lost, "it would "+st.What)
		}
	}
	return lost
}

// readBack writes f as save does and parses what it wrote.
func readBack(f *File) (*File, []byte, error) {
	out, err := Marshal(f, "")
	if err != nil {
		return nil, nil, err
	}
	back, err := parseFile("the saved file", out)
	return back, out, err
}
