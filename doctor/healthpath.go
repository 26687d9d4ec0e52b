package doctor

import (
	"github.com/l3dsr/l3dsr/config"
	"github.com/l3dsr/l3dsr/health"
)

// dsrChecked tells whether s has a health check along the DSR path (the
// config resolves the default of its mode into Via).
func dsrChecked(s config.Service) bool {
	return s.Health != nil && s.Health.Via == health.ViaDSR
}
