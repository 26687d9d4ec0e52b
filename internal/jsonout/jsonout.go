// Package jsonout writes a value as the CLI's -o json prints it: indented
// by two spaces, one value per output.
package jsonout

import (
	"encoding/json"
	"io"
)

// Write writes v to w as indented JSON, ending in a newline.
func Write(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
