package maptable

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// A FileError is a table file that cannot be read, or whose content is no
// table: the input of whoever named the file, to fix.
type FileError struct {
	// Unreadable: the file could not be read, and Error says why;
	// otherwise Error names the file (or standard input), the entry's line
	// and index, the bad value and the fix.
	Unreadable bool
	msg        string
}

func (e *FileError) Error() string { return e.msg }

// ReadFile reads a table's JSON (the format readTable reads) from the file
// name, or from stdin when name is "-". A failure to read stdin is not a
// FileError: nobody named a wrong file.
func ReadFile(name string, stdin io.Reader) ([]Entry, error) {
	var data []byte
	var err error
	if name == "-" {
		if data, err = io.ReadAll(stdin); err != nil {
			return nil, fmt.Errorf("reading the table from standard input: %w", err)
		}
		name = "standard input"
	} else if data, err = os.ReadFile(name); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &FileError{Unreadable: true, msg: fmt.Sprintf("%s: cannot read it (%v)", name, err)}
	}
	entries, err := readTable(bytes.NewReader(data))
	var te *tableError
	if errors.As(err, &te) {
		return nil, &FileError{msg: te.in(name)}
	}
	return entries, err
}
