package doctor

import "github.com/l3dsr/l3dsr/config"

// dsrChecked tells whether s has a health check along the DSR path.
// config.Service has no health check yet (issue 16's config change adds
// it): until then no service has one.
func dsrChecked(config.Service) bool { return false }
