package xtrule

import "strings"

// AppendCommand is the command line that appends the map-mode rule of
// family f, as the CLI shows what it did.
func (r *Rules) AppendCommand(f Family) string {
	return r.Binary(f) + " -t raw -A " + strings.Join(MapRule, " ")
}
