package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestExitStatusAndOutput(t *testing.T) {
	version = "9.8.7"
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string
		wantErr    string
	}{
		{"version", []string{"version"}, exitOK, "l3dsr 9.8.7\n", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"unknown flag", []string{"version", "--bogus"}, exitUsage, "", "unknown flag: --bogus"},
		{"extra argument", []string{"version", "extra"}, exitUsage, "", `unknown command "extra" for "l3dsr version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			got := run(tt.args, &out, &errOut)
			if got != tt.wantStatus {
				t.Errorf("exit status = %d, want %d (stderr %q)", got, tt.wantStatus, errOut.String())
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tt.wantErr)
			}
			if tt.wantStatus == exitUsage && !strings.Contains(errOut.String(), "--help' for usage") {
				t.Errorf("stderr = %q, want a usage hint", errOut.String())
			}
		})
	}
}
