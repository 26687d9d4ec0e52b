package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

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
		vips, err := parseDSRTools(dir)
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
// what `l3dsr save --from-dsrtools` prints.
func FromDSRTools(dir string) (*File, error) {
	vips, err := parseDSRTools(dir)
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
