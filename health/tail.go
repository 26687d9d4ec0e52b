package health

import (
	"bytes"
	"strings"
)

// tailSize is how much of a command's stderr is kept: its end, where the
// reason of a failure is.
const tailSize = 4 << 10

// tail is an io.Writer that keeps the last tailSize bytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - tailSize; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// lastLine is the last line that is not blank, trimmed.
func (t *tail) lastLine() string {
	lines := bytes.Split(bytes.TrimRight(t.b, " \t\r\n"), []byte("\n"))
	return strings.TrimSpace(string(lines[len(lines)-1]))
}
